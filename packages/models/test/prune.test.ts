/**
 * Pruning: magnitude selection (global / per layer, ties), sparsity reports, masks that
 * optimizers keep through 50 steps (fused and composed paths) and through save / load,
 * structured head and neuron pruning against the dense model with the same units zeroed, and
 * the typed errors.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArgumentError, UnsupportedError, withoutFusedKernels } from '@tessera/core';
import { Adam, AdamW, SGD, type BaseOptions, type Optimizer } from '@tessera/optim';
import { getBackend, noGrad, ready, setBackend, tensor, tidy, type Tensor } from '@tessera/tensor';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GPT2,
  GPT2ForSequenceClassification,
  Linear,
  exportOnnxBytes,
  Module,
  TransformerEncoderClassifier,
  prune,
  restoreMasks,
  sparsity,
} from '../src/index.js';
import { zeroSmallest } from '../src/prune/magnitude.js';
import { SMALL, ids, randomIds, rng, useTempDir, values } from './helpers.js';

const tmp = useTempDir('tessera-prune-');

beforeAll(async () => {
  await ready();
});

/** Two Linear layers with the given weights (biases 0), for hand-checked selections. */
class TwoLayers extends Module {
  readonly a: Linear;
  readonly b: Linear;
  constructor(a: number[], b: number[]) {
    super();
    this.a = this.registerModule('a', new Linear(2, a.length / 2));
    this.b = this.registerModule('b', new Linear(2, b.length / 2));
    noGrad(() => {
      this.a.weight.assign(tensor(a, this.a.weight.shape));
      this.b.weight.assign(tensor(b, this.b.weight.shape));
    });
  }
}

describe('magnitude pruning', () => {
  it("'global' zeroes the smallest |w| across all weights; ties go to the earlier layer, then the lower index", async () => {
    const m = new TwoLayers([0.5, -0.2, 0.9, 0.2], [-0.2, 0.05, 1, -3]);
    await prune(m, { amount: 0.5, method: 'magnitude' }); // 4 of 8: 0.05, then three of the four 0.2s in order
    expect(values(m.a.weight)).toEqual([0.5, 0, 0.9, 0].map(Math.fround));
    expect(values(m.b.weight)).toEqual([0, 0, 1, -3].map(Math.fround));
    m.dispose();
    const n = new TwoLayers([0.5, -0.2, 0.9, 0.2], [-0.2, 0.05, 1, -3]);
    await prune(n, { amount: 0.375, method: 'magnitude', scope: 'global' }); // 3 of 8: 0.05, a's two 0.2s
    expect(values(n.a.weight)).toEqual([0.5, 0, 0.9, 0].map(Math.fround));
    expect(values(n.b.weight)).toEqual([-0.2, 0, 1, -3].map(Math.fround));
    n.dispose();
  });

  it('the radix selection zeroes exactly what a stable sort by (|w|, position) picks: random arrays with ties, zeros, -0 and sizes of every k', () => {
    const r = rng(3);
    for (let trial = 0; trial < 40; trial++) {
      const lengths = Array.from({ length: 1 + (trial % 3) }, () => Math.floor(r() * 50));
      // Few distinct magnitudes, so ties at the threshold are common; both signs and both zeros.
      const arrays = lengths.map((n) => Float32Array.from({ length: n }, () => (r() < 0.5 ? -1 : 1) * (Math.floor(r() * 6) / 4)));
      const total = lengths.reduce((a, b) => a + b, 0);
      const k = Math.floor(r() * (total + 1));
      const flat = arrays.flatMap((a) => Array.from(a));
      const order = flat.map((v, i) => [Math.abs(v), i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      const chosen = new Set(order.slice(0, k).map(([, i]) => i));
      const expected = flat.map((v, i) => (chosen.has(i) ? 0 : v));
      zeroSmallest(arrays, k);
      expect(arrays.flatMap((a) => Array.from(a)).map((v) => (v === 0 ? 0 : v)), `trial ${trial}`).toEqual(expected.map((v) => (v === 0 ? 0 : v)));
    }
  });

  it("'layer' zeroes round(amount * size) of each weight", async () => {
    const m = new TwoLayers([0.5, -0.2, 0.9, 0.2, 0.1, 0.7], [-0.2, 0.05, 1, -3]);
    await prune(m, { amount: 0.5, method: 'magnitude', scope: 'layer' }); // a: 3 of 6, b: 2 of 4
    expect(values(m.a.weight)).toEqual([0.5, 0, 0.9, 0, 0, 0.7].map(Math.fround));
    expect(values(m.b.weight)).toEqual([0, 0, 1, -3].map(Math.fround));
    const s = await sparsity(m);
    expect(s.layers).toEqual([
      { name: 'a.weight', zeros: 3, size: 6, fraction: 0.5 },
      { name: 'b.weight', zeros: 2, size: 4, fraction: 0.5 },
    ]);
    expect(s.overall).toEqual({ zeros: 5, size: 10, fraction: 0.5 });
    // Biases (3 + 2, nonzero at Linear's init) count in `parameters` only.
    expect(s.parameters).toEqual({ zeros: 5, size: 15, fraction: 5 / 15 });
    m.dispose();
  });

  it('counts zeros already there toward the amount (pruning twice at one amount changes nothing)', async () => {
    const model = new GPT2(SMALL, { seed: 3 });
    await prune(model, { amount: 0.3, method: 'magnitude' });
    const first = await sparsity(model);
    const total = first.overall.size;
    expect(first.overall.zeros).toBe(Math.round(0.3 * total));
    await prune(model, { amount: 0.3, method: 'magnitude' });
    expect((await sparsity(model)).overall.zeros).toBe(first.overall.zeros);
    await prune(model, { amount: 0.6, method: 'magnitude', scope: 'layer' });
    for (const l of (await sparsity(model)).layers) expect(l.zeros, l.name).toBe(Math.round(0.6 * l.size));
    model.dispose();
  });
});

/** The ids and targets of one fixed batch for SMALL. */
function batch(seed: number): { x: Tensor; y: Tensor } {
  const rows = randomIds(2, 9, SMALL.vocab_size!, seed);
  return { x: ids(rows.map((r) => r.slice(0, 8))), y: ids(rows.map((r) => r.slice(1))) };
}

/** Indices of the exact zeros of every prunable weight, by name. */
async function zeroSets(model: Module): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const [name, p] of model.namedParameters()) {
    if (!/(c_attn|c_proj|c_fc)\.weight$/.test(name)) continue;
    const d = (await p.data()) as Float32Array;
    out.set(name, [...d.keys()].filter((i) => d[i] === 0));
  }
  return out;
}

describe('masks survive training', () => {
  const optimizers: [string, (m: GPT2) => Optimizer<BaseOptions>][] = [
    ['AdamW (decoupled decay) on flat groups', (m) => new AdamW(m.flat.groups(0.1), { lr: 1e-2 })],
    ['Adam (L2 decay, amsgrad) on every parameter', (m) => new Adam(m.parameters(), { lr: 1e-2, weightDecay: 0.05, amsgrad: true })],
    ['SGD (momentum, nesterov, decay) on the whole block', (m) => new SGD([m.flat.all], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 })],
  ];
  let base: Awaited<ReturnType<typeof getBackend>>;
  beforeAll(() => {
    base = getBackend();
  });
  afterAll(async () => {
    await setBackend(base);
  });

  for (const path of ['fused', 'composed'] as const) {
    for (const [label, make] of optimizers) {
      it(`${label}, ${path} path: pruned weights stay exactly 0 for 50 steps, the rest train`, async () => {
        await setBackend(path === 'fused' ? base : withoutFusedKernels(base));
        const model = new GPT2(SMALL, { seed: 5 });
        await prune(model, { amount: 0.5, method: 'magnitude', scope: 'layer' });
        const before = await zeroSets(model);
        const opt = make(model);
        const masked = await restoreMasks(model, opt);
        expect(masked.sort()).toEqual([...before.keys()].sort());
        const { x, y } = batch(1);
        const losses: number[] = [];
        for (let step = 0; step < 50; step++) {
          tidy(() => {
            const loss = model.loss(x, y);
            if (step === 0 || step === 49) losses.push(values(loss)[0]);
            loss.backward();
          });
          opt.step();
          model.zeroGrad();
        }
        expect(await zeroSets(model)).toEqual(before);
        expect(losses[1]).toBeLessThan(losses[0]);
        opt.dispose();
        model.dispose();
      });
    }
  }

  it('a pruned model saved and loaded is re-masked from its zeros and stays pruned when fine-tuned', async () => {
    const model = new GPT2(SMALL, { seed: 6 });
    await prune(model, { amount: 0.5, method: 'magnitude' });
    const dir = join(tmp(), 'magnitude');
    await model.savePretrained(dir);
    const before = await zeroSets(model);
    model.dispose();
    const loaded = await GPT2.fromPretrained(dir);
    expect(await zeroSets(loaded)).toEqual(before);
    const opt = new AdamW(loaded.flat.groups(0.1), { lr: 1e-2 });
    await restoreMasks(loaded, opt);
    const { x, y } = batch(2);
    for (let step = 0; step < 5; step++) {
      tidy(() => loaded.loss(x, y).backward());
      opt.step();
      loaded.zeroGrad();
    }
    expect(await zeroSets(loaded)).toEqual(before);
    expect((await sparsity(loaded)).overall.fraction).toBeCloseTo(0.5, 3);
    opt.dispose();
    loaded.dispose();
  });

  it('restoreMasks on a dense model masks nothing', async () => {
    const model = new GPT2(SMALL, { seed: 7 });
    const opt = new AdamW(model.flat.groups(0.1));
    expect(await restoreMasks(model, opt)).toEqual([]);
    expect(opt.maskOf(model.flat.decayed)).toBeNull();
    opt.dispose();
    model.dispose();
  });
});

/** Zeroes, in `model`'s dense weights, the MLP units of each layer not in `kept[l]` and the heads in `pruned[l]`. */
async function maskDense(model: GPT2 | GPT2ForSequenceClassification, keptUnits: number[][] | null, prunedHeads: Record<string, readonly number[]>): Promise<void> {
  const C = model.config.n_embd;
  const I = model.config.n_inner ?? 4 * C;
  const H = model.config.n_head;
  const D = C / H;
  for (let l = 0; l < model.config.n_layer; l++) {
    const block = model.transformer.h.at(l)!;
    const edit = async (p: Tensor, f: (d: Float32Array) => void): Promise<void> => {
      const d = Float32Array.from((await p.data()) as Float32Array);
      f(d);
      noGrad(() => tidy(() => p.assign(tensor(d, p.shape))));
    };
    if (keptUnits) {
      const gone = [...Array(I).keys()].filter((j) => !keptUnits[l].includes(j));
      await edit(block.mlp.c_fc.weight, (d) => gone.forEach((j) => { for (let c = 0; c < C; c++) d[c * I + j] = 0; }));
      await edit(block.mlp.c_fc.bias, (d) => gone.forEach((j) => (d[j] = 0)));
      await edit(block.mlp.c_proj.weight, (d) => gone.forEach((j) => d.fill(0, j * C, (j + 1) * C)));
    }
    for (const h of prunedHeads[String(l)] ?? []) {
      const cols = [0, 1, 2].flatMap((part) => [...Array(D).keys()].map((e) => part * C + h * D + e));
      await edit(block.attn.c_attn.weight, (d) => cols.forEach((j) => { for (let c = 0; c < C; c++) d[c * 3 * C + j] = 0; }));
      await edit(block.attn.c_attn.bias, (d) => cols.forEach((j) => (d[j] = 0)));
      await edit(block.attn.c_proj.weight, (d) => d.fill(0, h * D * C, (h + 1) * D * C));
    }
  }
}

/** Which of `dense`'s MLP units each layer of `small` kept: the c_fc columns found unchanged. */
async function keptUnits(dense: GPT2 | GPT2ForSequenceClassification, small: GPT2 | GPT2ForSequenceClassification): Promise<number[][]> {
  const C = dense.config.n_embd;
  const I = dense.config.n_inner ?? 4 * C;
  const I2 = small.config.n_inner!;
  const out: number[][] = [];
  for (let l = 0; l < dense.config.n_layer; l++) {
    const a = (await dense.transformer.h.at(l)!.mlp.c_fc.weight.data()) as Float32Array;
    const b = (await small.transformer.h.at(l)!.mlp.c_fc.weight.data()) as Float32Array;
    const column = (m: Float32Array, n: number, j: number): string => Array.from({ length: C }, (_, c) => m[c * n + j]).join();
    const index = new Map([...Array(I).keys()].map((j) => [column(a, I, j), j]));
    out.push([...Array(I2).keys()].map((j) => index.get(column(b, I2, j))!));
  }
  return out;
}

/** The MLP unit scores the docs state: L2 norm of c_fc column, c_fc bias and c_proj row. */
async function unitScores(model: GPT2, l: number): Promise<number[]> {
  const C = model.config.n_embd;
  const I = 4 * C;
  const mlp = model.transformer.h.at(l)!.mlp;
  const [w, b, p] = await Promise.all([mlp.c_fc.weight.data(), mlp.c_fc.bias.data(), mlp.c_proj.weight.data()]);
  return [...Array(I).keys()].map((j) => {
    let s = b[j] ** 2;
    for (let c = 0; c < C; c++) s += w[c * I + j] ** 2 + p[j * C + c] ** 2;
    return Math.sqrt(s);
  });
}

const logitsOf = (m: GPT2 | GPT2ForSequenceClassification, x: Tensor): number[] => noGrad(() => tidy(() => values(m instanceof GPT2 ? m.forward(x) : m.forward(x))));

describe('structured pruning', () => {
  let x: Tensor;
  beforeAll(() => {
    x = ids(randomIds(2, 7, 64, 11));
  });

  it("'neurons' shrinks n_inner by the same count per layer, drops the lowest-scoring units, and equals the masked dense model", async () => {
    const dense = new GPT2(SMALL, { seed: 8 });
    const small = await prune(dense, { amount: 0.25, method: 'neurons' });
    expect(small).not.toBe(dense);
    expect(small.config.n_inner).toBe(96);
    expect(small.transformer.h.at(1)!.mlp.c_fc.weight.shape).toEqual([32, 96]);
    expect(small.transformer.h.at(1)!.mlp.c_proj.weight.shape).toEqual([96, 32]);
    expect(GPT2.numParameters(small.config)).toBe(GPT2.numParameters(SMALL) - 2 * 32 * (32 + 1 + 32));
    const kept = await keptUnits(dense, small);
    for (let l = 0; l < 2; l++) {
      const scores = await unitScores(dense, l);
      const keptMin = Math.min(...kept[l].map((j) => scores[j]));
      const droppedMax = Math.max(...[...Array(128).keys()].filter((j) => !kept[l].includes(j)).map((j) => scores[j]));
      expect(droppedMax).toBeLessThanOrEqual(keptMin);
      expect(kept[l]).toEqual([...kept[l]].sort((a, b) => a - b));
    }
    await maskDense(dense, kept, {});
    const a = logitsOf(small, x);
    const b = logitsOf(dense, x);
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThanOrEqual(1e-5);
    small.dispose();
    dense.dispose();
  });

  it("'heads' records HF's pruned_heads, shrinks c_attn / c_proj per layer, and equals the masked dense model (forward and KV cache)", async () => {
    const config = { ...SMALL, n_head: 4, n_layer: 3 };
    const dense = new GPT2(config, { seed: 9 });
    const small = await prune(dense, { amount: 0.25, method: 'heads', scope: 'global' }); // 3 of 12 heads
    const pruned = small.config.pruned_heads;
    expect(Object.values(pruned).flat().length).toBe(3);
    for (let l = 0; l < 3; l++) {
      const H = 4 - (pruned[String(l)]?.length ?? 0);
      expect(small.transformer.h.at(l)!.attn.numHeads).toBe(H);
      expect(small.transformer.h.at(l)!.attn.c_attn.weight.shape).toEqual([32, 3 * H * 8]);
      expect(small.transformer.h.at(l)!.attn.c_proj.weight.shape).toEqual([H * 8, 32]);
    }
    await maskDense(dense, null, pruned);
    const a = logitsOf(small, x);
    const b = logitsOf(dense, x);
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThanOrEqual(1e-5);
    // The KV cache follows the per-layer head counts.
    const prompt = randomIds(1, 6, 64, 12)[0];
    const cached = noGrad(() => {
      const cache = small.createKVCache();
      const out = tidy(() => values(small.forwardCached(prompt, cache, { allLogits: true })));
      cache.dispose();
      return out;
    });
    const full = logitsOf(small, ids([prompt]));
    expect(Math.max(...cached.map((v, i) => Math.abs(v - full[i])))).toBeLessThanOrEqual(1e-5);
    // Pruning again counts heads among those left; pruned_heads keeps original indices.
    const smaller = await prune(small, { amount: 0.5, method: 'heads' });
    for (let l = 0; l < 3; l++) {
      const before = pruned[String(l)] ?? [];
      const after = smaller.config.pruned_heads[String(l)] ?? [];
      expect(after.length).toBe(before.length + Math.round((4 - before.length) / 2));
      for (const h of before) expect(after).toContain(h);
    }
    for (const m of [smaller, small, dense]) m.dispose();
  });

  it('a structurally pruned model saves and loads as an ordinary smaller GPT-2 with the same logits', async () => {
    const dense = new GPT2({ ...SMALL, n_head: 4 }, { seed: 10 });
    const heads = await prune(dense, { amount: 0.5, method: 'heads' });
    const both = await prune(heads, { amount: 0.5, method: 'neurons' });
    const dir = join(tmp(), 'structured');
    await both.savePretrained(dir);
    const json = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    expect(json.n_inner).toBe(64);
    expect(json.pruned_heads).toEqual(both.config.pruned_heads);
    const loaded = await GPT2.fromPretrained(dir);
    expect(loaded.config.pruned_heads).toEqual(both.config.pruned_heads);
    expect(logitsOf(loaded, x)).toEqual(logitsOf(both, x));
    for (const m of [loaded, both, heads, dense]) m.dispose();
  });

  it('a head-pruned GPT-2 exports to ONNX with per-layer head counts; onnxruntime computes its logits and present keys (<= 1e-4)', async () => {
    const dense = new GPT2({ ...SMALL, n_head: 4 }, { seed: 12 });
    const small = (await prune(dense, { amount: 0.5, method: 'heads', scope: 'global' })).eval();
    const heads = [...small.transformer.h].map((b) => b.attn.numHeads);
    const session = await ort.InferenceSession.create(exportOnnxBytes(small, { kvCache: true }));
    const prompt = randomIds(1, 6, 64, 13)[0];
    const i64 = (v: number[]): ort.Tensor => new ort.Tensor('int64', BigInt64Array.from(v.map(BigInt)), [1, v.length]);
    const feeds: Record<string, ort.Tensor> = { input_ids: i64(prompt), attention_mask: i64(prompt.map(() => 1)), position_ids: i64(prompt.map((_, i) => i)) };
    heads.forEach((h, i) => {
      for (const part of ['key', 'value']) feeds[`past_key_values.${i}.${part}`] = new ort.Tensor('float32', new Float32Array(0), [1, h, 0, 8]);
    });
    const out = await session.run(feeds);
    const expected = logitsOf(small, ids([prompt]));
    const got = out.logits.data as Float32Array;
    expect(Math.max(...expected.map((v, i) => Math.abs(v - got[i])))).toBeLessThanOrEqual(1e-4);
    heads.forEach((h, i) => expect(out[`present.${i}.key`].dims).toEqual([1, h, 6, 8]));
    await session.release();
    small.dispose();
    dense.dispose();
  });

  it('GPT2ForSequenceClassification: heads and neurons, equal to the masked dense classifier', async () => {
    const dense = new GPT2ForSequenceClassification({ ...SMALL, n_head: 4 }, { numLabels: 3, seed: 11 });
    const heads = await prune(dense, { amount: 0.25, method: 'heads' });
    const small = await prune(heads, { amount: 0.5, method: 'neurons' });
    expect(small).toBeInstanceOf(GPT2ForSequenceClassification);
    expect(small.numLabels).toBe(3);
    await maskDense(dense, await keptUnits(dense, small), small.config.pruned_heads);
    const a = logitsOf(small, x);
    const b = logitsOf(dense, x);
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThanOrEqual(1e-5);
    for (const m of [small, heads, dense]) m.dispose();
  });
});

describe('errors', () => {
  it('refuses bad amounts, methods and scopes, naming the value', async () => {
    const model = new GPT2(SMALL, { seed: 1 });
    for (const amount of [1, -0.1, Number.NaN, 1.5]) {
      await expect(prune(model, { amount, method: 'magnitude' })).rejects.toThrow(ArgumentError);
    }
    await expect(prune(model, { amount: 1, method: 'magnitude' })).rejects.toThrow(/amount must be a fraction in \[0, 1\), got 1/);
    await expect(prune(model, { amount: 0.5, method: 'channels' as never })).rejects.toThrow(/unknown method "channels"; use one of magnitude, heads, neurons/);
    await expect(prune(model, { amount: 0.5, method: 'magnitude', scope: 'row' as never })).rejects.toThrow(/unknown scope "row"/);
    await expect(prune(model, { amount: 0.5, method: 'neurons', scope: 'global' })).rejects.toThrow(/scope must be 'layer'/);
    model.dispose();
  });

  it('refuses to remove every head of a layer or every MLP unit', async () => {
    const model = new GPT2(SMALL, { seed: 2 }); // 2 heads per layer
    await expect(prune(model, { amount: 0.75, method: 'heads' })).rejects.toThrow(/would remove all 2 remaining heads of layer 0/);
    await expect(prune(model, { amount: 0.999, method: 'neurons' })).rejects.toThrow(/removes all 128 MLP units/);
    expect(() => new GPT2({ ...SMALL, pruned_heads: { '0': [0, 1] } })).toThrow(/removes all 2 heads of layer 0/);
    expect(() => new GPT2({ ...SMALL, pruned_heads: { '2': [0] } })).toThrow(/pruned_heads key '2' must be a layer index/);
    model.dispose();
  });

  it('TransformerEncoderClassifier: magnitude and neurons (dFF shrinks; equal to the masked dense model); heads is refused naming the method and the class', async () => {
    const clf = new TransformerEncoderClassifier({ vocabSize: 16, numLabels: 2, maxLength: 8, dModel: 16, numHeads: 2, dropout: 0, seed: 0 }).eval();
    await expect(prune(clf, { amount: 0.5, method: 'heads' })).rejects.toThrow(UnsupportedError);
    await expect(prune(clf, { amount: 0.5, method: 'heads' })).rejects.toThrow(
      /method 'heads' \(structured\) is implemented for GPT2LMHeadModel, GPT2ForSequenceClassification, not TransformerEncoderClassifier/,
    );
    const small = await prune(clf, { amount: 0.25, method: 'neurons' });
    expect(small.options.dFF).toBe(48);
    expect(small.encoder.layers.at(1)!.ff.fc1.weight.shape).toEqual([48, 16]);
    // Zero the removed units (found as the fc1 rows the small model lacks) in the dense model.
    for (let l = 0; l < 2; l++) {
      const ff = clf.encoder.layers.at(l)!.ff;
      const rows = (w: ArrayLike<number>, n: number): string[] => Array.from({ length: n }, (_, j) => Array.from({ length: 16 }, (_, c) => w[j * 16 + c]).join());
      const kept = new Set(rows(await small.encoder.layers.at(l)!.ff.fc1.weight.data(), 48));
      const dense = rows(await ff.fc1.weight.data(), 64);
      const gone = [...Array(64).keys()].filter((j) => !kept.has(dense[j]));
      expect(gone).toHaveLength(16);
      const edit = async (p: Tensor, f: (d: Float32Array) => void): Promise<void> => {
        const d = Float32Array.from((await p.data()) as Float32Array);
        f(d);
        noGrad(() => tidy(() => p.assign(tensor(d, p.shape))));
      };
      await edit(ff.fc1.weight, (d) => gone.forEach((j) => d.fill(0, j * 16, (j + 1) * 16)));
      await edit(ff.fc1.bias!, (d) => gone.forEach((j) => (d[j] = 0)));
      await edit(ff.fc2.weight, (d) => gone.forEach((j) => { for (let c = 0; c < 16; c++) d[c * 64 + j] = 0; }));
    }
    const x = ids(randomIds(2, 8, 16, 4));
    const a = noGrad(() => tidy(() => values(small.forward(x))));
    const b = noGrad(() => tidy(() => values(clf.forward(x))));
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i])))).toBeLessThanOrEqual(1e-5);
    small.dispose();
    await prune(clf, { amount: 0.5, method: 'magnitude' });
    expect((await sparsity(clf)).overall.fraction).toBeCloseTo(0.5, 2);
    clf.dispose();
  });
});
