/**
 * Bad inputs to the models package (reliability issue, classes 2 and 3): each
 * is refused with a typed TesseraError naming the value, type, key or path,
 * never a raw TypeError / ENOENT / stack overflow, and never accepted silently.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArgumentError, DTypeError } from '@tessera/core';
import { memory, ready } from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CharTokenizer,
  ConfigError,
  FileError,
  GPT2,
  GPT2ForSequenceClassification,
  GPT2Tokenizer,
  Module,
  StateDictError,
  TokenizerError,
  openSafetensorsFile,
  readSafetensorsFile,
  writeSafetensorsFile,
  type TensorToSave,
} from '../src/index.js';
import { SMALL, useTempDir } from './helpers.js';

const tmp = useTempDir('tessera-bad-input-');
beforeAll(async () => {
  await ready();
});

describe('tokenizers', () => {
  it('encode refuses a non-string with a TokenizerError naming its type', async () => {
    const char = CharTokenizer.fromCorpus('abc');
    const gpt2 = GPT2Tokenizer.fromTokenizerJson(JSON.parse(await readFile(join(import.meta.dirname, 'fixtures/hf-tiny-gpt2/tokenizer.json'), 'utf8')));
    for (const tok of [char, gpt2]) {
      expect(() => tok.encode(42 as never)).toThrow(TokenizerError);
      expect(() => tok.encode(42 as never)).toThrow('encode: text must be a string, got a number');
      expect(() => tok.encode(null as never)).toThrow('got null');
      expect(() => tok.encode(undefined as never)).toThrow('got a undefined');
      expect(() => tok.encode(['a'] as never)).toThrow('got an array');
      expect(() => tok.encode(new Uint8Array(2) as never)).toThrow('got an object (Uint8Array)');
    }
  });
});

describe('safetensors files', () => {
  it('a missing path or a directory is a FileError naming the path, not a bare ENOENT / EISDIR', async () => {
    const missing = join(tmp(), 'nope.safetensors');
    await expect(openSafetensorsFile(missing)).rejects.toBeInstanceOf(FileError);
    await expect(openSafetensorsFile(missing)).rejects.toThrow(`safetensors file ${JSON.stringify(missing)} does not exist`);
    await expect(readSafetensorsFile(missing)).rejects.toMatchObject({ path: missing, code: 'ENOENT' });
    const dir = join(tmp(), 'a-dir.safetensors');
    await mkdir(dir);
    await expect(openSafetensorsFile(dir)).rejects.toThrow(`safetensors file ${JSON.stringify(dir)} is a directory, not a file`);
    await expect(openSafetensorsFile(dir)).rejects.toMatchObject({ code: 'EISDIR' });
  });
});

describe('configs that cannot fit', () => {
  it('fail before allocating with a ConfigError naming the key that makes them too large', () => {
    const before = memory();
    const t0 = performance.now();
    expect(() => new GPT2({ n_layer: 100_000 })).toThrow(ConfigError);
    expect(() => new GPT2({ n_layer: 100_000 })).toThrow(
      /GPT2: n_layer = 100000 makes the model too large: 708826585344 parameters need 2835306341376 bytes as f32, past the backend's 4294967296-byte limit/,
    );
    expect(() => new GPT2({ n_embd: 49_152, n_head: 12 })).toThrow(/GPT2: n_embd = 49152 makes the model too large/);
    expect(() => new GPT2({ ...SMALL, vocab_size: 2 ** 30 })).toThrow(/GPT2: vocab_size = 1073741824 makes the model too large/);
    expect(() => new GPT2ForSequenceClassification({ ...SMALL, n_inner: 2 ** 27, n_layer: 4 })).toThrow(/GPT2ForSequenceClassification: n_inner = 134217728/);
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(memory()).toEqual(before);
  });

  it('fromPretrained refuses such a config.json the same way', async () => {
    const dir = join(tmp(), 'huge');
    const m = new GPT2(SMALL, { seed: 1 });
    await m.savePretrained(dir);
    m.dispose();
    const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...cfg, n_layer: 50_000, n_embd: 768, n_head: 12 }));
    await expect(GPT2.fromPretrained(dir)).rejects.toThrow(/n_layer = 50000/);
  });

  it('listing the modules of a very deep model does not overflow the stack', () => {
    class Deep extends Module {
      constructor(n: number) {
        super();
        for (let i = 0; i < n; i++) this.registerModule(`m${i}`, new Module());
      }
    }
    class Top extends Module {
      constructor() {
        super();
        this.registerModule('body', new Deep(300_000));
      }
    }
    expect(new Top().namedModules()).toHaveLength(300_002);
  });
});

/** A small GPT-2 saved to `tmp()/name`, and its weights as they are in the file (to write back altered). */
async function savedModel(name: string, seed: number): Promise<{ dir: string; tensors: Record<string, TensorToSave> }> {
  const dir = join(tmp(), name);
  const m = new GPT2(SMALL, { seed });
  await m.savePretrained(dir);
  m.dispose();
  const st = await openSafetensorsFile(join(dir, 'model.safetensors'));
  const tensors: Record<string, TensorToSave> = {};
  for (const n of st.names()) {
    const t = st.get(n);
    tensors[n] = { dtype: 'F32', shape: t.shape, data: t.data };
  }
  return { dir, tensors };
}

describe('silently accepted inputs', () => {
  it('generate refuses string or non-integer stopTokens, naming the value', async () => {
    const m = new GPT2(SMALL, { seed: 2 });
    await expect(m.generate([1, 2], { maxNewTokens: 2, stopTokens: '12' as never })).rejects.toThrow(ArgumentError);
    await expect(m.generate([1, 2], { maxNewTokens: 2, stopTokens: '12' as never })).rejects.toThrow('generate: stopTokens must be an array (or iterable) of token ids, got "12"');
    await expect(m.generate([1, 2], { maxNewTokens: 2, stopTokens: [3, 1.5] })).rejects.toThrow('stopTokens[1] is 1.5, not an id in [0, 64)');
    await expect(m.generate([1, 2], { maxNewTokens: 2, stopTokens: ['3'] as never })).rejects.toThrow('stopTokens[0] is "3"');
    await expect(m.generate([1, 2], { maxNewTokens: 2, stopTokens: [64] })).rejects.toThrow('stopTokens[0] is 64');
    await expect(m.generate([1, 2], { maxNewTokens: 2, stopTokens: 7 as never })).rejects.toThrow('got 7');
    expect(await m.generate([1, 2], { maxNewTokens: 2, stopTokens: new Set([5]), greedy: true })).toHaveLength(2);
    m.dispose();
  });

  it('fromPretrained refuses I32 and BOOL weights where F32 is expected, naming the tensor', async () => {
    const { dir, tensors: base } = await savedModel('dtypes', 3);
    const key = 'transformer.h.1.ln_2.bias';
    const n = base[key].data.length;
    for (const [dtype, data] of [
      ['I32', new Int32Array(n).fill(1)],
      ['BOOL', new Uint8Array(n).fill(1)],
    ] as const) {
      await writeSafetensorsFile(join(dir, 'model.safetensors'), { ...base, [key]: { dtype, shape: base[key].shape, data } }, { format: 'pt' });
      const before = memory();
      await expect(GPT2.fromPretrained(dir)).rejects.toThrow(DTypeError);
      await expect(GPT2.fromPretrained(dir)).rejects.toThrow(`loadStateDict: "${key}" has dtype i32 (${dtype} in the file); parameters are f32`);
      expect(memory().numTensors).toBe(before.numTensors);
    }
  });

  it('a parameter given twice, with and without the transformer. prefix, is refused naming both keys', async () => {
    const { dir, tensors } = await savedModel('twice', 6);
    const other = Float32Array.from(tensors['transformer.wte.weight'].data as Float32Array, (v) => v + 1);
    tensors['wte.weight'] = { dtype: 'F32', shape: tensors['transformer.wte.weight'].shape, data: other };
    await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
    await expect(GPT2.fromPretrained(dir)).rejects.toBeInstanceOf(StateDictError);
    await expect(GPT2.fromPretrained(dir)).rejects.toThrow('the checkpoint gives the parameter "transformer.wte.weight" twice, as "transformer.wte.weight" and as "wte.weight"; keep one');
  });

  it('loadStateDict refuses an Int32Array of values for an f32 parameter', () => {
    const m = new GPT2(SMALL, { seed: 4 });
    const sd = new Map(m.namedParameters().map(([k, p]) => [k, { shape: p.shape, data: new Float32Array(p.size) }] as const));
    const key = 'transformer.ln_f.weight';
    const p = sd.get(key)!;
    expect(() => m.loadStateDict(new Map([...sd, [key, { shape: p.shape, data: new Int32Array(p.data.length) }]]))).toThrow(`"${key}" has dtype Int32Array; parameters are f32`);
    m.dispose();
  });

  it('fromPretrained refuses a tokenizer with more ids than vocab_size, naming both numbers', async () => {
    const dir = join(tmp(), 'vocab');
    const m = new GPT2({ ...SMALL, vocab_size: 8 }, { seed: 5 });
    await m.savePretrained(dir, { tokenizer: CharTokenizer.fromCorpus('abcdefghijklmnop') });
    m.dispose();
    await expect(GPT2.fromPretrained(dir)).rejects.toThrow(ConfigError);
    await expect(GPT2.fromPretrained(dir)).rejects.toThrow(/the tokenizer has 16 ids but config.json's vocab_size is 8/);
    const ok = await GPT2.fromPretrained(dir, { tokenizer: false });
    expect(ok.tokenizer).toBeNull();
    ok.dispose();
  });
});
