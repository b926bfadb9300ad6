/**
 * The Hugging Face I/O shared by GPT2 and GPT2ForSequenceClassification
 * (gpt2/hf-checkpoint.ts) and the model-directory helpers under it
 * (gpt2/pretrained.ts): both models round-trip through the same code, accept
 * checkpoints in HF's layouts, read a flat parameter block once when saving,
 * and dispose a model whose loading fails.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ReferenceBackend } from '@tessera/core';
import { getBackend, noGrad, ready, setBackend, tensor } from '@tessera/tensor';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CharTokenizer,
  FlatParameters,
  GPT2,
  GPT2ForSequenceClassification,
  Linear,
  StateDictError,
  gpt2CheckpointParams,
  loadModelDirectory,
  normalizeGPT2Keys,
  openSafetensorsFile,
  parametersToSave,
  writeSafetensorsFile,
  type TensorToSave,
} from '../src/index.js';
import { SMALL, ids, randomIds, useTempDir, values } from './helpers.js';

const tmp = useTempDir('tessera-hf-io-');
beforeAll(ready);

/** Rewrites dir/model.safetensors as an older hub checkpoint: no `transformer.` prefix, attention buffers, a tied lm_head. */
async function toHubLayout(dir: string, nLayer: number, P: number): Promise<void> {
  const st = await openSafetensorsFile(join(dir, 'model.safetensors'));
  const tensors: Record<string, TensorToSave> = {};
  for (const name of st.names()) {
    const t = st.get(name);
    tensors[name.replace(/^transformer\./, '')] = { dtype: 'F32', shape: t.shape, data: t.data.slice() };
  }
  for (let i = 0; i < nLayer; i++) {
    tensors[`h.${i}.attn.bias`] = { dtype: 'F32', shape: [1, 1, P, P], data: new Float32Array(P * P).fill(1) };
    tensors[`h.${i}.attn.masked_bias`] = { dtype: 'F32', shape: [], data: new Float32Array([-1e4]) };
  }
  tensors['lm_head.weight'] = { ...tensors['wte.weight'] };
  await writeSafetensorsFile(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
}

describe('shared Hugging Face checkpoint I/O', () => {
  it('GPT2 and GPT2ForSequenceClassification round-trip bit for bit and load the hub layout through the same code', async () => {
    const cfg = { ...SMALL, pad_token_id: 0 };
    const tok = CharTokenizer.fromCorpus('abc def');
    const x = ids(randomIds(2, 7, 64, 3));
    const models = [new GPT2(cfg, { seed: 11 }), new GPT2ForSequenceClassification(cfg, { numLabels: 2, seed: 12 })];
    for (const m of models) {
      const Cls = m instanceof GPT2 ? GPT2 : GPT2ForSequenceClassification;
      const dir = join(tmp(), `rt-${m.typeName}`);
      m.tokenizer = tok;
      await m.savePretrained(dir); // the model's own tokenizer by default
      const cfgJson = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
      expect(cfgJson.architectures).toEqual([m.typeName]);
      const want = noGrad(() => values(m.forward(x)));
      const loaded = await Cls.fromPretrained(dir);
      expect(loaded.tokenizer).toBeInstanceOf(CharTokenizer);
      // The classifier's config also gains id2label / label2id (kept in `extra`).
      expect({ ...loaded.config, extra: null, architectures: null }).toEqual({ ...m.config, extra: null, architectures: null });
      expect(noGrad(() => values(loaded.forward(x)))).toEqual(want);
      loaded.dispose();

      await toHubLayout(dir, 2, 32);
      const hub = await Cls.fromPretrained(dir, { tokenizer: false });
      expect(hub.tokenizer).toBeNull();
      expect(noGrad(() => values(hub.forward(x)))).toEqual(want);
      hub.dispose();

      const bare = join(tmp(), `bare-${m.typeName}`);
      await m.savePretrained(bare, { tokenizer: null });
      expect((await readdir(bare)).sort()).toEqual(['config.json', 'model.safetensors']);
      m.dispose();
    }
  });

  it('normalizeGPT2Keys / gpt2CheckpointParams: prefix added only where the model has it, buffers dropped, lm_head set apart', () => {
    const m = new GPT2(SMALL, { seed: 1 });
    const v = { shape: [1], data: [0] };
    const { params, head } = gpt2CheckpointParams(m, { 'wte.weight': v, 'transformer.wpe.weight': v, 'h.0.attn.bias': v, 'h.1.attn.masked_bias': v, 'lm_head.weight': v, other: v });
    expect([...params.keys()]).toEqual(['transformer.wte.weight', 'transformer.wpe.weight', 'other']);
    expect(head).toBe(v);
    const split = normalizeGPT2Keys(new Map([['a', v], ['x', v]]), (n) => n === 'transformer.a', ['x']);
    expect([...split.params.keys()]).toEqual(['transformer.a']);
    expect([...split.extras.keys()]).toEqual(['x']);
    m.dispose();
  });

  it('parametersToSave reads a flat block once and slices every parameter from it', async () => {
    const m = new GPT2(SMALL, { seed: 2 });
    const named = m.namedParameters();
    const spyBlock = vi.spyOn(m.flat.all, 'data');
    const spyParam = vi.spyOn(named[0][1], 'data');
    const saved = await parametersToSave(named, m.flat);
    expect(spyBlock).toHaveBeenCalledTimes(1);
    expect(spyParam).not.toHaveBeenCalled();
    for (const [name, p] of named) {
      expect(saved[name].shape).toEqual(p.shape);
      expect(Array.from(saved[name].data as Float32Array)).toEqual(values(p));
    }
    // Without the block (or for tensors outside it) each parameter is read on its own, with the same values.
    const alone = await parametersToSave(named);
    for (const [name] of named) expect(alone[name].data).toEqual(saved[name].data);
    spyBlock.mockRestore();
    spyParam.mockRestore();
    m.dispose();
  });

  it('FlatParameters.offsetOf gives each view its place in the block, undefined for a foreign tensor', () => {
    const flat = new FlatParameters({ decay: 6, noDecay: 2 });
    const w = flat.create([2, 3], true);
    const b = flat.create([2], false);
    flat.finish();
    expect(flat.offsetOf(w)).toBe(0);
    expect(flat.offsetOf(b)).toBe(6);
    expect(flat.offsetOf(flat.undecayed)).toBe(6);
    const other = tensor([1, 2]);
    expect(flat.offsetOf(other)).toBeUndefined();
    other.dispose();
    flat.dispose();
  });

  it('loadModelDirectory disposes the model when loading fails', async () => {
    const m = new GPT2(SMALL, { seed: 3 });
    const dir = join(tmp(), 'dispose');
    await m.savePretrained(dir);
    let built: GPT2 | null = null;
    await expect(
      loadModelDirectory(
        dir,
        {},
        () => (built = new GPT2({ ...SMALL, n_layer: 1 }, { init: false })),
        (model, dict) => model.loadStateDict(dict),
      ),
    ).rejects.toBeInstanceOf(StateDictError);
    expect(built).not.toBeNull();
    expect(built!.transformer.wte.weight.isDisposed).toBe(true);
    m.dispose();
  });

  it('loadStateDict keeps float64 host values exactly on the float64 reference backend', async () => {
    const prev = getBackend();
    const be = new ReferenceBackend({ float64: true });
    await setBackend(be);
    try {
      const lin = new Linear(2, 1, { seed: 0 });
      const w = new Float64Array([0.1, 1 / 3]);
      lin.loadStateDict({ weight: { shape: [1, 2], data: w }, bias: { shape: [1], data: [0.2] } });
      const d = lin.weight.dense();
      expect(Array.from(be.readF64(d.storage, d.offset, 2))).toEqual([0.1, 1 / 3]);
      lin.dispose();
    } finally {
      await setBackend(prev);
    }
  });
});
