import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CharTokenizer, FormatError, GPT2, GgufFormatError, MissingFileError, gpt2ToGguf, loadGPT2Tokenizer, quantize, quantizedWeights, type GPT2Tokenizer } from '@tessera/models';
import { manualSeed, ready } from '@tessera/tensor';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelFilesFrom, modelFromFiles, modelToFiles, openModel, zipModel, type ModelFiles } from '../src/model-files.js';

const TEXT = 'Call me Ishmael. Some years ago, never mind how long precisely.';
let dir: string;

beforeAll(async () => {
  await ready();
  dir = await mkdtemp(join(tmpdir(), 'tessera-studio-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function smallModel(vocab: number, seed = 3): GPT2 {
  manualSeed(seed);
  return new GPT2({ vocab_size: vocab, n_positions: 16, n_embd: 16, n_layer: 1, n_head: 2 });
}

async function weightsOf(m: GPT2): Promise<Float32Array> {
  return (await m.flat.all.data()) as Float32Array;
}

async function readDir(path: string): Promise<ModelFiles> {
  const files: ModelFiles = new Map();
  for (const name of await readdir(path)) files.set(name, new Uint8Array(await readFile(join(path, name))));
  return files;
}

describe('model files', () => {
  it('a zip round trip gives the same weights, tokenizer and greedy tokens', async () => {
    const tok = CharTokenizer.fromCorpus(TEXT);
    const m = smallModel(tok.vocabSize);
    const zip = zipModel(await modelToFiles(m, tok));
    const { model: back, tokenizer } = modelFromFiles(modelFilesFrom(zip, 'model.zip'), 'model.zip');
    try {
      expect(tokenizer).toBeInstanceOf(CharTokenizer);
      expect(tokenizer!.encode(TEXT)).toEqual(tok.encode(TEXT));
      expect(await weightsOf(back)).toEqual(await weightsOf(m));
      const prompt = tok.encode('Call ');
      expect(await back.generate(prompt, { maxNewTokens: 12, temperature: 0, stopTokens: [] })).toEqual(await m.generate(prompt, { maxNewTokens: 12, temperature: 0, stopTokens: [] }));
    } finally {
      m.dispose();
      back.dispose();
    }
  });

  it('writes what savePretrained writes: the same files, byte for byte, and the CLI opens them', async () => {
    const tok = CharTokenizer.fromCorpus(TEXT);
    const m = smallModel(tok.vocabSize, 5);
    const saved = join(dir, 'node');
    await m.savePretrained(saved, { tokenizer: tok });
    const fromNode = await readDir(saved);
    const mine = await modelToFiles(m, tok);
    expect([...mine.keys()].sort()).toEqual([...fromNode.keys()].sort());
    for (const [name, bytes] of mine) expect(Buffer.from(bytes).equals(Buffer.from(fromNode.get(name)!)), name).toBe(true);

    // The reverse: files made here, written as a directory, open with GPT2.fromPretrained.
    const written = join(dir, 'page');
    await rm(written, { recursive: true, force: true });
    await import('node:fs/promises').then((fs) => fs.mkdir(written));
    for (const [name, bytes] of mine) await writeFile(join(written, name), bytes);
    const back = await GPT2.fromPretrained(written);
    try {
      expect(await weightsOf(back)).toEqual(await weightsOf(m));
      expect(back.tokenizer!.decode(back.tokenizer!.encode(TEXT))).toBe(TEXT);
    } finally {
      back.dispose();
      m.dispose();
    }
  });

  it('opens a directory picked with its folder name (run/config.json, ...) and a zip of its parent', async () => {
    const tok = CharTokenizer.fromCorpus(TEXT);
    const m = smallModel(tok.vocabSize);
    const files = await modelToFiles(m, tok);
    const picked = new Map([...files].map(([n, b]) => [`run/${n}`, b]));
    picked.set('run/loss.svg', new Uint8Array([60, 47, 62]));
    picked.set('run/step-100/config.json', new Uint8Array([123, 125]));
    const opened = modelFilesFrom(picked, 'run');
    expect([...opened.keys()].sort()).toEqual([...files.keys(), 'loss.svg'].sort());
    const nested = zipSync(Object.fromEntries([...files].map(([n, b]) => [`checkpoints/run/${n}`, b])));
    expect([...modelFilesFrom(nested, 'checkpoints.zip').keys()].sort()).toEqual([...files.keys()].sort());
    m.dispose();
  });

  it('keeps a GPT-2 BPE tokenizer as vocab.json + merges.txt', async () => {
    const tok = await loadGPT2Tokenizer();
    const m = smallModel(tok.vocabSize);
    const files = await modelToFiles(m, tok);
    expect([...files.keys()].sort()).toEqual(['config.json', 'merges.txt', 'model.safetensors', 'vocab.json']);
    const { model: back, tokenizer } = modelFromFiles(files, 'gpt2');
    expect(tokenizer!.encode('Hello, whale!')).toEqual(tok.encode('Hello, whale!'));
    back.dispose();
    m.dispose();
  });

  it('refuses what is not a model with errors that name the source and what is wrong', async () => {
    expect(() => modelFilesFrom(new Uint8Array([1, 2, 3, 4]), 'notes.zip')).toThrow(FormatError);
    expect(() => modelFilesFrom(new Uint8Array([1, 2, 3, 4]), 'notes.zip')).toThrow(/^notes.zip is not a zip file/);
    const onlyConfig: ModelFiles = new Map([['config.json', new TextEncoder().encode('{}')]]);
    expect(() => modelFromFiles(onlyConfig, 'my-dir')).toThrow(MissingFileError);
    expect(() => modelFromFiles(onlyConfig, 'my-dir')).toThrow(/^my-dir lacks model.safetensors .*it has config.json/);
    expect(() => modelFromFiles(new Map(), 'empty.zip')).toThrow(/lacks config.json and model.safetensors .*it is empty/);
    const tok = CharTokenizer.fromCorpus(TEXT);
    const m = smallModel(tok.vocabSize);
    const files = await modelToFiles(m, tok);
    m.dispose();
    files.set('config.json', new TextEncoder().encode('[1, 2]'));
    expect(() => modelFromFiles(files, 'x')).toThrow(/^x\/config.json must hold a JSON object/);
    files.set('config.json', new TextEncoder().encode('{"n_embd": '));
    expect(() => modelFromFiles(files, 'x')).toThrow(FormatError);
    const big = await modelToFiles(smallModel(tok.vocabSize), CharTokenizer.fromCorpus(`${TEXT}XYZQ`));
    expect(() => modelFromFiles(big, 'y')).toThrow(/^y: the tokenizer has \d+ ids but config.json's vocab_size is \d+/);
    const noVocab = await modelToFiles(smallModel(50257), await loadGPT2Tokenizer());
    noVocab.delete('vocab.json');
    expect(() => modelFromFiles(noVocab, 'z')).toThrow(/^z has merges.txt but no vocab.json/);
  });
});

/** A GPT-2 whose matrices (k = 32 or 128) fit 32-value quantization groups. */
function quantizableModel(vocab: number, seed: number): GPT2 {
  manualSeed(seed);
  return new GPT2({ vocab_size: vocab, n_positions: 32, n_embd: 32, n_layer: 2, n_head: 2 });
}

const GREEDY = { maxNewTokens: 16, temperature: 0, stopTokens: [] };

/** The int bits and group size of every quantized weight, by name. */
const quantization = (m: GPT2): Record<string, string> => Object.fromEntries([...quantizedWeights(m)].map(([n, { weight }]) => [n, `int${weight.bits}/g${weight.groupSize}`]));

describe('quantized models', () => {
  for (const bits of [8, 4] as const) {
    it(`an int${bits} directory written by savePretrained opens through the page's loader, quantized, with the same greedy tokens`, async () => {
      const tok = CharTokenizer.fromCorpus(TEXT);
      const m = await quantize(quantizableModel(tok.vocabSize, 11), { bits, groupSize: 32 });
      const saved = join(dir, `q${bits}`);
      await m.savePretrained(saved, { tokenizer: tok });
      // As the directory input gives them: paths under the folder's name, plus a file that is not the model's.
      const picked = new Map([...(await readDir(saved))].map(([n, b]) => [`q${bits}/${n}`, b]));
      picked.set(`q${bits}/trainer_state.json`, new TextEncoder().encode('{}'));
      const { model: back, tokenizer } = openModel(picked, `q${bits}`);
      try {
        expect(Object.keys(quantization(back)).length).toBe(2 * 4 + 1); // per block c_attn, c_proj, c_fc, mlp c_proj; the tied wte
        expect(quantization(back)).toEqual(quantization(m));
        const prompt = tok.encode('Call ');
        const want = await m.generate(prompt, GREEDY);
        expect(await back.generate(prompt, GREEDY)).toEqual(want);
        expect(tokenizer!.decode(want)).toBe(tok.decode(want));
        // Saving it again from the page keeps it quantized: savePretrained's bytes, and a zip that reopens quantized.
        const files = await modelToFiles(back, tokenizer);
        const fromNode = await readDir(saved);
        expect([...files.keys()].sort()).toEqual([...fromNode.keys()].sort());
        for (const [name, bytes] of files) expect(Buffer.from(bytes).equals(Buffer.from(fromNode.get(name)!)), name).toBe(true);
        const { model: again } = openModel(new Map([['model.zip', zipModel(files)]]), 'model.zip');
        expect(quantization(again)).toEqual(quantization(m));
        expect(await again.generate(prompt, GREEDY)).toEqual(want);
        again.dispose();
      } finally {
        m.dispose();
        back.dispose();
      }
    });
  }

  for (const type of ['Q8_0', 'Q4_0'] as const) {
    it(`a ${type} GGUF file opens through the page's loader with its tokenizer and the in-process model's greedy tokens`, async () => {
      const tok: GPT2Tokenizer = await loadGPT2Tokenizer();
      const m = await quantize(quantizableModel(tok.vocabSize, 13), { bits: type === 'Q8_0' ? 8 : 4, groupSize: 32, f16Scales: true });
      const bytes = await gpt2ToGguf(m, { tokenizer: tok });
      const { model: back, tokenizer } = openModel(new Map([[`tiny.${type}.gguf`, bytes]]), `tiny.${type}.gguf`);
      try {
        expect(quantization(back)).toEqual(quantization(m));
        const prompt = tok.encode('The whale ');
        expect(tokenizer!.encode('The whale ')).toEqual(prompt);
        const want = await m.generate(prompt, GREEDY);
        expect(await back.generate(prompt, GREEDY)).toEqual(want);
        // A GGUF model saves as a quantized directory (int, groups of 32) that reopens to the same tokens.
        const { model: saved } = modelFromFiles(await modelToFiles(back, tokenizer), 'saved');
        expect(quantization(saved)).toEqual(quantization(m));
        expect(await saved.generate(prompt, GREEDY)).toEqual(want);
        saved.dispose();
      } finally {
        m.dispose();
        back.dispose();
      }
    });
  }

  it('bad quantized files are refused naming the source and what is wrong', async () => {
    const tok = CharTokenizer.fromCorpus(TEXT);
    const m = await quantize(quantizableModel(tok.vocabSize, 17), { bits: 8 });
    const files = await modelToFiles(m, tok);
    m.dispose();
    const config = JSON.parse(new TextDecoder().decode(files.get('config.json')));
    files.set('config.json', new TextEncoder().encode(JSON.stringify({ ...config, quantization_config: { ...config.quantization_config, bits: 3 } })));
    expect(() => modelFromFiles(files, 'q')).toThrow(FormatError);
    expect(() => modelFromFiles(files, 'q')).toThrow(/^q\/config.json: quantization_config.bits is 3; the format has 8 and 4/);
    const junk = new Map([['broken.gguf', new Uint8Array([71, 71, 85, 70, 9, 0, 0, 0])]]);
    expect(() => openModel(junk, 'broken.gguf')).toThrow(GgufFormatError);
    expect(() => openModel(junk, 'broken.gguf')).toThrow(/^broken.gguf: /);
  });
});
