/**
 * Hugging Face model directories: savePretrained -> fromPretrained is exact,
 * files have HF's names, shapes and metadata, HF checkpoints load as they
 * are (prefix-less names, attention buffers, a tied lm_head), and bad
 * directories fail with typed errors.
 */
import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArgumentError } from '@tessera/core';
import { noGrad, ready } from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CharTokenizer,
  ConfigError,
  GPT2,
  GPT2ForSequenceClassification,
  MissingFileError,
  StateDictError,
  gpt2PretrainedTensors,
  openSafetensors,
  openSafetensorsFile,
  serializeSafetensors,
  writeSafetensorsFile,
  type TensorToSave,
} from '../src/index.js';
import { SMALL, ids, randomIds, useTempDir, values } from './helpers.js';

const tmp = useTempDir('tessera-models-');
beforeAll(async () => {
  await ready();
});

/** HF GPT-2 state-dict keys and shapes for n_layer layers (GPT2LMHeadModel.save_pretrained omits the tied lm_head). */
function hfKeys(nLayer: number, C: number, V: number, P: number): [string, number[]][] {
  const out: [string, number[]][] = [
    ['transformer.wte.weight', [V, C]],
    ['transformer.wpe.weight', [P, C]],
    ['transformer.ln_f.weight', [C]],
    ['transformer.ln_f.bias', [C]],
  ];
  for (let i = 0; i < nLayer; i++) {
    const h = `transformer.h.${i}`;
    out.push(
      [`${h}.ln_1.weight`, [C]],
      [`${h}.ln_1.bias`, [C]],
      [`${h}.attn.c_attn.weight`, [C, 3 * C]],
      [`${h}.attn.c_attn.bias`, [3 * C]],
      [`${h}.attn.c_proj.weight`, [C, C]],
      [`${h}.attn.c_proj.bias`, [C]],
      [`${h}.ln_2.weight`, [C]],
      [`${h}.ln_2.bias`, [C]],
      [`${h}.mlp.c_fc.weight`, [C, 4 * C]],
      [`${h}.mlp.c_fc.bias`, [4 * C]],
      [`${h}.mlp.c_proj.weight`, [4 * C, C]],
      [`${h}.mlp.c_proj.bias`, [C]],
    );
  }
  return out.sort(([a], [b]) => (a < b ? -1 : 1));
}

describe('savePretrained / fromPretrained', () => {
  it('round-trips bit-exactly, with the same config and tokenizer', async () => {
    const m = new GPT2(SMALL, { seed: 1 });
    const tok = CharTokenizer.fromCorpus('abcdefghij klmnop');
    const dir = join(tmp(), 'lm');
    await m.savePretrained(dir, { tokenizer: tok });
    const loaded = await GPT2.fromPretrained(dir);
    expect(loaded.config).toEqual(m.config);
    const x = ids(randomIds(2, 10, 64, 1));
    expect(values(loaded.forward(x))).toEqual(values(m.forward(x)));
    expect(loaded.tokenizer).toBeInstanceOf(CharTokenizer);
    expect(loaded.tokenizer!.encode('bad cafe')).toEqual(tok.encode('bad cafe'));
    expect((await readdir(dir)).sort()).toEqual(['char_tokenizer.json', 'config.json', 'model.safetensors']);

    // Saving again over the directory replaces the files and leaves no temporary behind.
    await loaded.savePretrained(dir);
    expect((await readdir(dir)).sort()).toEqual(['char_tokenizer.json', 'config.json', 'model.safetensors']);
    m.dispose();
    loaded.dispose();
  });

  it("writes Hugging Face's file layout: keys, shapes, F32, format metadata, config.json keys", async () => {
    const m = new GPT2(SMALL, { seed: 2 });
    const dir = join(tmp(), 'layout');
    await m.savePretrained(dir);
    const st = await openSafetensorsFile(join(dir, 'model.safetensors'));
    expect(st.metadata).toEqual({ format: 'pt' });
    const got = st
      .names()
      .map((n) => [n, [...st.entry(n).shape]] as [string, number[]])
      .sort(([a], [b]) => (a < b ? -1 : 1));
    expect(got).toEqual(hfKeys(2, 32, 64, 32));
    expect(st.names().every((n) => st.entry(n).dtype === 'F32')).toBe(true);
    const wte = st.get('transformer.wte.weight');
    expect(Array.from(wte.data)).toEqual(values(m.transformer.wte.weight));

    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(config).toEqual({
      vocab_size: 64,
      n_positions: 32,
      n_embd: 32,
      n_layer: 2,
      n_head: 2,
      layer_norm_epsilon: 1e-5,
      n_inner: null,
      activation_function: 'gelu_new',
      resid_pdrop: 0,
      embd_pdrop: 0,
      attn_pdrop: 0,
      initializer_range: 0.02,
      model_type: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      bos_token_id: 63,
      eos_token_id: 63,
    });
    m.dispose();
  });

  it('loads checkpoints as Hugging Face writes them: no prefix, attention buffers, tied lm_head, F16', async () => {
    const m = new GPT2(SMALL, { seed: 3 });
    const dir = join(tmp(), 'hf');
    await m.savePretrained(dir);
    const st = await openSafetensorsFile(join(dir, 'model.safetensors'));
    const tensors: Record<string, TensorToSave> = {};
    for (const name of st.names()) {
      const t = st.get(name);
      tensors[name.replace(/^transformer\./, '')] = { dtype: 'F32', shape: t.shape, data: t.data };
    }
    for (let i = 0; i < 2; i++) {
      tensors[`h.${i}.attn.bias`] = { dtype: 'F32', shape: [1, 1, 32, 32], data: new Float32Array(32 * 32).fill(1) };
      tensors[`h.${i}.attn.masked_bias`] = { dtype: 'F32', shape: [], data: new Float32Array([-1e4]) };
    }
    tensors['lm_head.weight'] = { ...tensors['wte.weight'] };
    await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
    const loaded = await GPT2.fromPretrained(dir);
    const x = ids(randomIds(1, 9, 64, 2));
    expect(values(loaded.forward(x))).toEqual(values(m.forward(x)));
    loaded.dispose();

    // An untied head cannot be represented.
    const wrong = new Float32Array(tensors['wte.weight'].data as Float32Array);
    wrong[5] += 1;
    tensors['lm_head.weight'] = { dtype: 'F32', shape: [64, 32], data: wrong };
    await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors);
    await expect(GPT2.fromPretrained(dir)).rejects.toThrow(/lm_head.weight differs from transformer.wte.weight/);
    await expect(GPT2.fromPretrained(dir)).rejects.toBeInstanceOf(StateDictError);

    // Half-precision weights are widened to f32 on load.
    delete tensors['lm_head.weight'];
    for (const k of Object.keys(tensors)) tensors[k] = { ...tensors[k], dtype: 'F16' };
    await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors);
    const half = await GPT2.fromPretrained(dir);
    const a = values(half.forward(x));
    const b = values(m.forward(x));
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThan(1e-2);
    half.dispose();
    m.dispose();
  });

  it('fails with typed errors on incomplete or inconsistent directories', async () => {
    const dir = join(tmp(), 'bad');
    const m = new GPT2(SMALL, { seed: 4 });
    await m.savePretrained(dir);
    await rm(join(dir, 'model.safetensors'));
    await expect(GPT2.fromPretrained(dir)).rejects.toBeInstanceOf(MissingFileError);
    await m.savePretrained(dir);
    const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...cfg, n_head: 5 }));
    await expect(GPT2.fromPretrained(dir)).rejects.toBeInstanceOf(ConfigError);
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...cfg, n_layer: 3 }));
    // The layer count is checked against the weights before the model is built.
    await expect(GPT2.fromPretrained(dir)).rejects.toThrow(/config\.json n_layer = 3 but model\.safetensors holds 2 layer\(s\)/);
    m.dispose();
  });

  it('GPT2ForSequenceClassification saves with score.weight and fine-tunes from a language-model directory', async () => {
    const lm = new GPT2({ ...SMALL, pad_token_id: 0 }, { seed: 5 });
    const lmDir = join(tmp(), 'lm-for-clf');
    await lm.savePretrained(lmDir);
    const clf = await GPT2ForSequenceClassification.fromPretrained(lmDir, { numLabels: 3, seed: 1 });
    expect(values(clf.transformer.wte.weight)).toEqual(values(lm.transformer.wte.weight));
    expect(clf.score.weight.shape).toEqual([3, 32]);
    const dir = join(tmp(), 'clf');
    await clf.savePretrained(dir);
    const st = await openSafetensorsFile(join(dir, 'model.safetensors'));
    expect(st.entry('score.weight').shape).toEqual([3, 32]);
    expect(st.has('score.bias')).toBe(false);
    const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(cfg.architectures).toEqual(['GPT2ForSequenceClassification']);
    expect(cfg.id2label).toEqual({ 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' });
    expect(cfg.pad_token_id).toBe(0);
    const again = await GPT2ForSequenceClassification.fromPretrained(dir);
    expect(again.numLabels).toBe(3);
    const x = ids([[5, 6, 7, 0, 0]]);
    noGrad(() => expect(values(again.forward(x))).toEqual(values(clf.forward(x))));
    for (const m of [lm, clf, again]) m.dispose();
  });
});

describe('GPT2.fromFiles (model files in memory, any runtime)', () => {
  it('builds from gpt2PretrainedTensors what fromPretrained builds from the directory, and refuses what is not files', async () => {
    const m = new GPT2(SMALL, { seed: 21 });
    const dir = join(tmp(), 'mem');
    await m.savePretrained(dir, { tokenizer: null });
    const { config, tensors } = await gpt2PretrainedTensors(m, 'GPT2LMHeadModel');
    const bytes = serializeSafetensors(tensors, { format: 'pt' });
    expect(Buffer.from(bytes).equals(await readFile(join(dir, 'model.safetensors')))).toBe(true);
    const back = GPT2.fromFiles({ config, weights: openSafetensors(bytes), tokenizer: null });
    const disk = await GPT2.fromPretrained(dir);
    try {
      expect(back.tokenizer).toBeNull();
      expect(await back.flat.all.data()).toEqual(await disk.flat.all.data());
      expect(back.config).toEqual(disk.config);
      const bad = (files: unknown) => () => GPT2.fromFiles(files as Parameters<typeof GPT2.fromFiles>[0], { label: 'mem', config: 'mem/config.json', weights: 'mem/model.safetensors' });
      expect(bad({ config: [1], weights: openSafetensors(bytes), tokenizer: null })).toThrow(ArgumentError);
      expect(bad({ config: null, weights: openSafetensors(bytes), tokenizer: null })).toThrow(/^mem: the config must be config.json's object, got null/);
      expect(bad({ config, weights: bytes, tokenizer: null })).toThrow(/^mem: the weights must be an opened model.safetensors/);
      expect(bad({ config: { ...config, n_layer: 3 }, weights: openSafetensors(bytes), tokenizer: null })).toThrow(ConfigError);
      expect(bad({ config: { ...config, n_layer: 3 }, weights: openSafetensors(bytes), tokenizer: null })).toThrow(/^mem: config.json n_layer = 3 but model.safetensors holds 2 layer/);
    } finally {
      m.dispose();
      back.dispose();
      disk.dispose();
    }
  });
});
