// Quantized checkpoints in the Hugging Face layout (src/quant/checkpoint.ts): a quantized
// GPT-2 / classifier saved with savePretrained loads quantized with the same packed values
// and scales and the same logits bit for bit, without allocating its f32 weights (memory
// after loading is the f32 rest plus the quantized copies); config.json and the tensors
// follow the documented names, dtypes and shapes; inconsistent files are FormatErrors naming
// the tensor or key.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createWasmBackend } from '@tessera/core';
import { memory, noGrad, setBackend, type Tensor } from '@tessera/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, GPT2, GPT2ForSequenceClassification, TransformerEncoderClassifier, openSafetensorsFile, quantize, quantizedBytes, quantizedWeights, serializeSafetensors, openSafetensors, type TensorToSave } from '../src/index.js';
import { SMALL, ids, randomIds, useTempDir, values } from './helpers.js';

const tmp = useTempDir('tessera-qckpt-');

/** The values of `t`, which is then freed: the last test counts every live byte, so none may wait for the garbage collector. */
function read(t: Tensor): number[] {
  const v = values(t);
  t.dispose();
  return v;
}

describe('quantized checkpoints (wasm backend)', () => {
  beforeAll(async () => {
    await setBackend(await createWasmBackend());
  });
  afterAll(async () => {
    await setBackend('reference');
  });

  for (const [bits, groupSize, activations] of [[8, 32, 'f32'], [4, 32, 'f32'], [4, 64, 'f32'], [4, 32, 'int8']] as const) {
    it(`GPT-2 int${bits} group ${groupSize} ${activations} activations: save, load, same packed values, scales, activations and logits; no f32 weight allocated`, async () => {
      const config = { ...SMALL, n_embd: groupSize === 64 ? 64 : 32 };
      const model = await quantize(new GPT2(config, { seed: 3 }), { bits, groupSize, activations });
      const dir = join(tmp(), `gpt2-q${bits}-${groupSize}`);
      await model.savePretrained(dir, { tokenizer: null });
      const json = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
      expect(json.quantization_config).toEqual({
        quant_method: 'tessera',
        format: 'tessera-symmetric-groupwise-v1',
        bits,
        group_size: groupSize,
        symmetric: true,
        activations,
        quantized_weights: [...quantizedWeights(model).keys()],
      });
      expect(json.quantization_config.quantized_weights).toContain('transformer.wte.weight');
      const st = await openSafetensorsFile(join(dir, 'model.safetensors'));
      const c = config.n_embd;
      // Conv1D c_attn is [C, 3C] in f32 and stored output-major [3C, C].
      expect(st.entry('transformer.h.0.attn.c_attn.weight')).toMatchObject({ dtype: bits === 8 ? 'I8' : 'U8', shape: [3 * c, bits === 8 ? c : c / 2] });
      expect(st.entry('transformer.h.0.attn.c_attn.weight_scale')).toMatchObject({ dtype: 'F32', shape: [3 * c, c / groupSize] });
      expect(st.entry('transformer.wpe.weight')).toMatchObject({ dtype: 'F32', shape: [SMALL.n_positions, c] });

      const before = memory().numBytes;
      const loaded = await GPT2.fromPretrained(dir, { tokenizer: false });
      // Exactly the f32 rest (one block) and the quantized copies: no f32 weight was ever kept.
      const rest = loaded.namedParameters().reduce((a, [, p]) => a + p.size, 0);
      expect(loaded.flat.size).toBe(rest);
      expect(memory().numBytes - before).toBe(rest * 4 + quantizedBytes(loaded).quantized);
      const a = quantizedWeights(model);
      const b = quantizedWeights(loaded);
      expect([...b.keys()]).toEqual([...a.keys()]);
      for (const [name, { weight }] of a) {
        const other = b.get(name)!.weight;
        expect([other.bits, other.groupSize, other.n, other.k, other.activations]).toEqual([weight.bits, weight.groupSize, weight.n, weight.k, activations]);
        expect(Array.from(other.q.dataSync()), name).toEqual(Array.from(weight.q.dataSync()));
        expect(Array.from(other.scales.dataSync()), name).toEqual(Array.from(weight.scales.dataSync()));
      }
      const x = ids(randomIds(2, 9, 64, 4));
      expect(read(noGrad(() => loaded.forward(x)))).toEqual(read(noGrad(() => model.forward(x))));
      const prompt = [1, 2, 3];
      expect(await loaded.generate(prompt, { maxNewTokens: 8, temperature: 0 })).toEqual(await model.generate(prompt, { maxNewTokens: 8, temperature: 0 }));
      x.dispose();
      model.dispose();
      loaded.dispose();
    });
  }

  it('a quantized sequence classifier (score quantized too) round-trips with the same logits', async () => {
    const clf = await quantize(new GPT2ForSequenceClassification({ ...SMALL, pad_token_id: 0 }, { numLabels: 32, seed: 1 }), { bits: 8 });
    expect(quantizedWeights(clf).has('score.weight')).toBe(true);
    const dir = join(tmp(), 'clf-q8');
    await clf.savePretrained(dir, { tokenizer: null });
    const loaded = await GPT2ForSequenceClassification.fromPretrained(dir, { tokenizer: false });
    const x = ids(randomIds(2, 7, 64, 5));
    expect(read(noGrad(() => loaded.forward(x)))).toEqual(read(noGrad(() => clf.forward(x))));
    x.dispose();
    clf.dispose();
    loaded.dispose();
  });

  it('a quantized TransformerEncoderClassifier (standalone parameters) frees its Linear weights and round-trips', async () => {
    const enc = new TransformerEncoderClassifier({ vocabSize: 50, numLabels: 3, maxLength: 16, dModel: 32, numHeads: 2, numLayers: 1, dropout: 0, seed: 2 }).eval();
    const x = ids(randomIds(2, 7, 50, 6));
    const mask = ids(Array.from({ length: 2 }, () => new Array(7).fill(1)));
    const before = memory().numBytes;
    const f32Elems = enc.namedParameters().reduce((a, [, p]) => a + p.size, 0);
    await quantize(enc, { bits: 8 });
    const left = enc.namedParameters().reduce((a, [, p]) => a + p.size, 0);
    expect(before - memory().numBytes).toBe((f32Elems - left) * 4 - quantizedBytes(enc).quantized);
    const logits = read(noGrad(() => enc.forward(x, mask)));
    const dir = join(tmp(), 'enc-q8');
    await enc.savePretrained(dir);
    const loaded = (await TransformerEncoderClassifier.fromPretrained(dir)).eval();
    expect(read(noGrad(() => loaded.forward(x, mask)))).toEqual(logits);
    x.dispose();
    mask.dispose();
    enc.dispose();
    loaded.dispose();
  });

  it('inconsistent files are FormatErrors naming the tensor or key; nothing is left allocated', async () => {
    const model = await quantize(new GPT2(SMALL, { seed: 4 }), { bits: 8 });
    const dir = join(tmp(), 'bad');
    await model.savePretrained(dir, { tokenizer: null });
    model.dispose();
    const configPath = join(dir, 'config.json');
    const weightsPath = join(dir, 'model.safetensors');
    const config = JSON.parse(await readFile(configPath, 'utf8'));
    const original = await readFile(weightsPath);
    const tensors = (): Record<string, TensorToSave> => {
      const st = openSafetensors(new Uint8Array(original));
      const out: Record<string, TensorToSave> = {};
      for (const n of st.names()) {
        const e = st.entry(n);
        const raw = st.rawBytes(n);
        out[n] = { dtype: e.dtype as TensorToSave['dtype'], shape: e.shape, data: e.dtype === 'I8' ? new Int8Array(raw.buffer, raw.byteOffset, raw.length) : e.dtype === 'U8' ? raw : st.get(n).data };
      }
      return out;
    };
    const cases: [string, Record<string, unknown>, Record<string, TensorToSave> | null, RegExp][] = [
      ['bits 3', { ...config.quantization_config, bits: 3 }, null, /quantization_config\.bits is 3; the format has 8 and 4/],
      ['group 48', { ...config.quantization_config, group_size: 48 }, null, /quantization_config\.group_size is 48/],
      ['method', { ...config.quantization_config, quant_method: 'gptq' }, null, /quantization_config\.quant_method is "gptq"/],
      ['activations', { ...config.quantization_config, activations: 'int4' }, null, /quantization_config\.activations is "int4"; Tessera has "f32" and "int8"/],
      ['missing scale', config.quantization_config, (() => { const t = tensors(); delete t['transformer.h.1.mlp.c_fc.weight_scale']; return t; })(), /no tensor "transformer\.h\.1\.mlp\.c_fc\.weight_scale"/],
      ['scale shape', config.quantization_config, (() => { const t = tensors(); t['transformer.h.0.attn.c_proj.weight_scale'] = { dtype: 'F32', shape: [32, 2], data: new Float32Array(64) }; return t; })(), /"transformer\.h\.0\.attn\.c_proj\.weight_scale" is F32 \[32, 2\]; the scales of .* are F32 \[32, 1\]/],
      ['values dtype', config.quantization_config, (() => { const t = tensors(); t['transformer.h.0.attn.c_proj.weight'] = { dtype: 'U8', shape: [32, 32], data: new Uint8Array(1024) }; return t; })(), /"transformer\.h\.0\.attn\.c_proj\.weight" is U8; int8 values are stored as I8/],
      ['nan scale', config.quantization_config, (() => { const t = tensors(); t['transformer.wte.weight_scale'] = { dtype: 'F32', shape: [64, 1], data: new Float32Array(64).fill(Number.NaN) }; return t; })(), /"transformer\.wte\.weight_scale" element 0 is NaN/],
    ];
    const baseline = memory().numBytes;
    for (const [what, qc, t, message] of cases) {
      await writeFile(configPath, JSON.stringify({ ...config, quantization_config: qc }));
      await writeFile(weightsPath, t ? serializeSafetensors(t) : original);
      const load = GPT2.fromPretrained(dir, { tokenizer: false });
      await expect(load, what).rejects.toThrow(FormatError);
      await expect(GPT2.fromPretrained(dir, { tokenizer: false }), what).rejects.toThrow(message);
    }
    expect(memory().numBytes).toBe(baseline);
    // A config written before the activations key existed loads with f32 activations.
    const { activations: _, ...older } = config.quantization_config;
    await writeFile(configPath, JSON.stringify({ ...config, quantization_config: older }));
    await writeFile(weightsPath, original);
    const old = await GPT2.fromPretrained(dir, { tokenizer: false });
    expect([...quantizedWeights(old).values()].every(({ weight }) => weight.activations === 'f32')).toBe(true);
    old.dispose();
  });
});
