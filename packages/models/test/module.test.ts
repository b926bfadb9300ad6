/**
 * nn modules: the Module base (names, state dicts, printing, modes), layers
 * against hand-computed values, initialisers, attention masking, and the
 * flat parameter block.
 */
import { ArgumentError } from '@tessera/core';
import { AdamW } from '@tessera/optim';
import { memory, ones, randn, ready, relu, tensor, tidy, type Tensor } from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Conv1D,
  Dropout,
  Embedding,
  FlatParameters,
  GPT2,
  LayerNorm,
  Linear,
  Module,
  ModuleList,
  MultiHeadAttention,
  SinusoidalPositionalEncoding,
  StateDictError,
  TransformerEncoder,
  computeFans,
  gpt2Config,
  kaimingNormal_,
  kaimingUniform_,
  normal_,
  uniform_,
  xavierNormal_,
  xavierUniform_,
} from '../src/index.js';
import { SMALL, expectClose, ids, randomIds, values } from './helpers.js';

beforeAll(async () => {
  await ready();
});

class TwoLayer extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  constructor(seed: number) {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(4, 8, { seed }));
    this.fc2 = this.registerModule('fc2', new Linear(8, 2, { seed: seed + 1 }));
  }
  forward(x: Tensor): Tensor {
    return tidy(() => this.fc2.forward(relu(this.fc1.forward(x))));
  }
}

function stats(t: Tensor): { mean: number; std: number; min: number; max: number } {
  const v = values(t);
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  const std = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length);
  return { mean, std, min: Math.min(...v), max: Math.max(...v) };
}

describe('Module', () => {
  it('names parameters by dotted path in registration order and counts them', () => {
    const m = new TwoLayer(1);
    expect(m.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ['fc1.weight', [8, 4]],
      ['fc1.bias', [8]],
      ['fc2.weight', [2, 8]],
      ['fc2.bias', [2]],
    ]);
    expect(m.numParameters()).toBe(8 * 4 + 8 + 2 * 8 + 2);
    expect(m.parameters().every((p) => p.requiresGrad)).toBe(true);
    expect(m.namedModules().map(([n]) => n)).toEqual(['', 'fc1', 'fc2']);
    m.dispose();
  });

  it('round-trips a state dict (tensors and host data) to identical outputs', () => {
    const a = new TwoLayer(1);
    const b = new TwoLayer(7);
    const x = randn([3, 4], { seed: 5 });
    expect(values(b.forward(x))).not.toEqual(values(a.forward(x)));
    b.loadStateDict(a.stateDict());
    expect(values(b.forward(x))).toEqual(values(a.forward(x)));

    const c = new TwoLayer(9);
    const host: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [k, p] of a.stateDict()) host[k] = { shape: [...p.shape], data: p.dataSync() as Float32Array };
    expect(c.loadStateDict(host)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(values(c.forward(x))).toEqual(values(a.forward(x)));
    for (const m of [a, b, c]) m.dispose();
  });

  it('loadStateDict: strict errors name missing and unexpected keys, shape mismatches always throw, nothing is written', () => {
    const a = new TwoLayer(1);
    const b = new TwoLayer(2);
    const before = values(b.fc1.weight);
    const sd = new Map(a.stateDict());
    sd.delete('fc2.bias');
    sd.set('fc3.weight', ones([2]));
    let err: unknown;
    try {
      b.loadStateDict(sd);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StateDictError);
    const se = err as StateDictError;
    expect(se.missingKeys).toEqual(['fc2.bias']);
    expect(se.unexpectedKeys).toEqual(['fc3.weight']);
    expect(se.message).toMatch(/missing key\(s\): "fc2.bias"; unexpected key\(s\): "fc3.weight"/);
    expect(values(b.fc1.weight)).toEqual(before);

    // Non-strict: loads what matches and reports the rest.
    const r = b.loadStateDict(sd, { strict: false });
    expect(r).toEqual({ missingKeys: ['fc2.bias'], unexpectedKeys: ['fc3.weight'] });
    expect(values(b.fc1.weight)).toEqual(values(a.fc1.weight));

    const bad = new Map(a.stateDict());
    bad.set('fc1.bias', ones([9]));
    expect(() => b.loadStateDict(bad, { strict: false })).toThrow(/"fc1.bias" is \[9\] but the parameter is \[8\]/);
    try {
      b.loadStateDict(bad, { strict: false });
    } catch (e) {
      expect((e as StateDictError).mismatches).toEqual([{ key: 'fc1.bias', expected: [8], got: [9] }]);
    }
    for (const m of [a, b]) m.dispose();
  });

  it('prints the module tree like PyTorch, grouping repeated ModuleList entries', () => {
    const m = new TwoLayer(1);
    expect(m.toString()).toBe(
      'TwoLayer(\n  (fc1): Linear(in_features=4, out_features=8, bias=True)\n  (fc2): Linear(in_features=8, out_features=2, bias=True)\n)',
    );
    const list = new ModuleList([new Dropout(0.1), new Dropout(0.1), new LayerNorm(3)]);
    expect(list.toString()).toBe(
      'ModuleList(\n  (0-1): 2 x Dropout(p=0.1, inplace=False)\n  (2): LayerNorm((3,), eps=1e-05, elementwise_affine=True)\n)',
    );
    const gpt = new GPT2(SMALL, { seed: 0 });
    const s = gpt.toString();
    expect(s.startsWith('GPT2LMHeadModel(\n  (transformer): GPT2Model(\n    (wte): Embedding(64, 32)\n    (wpe): Embedding(32, 32)')).toBe(true);
    expect(s).toContain('    (h): ModuleList(\n      (0-1): 2 x GPT2Block(\n        (ln_1): LayerNorm((32,), eps=1e-05, elementwise_affine=True)');
    expect(s).toContain('(c_attn): Conv1D(nf=96, nx=32)');
    expect(s).toContain('(c_fc): Conv1D(nf=128, nx=32)');
    for (const x of [m, list, gpt]) x.dispose();
  });

  it('train() / eval() switch dropout on and off through the tree', () => {
    const drop = new Dropout(0.5, { seed: 3 });
    const x = ones([1000]);
    const y = values(drop.forward(x));
    expect(y.every((v) => v === 0 || v === 2)).toBe(true);
    const kept = y.filter((v) => v === 2).length;
    expect(kept).toBeGreaterThan(400);
    expect(kept).toBeLessThan(600);
    const twin = new Dropout(0.5, { seed: 3 });
    expect(values(twin.forward(x))).toEqual(y); // same seed, same first mask
    expect(values(twin.forward(x))).not.toEqual(y); // the next call draws a new mask
    drop.eval();
    expect(drop.training).toBe(false);
    expect(values(drop.forward(x))).toEqual(values(x));

    const gpt = new GPT2({ ...SMALL, resid_pdrop: 0.2, embd_pdrop: 0.2 }, { seed: 0 });
    const t = ids(randomIds(1, 8, 64, 1));
    const trainOut = values(gpt.forward(t));
    gpt.eval();
    expect(gpt.namedModules().every(([, m]) => !m.training)).toBe(true);
    const e1 = values(gpt.forward(t));
    expect(values(gpt.forward(t))).toEqual(e1);
    expect(trainOut).not.toEqual(e1);
    gpt.train();
    expect(gpt.transformer.h.at(1)!.mlp.dropout.training).toBe(true);
    gpt.dispose();
  });

  it('counts GPT-2 124M parameters from the config alone', () => {
    const before = memory().numBytes;
    expect(GPT2.numParameters(gpt2Config())).toBe(124_439_808);
    expect(GPT2.numParameters({ n_layer: 24, n_embd: 1024, n_head: 16 })).toBe(354_823_168); // GPT-2 medium
    expect(memory().numBytes).toBe(before);
    const small = new GPT2(SMALL, { seed: 0 });
    expect(small.numParameters()).toBe(GPT2.numParameters(SMALL));
    expect(small.flat.size).toBe(small.numParameters());
    small.dispose();
  });
});

describe('layers', () => {
  it('Linear is x W^T + b with W [out, in]; Conv1D is x W + b with W [in, out]', () => {
    const lin = new Linear(3, 2, { seed: 1 });
    const x = tensor([[1, 2, 3], [-1, 0, 0.5]]);
    const W = lin.weight.arraySync() as number[][];
    const b = values(lin.bias!);
    const want = [[0, 1], [0, 1]].map((_, r) => W.map((row, o) => row.reduce((s, w, i) => s + w * (x.arraySync() as number[][])[r][i], b[o])));
    expectClose(values(lin.forward(x)), want.flat(), 1e-6, 'Linear');
    const noBias = new Linear(3, 2, { bias: false, seed: 1 });
    expect(noBias.bias).toBeNull();
    expect(noBias.namedParameters().map(([n]) => n)).toEqual(['weight']);

    const conv = new Conv1D(3, 2, { seed: 2 });
    uniform_(conv.bias, { low: -1, high: 1, seed: 3 });
    const Wc = conv.weight.arraySync() as number[][];
    const bc = values(conv.bias);
    const xs = x.arraySync() as number[][];
    const wantC = xs.map((row) => [0, 1].map((o) => row.reduce((s, v, i) => s + v * Wc[i][o], bc[o])));
    expectClose(values(conv.forward(x)), wantC.flat(), 1e-6, 'Conv1D');
    for (const m of [lin, noBias, conv]) m.dispose();
  });

  it('Embedding looks up rows; LayerNorm normalises the last dim', () => {
    const emb = new Embedding(5, 3, { seed: 1 });
    const table = emb.weight.arraySync() as number[][];
    expect(emb.forward(tensor([[4, 0]], undefined, 'i32')).arraySync()).toEqual([[table[4], table[0]]]);
    const ln = new LayerNorm(4, { eps: 1e-5 });
    uniform_(ln.weight, { low: 0.5, high: 1.5, seed: 1 });
    uniform_(ln.bias, { low: -1, high: 1, seed: 2 });
    const x = [1, 2, 4, 8];
    const mean = x.reduce((a, b) => a + b) / 4;
    const v = x.reduce((a, b) => a + (b - mean) ** 2, 0) / 4;
    const g = values(ln.weight);
    const b = values(ln.bias);
    expectClose(values(ln.forward(tensor([x]))), x.map((xi, i) => ((xi - mean) / Math.sqrt(v + 1e-5)) * g[i] + b[i]), 1e-5, 'LayerNorm');
    emb.dispose();
    ln.dispose();
  });

  it('SinusoidalPositionalEncoding adds sin/cos of position / 10000^(2i/d)', () => {
    const pe = new SinusoidalPositionalEncoding(16, 4);
    const out = pe.forward(tensor([[[0, 0, 0, 0], [0, 0, 0, 0]]]), 1); // positions 1 and 2
    const at = (t: number, i: number) => (i % 2 === 0 ? Math.sin(t / 10000 ** (i / 4)) : Math.cos(t / 10000 ** ((i - 1) / 4)));
    expectClose(values(out), [1, 2].flatMap((t) => [0, 1, 2, 3].map((i) => at(t, i))), 1e-6, 'sinusoids');
    expect(pe.parameters()).toEqual([]);
    expect(() => pe.forward(ones([1, 17, 4]))).toThrow(/exceed the table of 16 positions/);
    pe.dispose();
  });

  it('MultiHeadAttention: causal outputs ignore the future; a padding mask hides padded keys', () => {
    const mha = new MultiHeadAttention(8, 2, { causal: true, seed: 1 });
    const xs = (randn([1, 5, 8], { seed: 1 }).arraySync() as number[][][])[0];
    const ys = (randn([1, 5, 8], { seed: 2 }).arraySync() as number[][][])[0];
    const x = tensor([xs]);
    const mixed = tensor([[...xs.slice(0, 3), ...ys.slice(3)]]); // same first 3 positions, different last 2
    expectClose(values(mha.forward(mixed)).slice(0, 24), values(mha.forward(x)).slice(0, 24), 1e-6, 'causal prefix');

    const enc = new MultiHeadAttention(8, 2, { seed: 2 });
    const mask = tensor([[1, 1, 1, 0, 0]]);
    const m1 = values(enc.forward(x, { paddingMask: mask })).slice(0, 24);
    const m2 = values(enc.forward(mixed, { paddingMask: mask })).slice(0, 24);
    expectClose(m2, m1, 1e-6, 'padded keys ignored');
    expect(values(enc.forward(mixed)).slice(0, 24)).not.toEqual(values(enc.forward(x)).slice(0, 24));
    // An all-ones mask (composed matmul/softmax path) equals the fused kernel path.
    expectClose(values(enc.forward(x, { paddingMask: ones([1, 5]) })), values(enc.forward(x)), 1e-5, 'mask of ones');
    expect(() => enc.forward(x, { paddingMask: ones([1, 4]) })).toThrow(/keyPaddingMask \[1, 4\] must be \[batch, keys\] = \[1, 5\]/);
    expect(() => new MultiHeadAttention(10, 3)).toThrow(ArgumentError);
    mha.dispose();
    enc.dispose();
  });

  it('TransformerEncoder keeps [B, T, C] and names its blocks', () => {
    const enc = new TransformerEncoder(2, { dModel: 16, numHeads: 4, seed: 0 });
    expect(enc.forward(randn([2, 3, 16], { seed: 0 })).shape).toEqual([2, 3, 16]);
    expect(enc.namedParameters().map(([n]) => n).slice(0, 6)).toEqual([
      'layers.0.norm1.weight',
      'layers.0.norm1.bias',
      'layers.0.attn.qkv.weight',
      'layers.0.attn.qkv.bias',
      'layers.0.attn.out.weight',
      'layers.0.attn.out.bias',
    ]);
    enc.dispose();
  });
});

describe('initialisers', () => {
  const n = 20_000;
  it('normal_ and uniform_ have the requested moments and bounds, reproducibly per seed', () => {
    const a = normal_(ones([n]), { std: 0.02, mean: 1, seed: 4 });
    const s = stats(a);
    expect(Math.abs(s.mean - 1)).toBeLessThan(0.001);
    expect(Math.abs(s.std - 0.02) / 0.02).toBeLessThan(0.03);
    expect(values(normal_(ones([n]), { std: 0.02, mean: 1, seed: 4 }))).toEqual(values(a));
    const u = stats(uniform_(ones([n]), { low: -2, high: 3, seed: 1 }));
    expect(u.min).toBeGreaterThanOrEqual(-2);
    expect(u.max).toBeLessThan(3);
    expect(Math.abs(u.mean - 0.5)).toBeLessThan(0.05);
    expect(() => normal_(ones([2]), { std: -1 })).toThrow(ArgumentError);
  });

  it('xavier and kaiming follow PyTorch fan rules in both weight layouts', () => {
    expect(computeFans([8, 4])).toEqual({ fanIn: 4, fanOut: 8 });
    expect(computeFans([4, 8], 'inOut')).toEqual({ fanIn: 4, fanOut: 8 });
    const w = ones([200, 100]);
    const bound = Math.sqrt(6 / 300);
    const xs = stats(xavierUniform_(w, { seed: 1 }));
    expect(xs.max).toBeLessThanOrEqual(bound);
    expect(xs.min).toBeGreaterThanOrEqual(-bound);
    expect(Math.abs(xs.std - bound / Math.sqrt(3)) / (bound / Math.sqrt(3))).toBeLessThan(0.03);
    expect(Math.abs(stats(xavierNormal_(w, { seed: 2 })).std - Math.sqrt(2 / 300)) / Math.sqrt(2 / 300)).toBeLessThan(0.03);
    const he = Math.sqrt(2 / 100); // relu gain sqrt(2), fan_in 100
    expect(Math.abs(stats(kaimingNormal_(w, { nonlinearity: 'relu', seed: 3 })).std - he) / he).toBeLessThan(0.03);
    const ku = stats(kaimingUniform_(w, { nonlinearity: 'relu', seed: 4 }));
    expect(ku.max).toBeLessThanOrEqual(Math.sqrt(3) * he);
    expect(Math.abs(ku.std - he) / he).toBeLessThan(0.03);
  });

  it("GPT-2's scheme: N(0, 0.02) matrices, residual projections / sqrt(2 n_layer), unit LayerNorms, zero biases", () => {
    const gpt = new GPT2({ ...SMALL, n_embd: 64, n_head: 4, n_layer: 8 }, { seed: 1 });
    const sd = gpt.stateDict();
    const sdOf = (k: string) => stats(sd.get(k)!).std;
    expect(Math.abs(sdOf('transformer.wte.weight') - 0.02) / 0.02).toBeLessThan(0.05);
    expect(Math.abs(sdOf('transformer.h.0.mlp.c_fc.weight') - 0.02) / 0.02).toBeLessThan(0.05);
    const scaled = 0.02 / Math.sqrt(16);
    expect(Math.abs(sdOf('transformer.h.3.mlp.c_proj.weight') - scaled) / scaled).toBeLessThan(0.05);
    expect(Math.abs(sdOf('transformer.h.3.attn.c_proj.weight') - scaled) / scaled).toBeLessThan(0.1);
    expect(values(sd.get('transformer.h.0.ln_1.weight')!).every((v) => v === 1)).toBe(true);
    expect(values(sd.get('transformer.h.0.attn.c_attn.bias')!).every((v) => v === 0)).toBe(true);
    const again = new GPT2({ ...SMALL, n_embd: 64, n_head: 4, n_layer: 8 }, { seed: 1 });
    expect(values(again.flat.all)).toEqual(values(gpt.flat.all));
    gpt.dispose();
    again.dispose();
  });
});

describe('flat parameter block', () => {
  it('parameters and gradients are views of one block each; an optimizer zeroGrad is re-wired as zeros', () => {
    const gpt = new GPT2(SMALL, { seed: 0 });
    const x = ids(randomIds(2, 8, 64, 3));
    const y = ids(randomIds(2, 8, 64, 4));
    const l1 = gpt.loss(x, y);
    l1.backward();
    l1.dispose();
    const flatGrad = values(gpt.flat.all.grad!);
    // The block holds decayed parameters first, then biases and norms, in registration order.
    let decayAt = 0;
    let otherAt = gpt.flat.decaySize;
    for (const [name, p] of gpt.namedParameters()) {
      const decay = p.rank === 2;
      const at = decay ? decayAt : otherAt;
      expect(p.dense().offset, name).toBe(at);
      expect(values(p.grad!), name).toEqual(flatGrad.slice(at, at + p.size));
      if (decay) decayAt += p.size;
      else otherAt += p.size;
    }
    expect(decayAt).toBe(gpt.flat.decaySize);
    expect(otherAt).toBe(gpt.flat.size);

    // A per-parameter optimizer drops the gradients; the next forward wires fresh zeroed views.
    const opt = new AdamW(gpt.parameters(), { lr: 0 });
    opt.zeroGrad();
    expect(gpt.parameters().every((p) => p.grad === null)).toBe(true);
    const l2 = gpt.loss(x, y);
    l2.backward();
    l2.dispose();
    expectClose(values(gpt.flat.all.grad!), flatGrad, 1e-6, 'fresh gradient, not accumulated');
    // Dropping the whole block's gradient (an optimizer over flat.all) also restarts from zero.
    gpt.flat.all.zeroGrad();
    const l3 = gpt.loss(x, y);
    l3.backward();
    l3.dispose();
    expectClose(values(gpt.flat.all.grad!), flatGrad, 1e-6, 'after dropping the block gradient');
    opt.dispose();
    gpt.dispose();
  });

  it('checks its layout', () => {
    const flat = new FlatParameters({ decay: 4, noDecay: 2 });
    flat.create([2, 2], true);
    expect(() => flat.create([3], false)).toThrow(/does not fit/);
    expect(() => flat.finish()).toThrow(/cover 4 of 4 decayed and 0 of 2/);
    flat.create([2], false);
    flat.finish();
    expect(() => flat.create([1], true)).toThrow(/finished/);
    flat.dispose();
  });
});
