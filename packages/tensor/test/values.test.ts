/** Forward values against plain host computations, creation functions and seeded randomness. */
import { ReferenceBackend, createWasmBackend } from '@tessera/core';
import { beforeEach, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { manualSeed, setBackend, tensor, type Tensor } from '../src/index.js';
import { expectClose, hostData } from './helpers.js';

const arr = (t: Tensor) => Array.from(t.dataSync());
const ids = (v: number[], shape?: number[]) => tensor(v, shape, 'i32');

beforeEach(async () => {
  await setBackend('reference');
});

describe('creation', () => {
  it('tensor from nested arrays, typed arrays, booleans and a shape', () => {
    const a = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(a.shape).toEqual([2, 3]);
    expect(a.dtype).toBe('f32');
    expect(a.size).toBe(6);
    expect(a.strides).toEqual([3, 1]);
    expect(a.arraySync()).toEqual([[1, 2, 3], [4, 5, 6]]);
    const b = tensor(new Int32Array([1, 2, 3, 4]), [2, 2]);
    expect(b.dtype).toBe('i32');
    expect(b.dataSync()).toBeInstanceOf(Int32Array);
    expect(tensor([true, false]).arraySync()).toEqual([1, 0]);
    expect(tensor(7).shape).toEqual([]);
    expect(tensor(7).itemSync()).toBe(7);
    expect(tensor([]).shape).toEqual([0]);
  });

  it('zeros, ones, full, *Like, arange', async () => {
    expect(arr(T.zeros([2, 2]))).toEqual([0, 0, 0, 0]);
    expect(arr(T.ones([3], 'i32'))).toEqual([1, 1, 1]);
    expect(arr(T.full([2], 2.5))).toEqual([2.5, 2.5]);
    const x = tensor([[1, 2]]);
    expect(T.zerosLike(x).shape).toEqual([1, 2]);
    expect(arr(T.onesLike(x))).toEqual([1, 1]);
    expect(arr(T.fullLike(x, 3))).toEqual([3, 3]);
    expect(arr(T.arange(4))).toEqual([0, 1, 2, 3]);
    expect(arr(T.arange(1, 2, 0.25))).toEqual([1, 1.25, 1.5, 1.75]);
    expect(arr(T.arange(5, 0, -2))).toEqual([5, 3, 1]);
    expect(T.arange(0, 3, 1, 'i32').dtype).toBe('i32');
    expect(await x.data()).toEqual(new Float32Array([1, 2]));
    expect(await x.array()).toEqual([[1, 2]]);
  });

  it('requiresGrad option', () => {
    expect(T.zeros([2], { requiresGrad: true }).requiresGrad).toBe(true);
    expect(T.randn([2], { requiresGrad: true }).requiresGrad).toBe(true);
    expect(() => T.zeros([2], { dtype: 'i32', requiresGrad: true })).toThrow(/only f32/);
  });
});

describe('random', () => {
  it('seeded draws are identical on the reference and wasm backends', async () => {
    const ref = T.randn([257], { seed: 42 }).dataSync();
    const refU = T.rand([257], { seed: 42 }).dataSync();
    await setBackend(await createWasmBackend());
    const wasm = T.randn([257], { seed: 42 }).dataSync();
    const wasmU = T.rand([257], { seed: 42 }).dataSync();
    expect(Array.from(wasmU)).toEqual(Array.from(refU));
    // Normals go through log/cos: equal up to libm rounding.
    expectClose(wasm, ref, 1e-6, 'randn');
  });

  it('manualSeed makes global draws reproducible; successive draws differ', () => {
    manualSeed(7);
    const a = arr(T.randn([8]));
    const b = arr(T.randn([8]));
    manualSeed(7);
    expect(arr(T.randn([8]))).toEqual(a);
    expect(arr(T.randn([8]))).toEqual(b);
    expect(a).not.toEqual(b);
    expect(T.initialSeed()).toBe(7);
  });

  it('distributions: rand in [0, 1), randn ~ N(mean, std), randint in [low, high)', () => {
    const u = arr(T.rand([4000], { seed: 1 }));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    const z = arr(T.randn([4000], { seed: 2, mean: 3, std: 0.5 }));
    const m = z.reduce((p, q) => p + q, 0) / z.length;
    const sd = Math.sqrt(z.reduce((p, q) => p + (q - m) ** 2, 0) / z.length);
    expect(Math.abs(m - 3)).toBeLessThan(0.05);
    expect(Math.abs(sd - 0.5)).toBeLessThan(0.05);
    const r = T.randint(-3, 4, [2000], { seed: 3 });
    expect(r.dtype).toBe('i32');
    const rv = arr(r);
    expect(Math.min(...rv)).toBe(-3);
    expect(Math.max(...rv)).toBe(3);
    expect(rv.every(Number.isInteger)).toBe(true);
  });

  it('dropout: identity in eval, p fraction zeroed and rescaled in training', () => {
    const x = T.ones([4000]);
    expect(arr(T.dropout(x, 0.5, { training: false }))).toEqual(arr(x));
    const y = arr(T.dropout(x, 0.25, { seed: 5 }));
    const zeros = y.filter((v) => v === 0).length;
    expect(Math.abs(zeros / 4000 - 0.25)).toBeLessThan(0.03);
    expect(y.filter((v) => v !== 0).every((v) => Math.abs(v - 1 / 0.75) < 1e-6)).toBe(true);
    expect(arr(T.dropout(x, 1)).every((v) => v === 0)).toBe(true);
  });
});

describe('forward values', () => {
  const host = (shape: number[], seed: number) => Array.from(hostData({ shape }, seed).data as Float64Array, Math.fround);

  it('matmul against a naive product, including promoted vectors', () => {
    const A = host([3, 4], 1);
    const B = host([4, 2], 2);
    const want: number[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) want.push(A.slice(i * 4, i * 4 + 4).reduce((s, a, l) => s + a * B[l * 2 + j], 0));
    expectClose(arr(T.matmul(tensor(A, [3, 4]), tensor(B, [4, 2]))), want, 1e-6, 'matmul');
    expect(T.matmul(tensor(A, [3, 4]), tensor(B.slice(0, 4), [4])).shape).toEqual([3]);
    expect(T.matmul(tensor(A.slice(0, 3), [3]), tensor(A, [3, 4])).shape).toEqual([4]);
    expect(T.matmul(tensor([1, 2, 3]), tensor([4, 5, 6])).shape).toEqual([]);
    expect(T.matmul(tensor([1, 2, 3]), tensor([4, 5, 6])).itemSync()).toBe(32);
    expect(T.matmul(T.ones([2, 1, 3, 4]), T.ones([5, 4, 2])).shape).toEqual([2, 5, 3, 2]);
    expect(arr(T.matmul(T.zeros([2, 0]), T.zeros([0, 3])))).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it('views: transpose, permute, slice, expand, squeeze/unsqueeze share storage', () => {
    const x = T.arange(6).reshape([2, 3]);
    expect(x.transpose(0, 1).arraySync()).toEqual([[0, 3], [1, 4], [2, 5]]);
    expect(x.T.shape).toEqual([3, 2]);
    expect(x.t().arraySync()).toEqual([[0, 3], [1, 4], [2, 5]]);
    expect(tensor([1, 2]).t().arraySync()).toEqual([1, 2]);
    expect(() => T.zeros([2, 3, 4]).t()).toThrow(/t: expects a tensor with at most 2 dimensions, got shape \[2, 3, 4\]/);
    expect(T.arange(12).reshape([2, 2, 3]).mT.arraySync()).toEqual([[[0, 3], [1, 4], [2, 5]], [[6, 9], [7, 10], [8, 11]]]);
    expect(() => tensor([1, 2]).mT).toThrow(/mT: needs at least 2 dimensions, got shape \[2\]/);
    expect(T.arange(24).reshape([2, 3, 4]).permute([2, 0, 1]).slice([[1, 2]]).arraySync()).toEqual([[[1, 5, 9], [13, 17, 21]]]);
    expect(x.slice([null, [-2]]).arraySync()).toEqual([[1, 2], [4, 5]]);
    expect(x.slice([[0, 1], [0, 3, 2]]).arraySync()).toEqual([[0, 2]]);
    expect(x.slice([[5, 9]]).shape).toEqual([0, 3]);
    expect(tensor([1, 2]).unsqueeze(1).expand([2, 3]).arraySync()).toEqual([[1, 1, 1], [2, 2, 2]]);
    expect(T.zeros([1, 3, 1]).squeeze().shape).toEqual([3]);
    expect(T.zeros([1, 3, 1]).squeeze(0).shape).toEqual([3, 1]);
    expect(T.zeros([1, 3, 1]).squeeze(1).shape).toEqual([1, 3, 1]);
    expect(T.zeros([3]).unsqueeze(-1).shape).toEqual([3, 1]);
    expect(T.zeros([2, 3, 4]).flatten(1).shape).toEqual([2, 12]);
    const v = x.view([3, 2]);
    x.narrow(1, 0, 1).fill_(9);
    expect(v.arraySync()).toEqual([[9, 1], [2, 9], [4, 5]]);
    expect(x.transpose(0, 1).isContiguous()).toBe(false);
    expect(x.transpose(0, 1).contiguous().isContiguous()).toBe(true);
  });

  it('concat, stack, split', () => {
    const a = tensor([[1, 2], [3, 4]]);
    const b = tensor([[5, 6]]);
    expect(T.concat([a, b]).arraySync()).toEqual([[1, 2], [3, 4], [5, 6]]);
    expect(T.concat([a, tensor([[7], [8]])], 1).arraySync()).toEqual([[1, 2, 7], [3, 4, 8]]);
    expect(T.concat([ids([1]), ids([2, 3])]).arraySync()).toEqual([1, 2, 3]);
    expect(T.stack([tensor([1, 2]), tensor([3, 4])], 1).arraySync()).toEqual([[1, 3], [2, 4]]);
    expect(T.split(T.arange(5), 2).map((t) => t.arraySync())).toEqual([[0, 1], [2, 3], [4]]);
  });

  it('reductions', () => {
    const x = tensor([[1, 5, 3], [4, 2, 6]]);
    expect(arr(T.sum(x, 0))).toEqual([5, 7, 9]);
    expect(T.sum(x, 1, true).arraySync()).toEqual([[9], [12]]);
    expect(T.mean(x).itemSync()).toBe(3.5);
    expect(T.max(x).itemSync()).toBe(6);
    expect(arr(T.min(x, 1))).toEqual([1, 2]);
    const { values, indices } = T.maxWithIndices(x, 1);
    expect(arr(values)).toEqual([5, 6]);
    expect(arr(indices)).toEqual([1, 2]);
    expect(indices.dtype).toBe('i32');
    expect(T.minWithIndices(x, 0, true).indices.arraySync()).toEqual([[0, 1, 0]]);
    expect(arr(T.argmax(x, 1))).toEqual([1, 2]);
    expect(T.argmax(x).itemSync()).toBe(5);
    expect(T.argmin(x, 0, true).shape).toEqual([1, 3]);
    expectClose(arr(T.variance(x, 1)), [4, 4], 1e-6, 'var');
    expectClose(arr(T.variance(x, 1, false, false)), [8 / 3, 8 / 3], 1e-6, 'var biased');
    expect(arr(T.sum(T.zeros([0, 2]), 0))).toEqual([0, 0]);
  });

  it('softmax, logSoftmax, layerNorm, crossEntropy, mse against host formulas', () => {
    const L = [[1, 2, 3], [0, -1, 5]];
    const sm = L.map((r) => {
      const m = Math.max(...r);
      const e = r.map((v) => Math.exp(v - m));
      const s = e.reduce((p, q) => p + q, 0);
      return e.map((v) => v / s);
    });
    expectClose(arr(T.softmax(tensor(L))), sm.flat(), 1e-6, 'softmax');
    expectClose(arr(T.logSoftmax(tensor(L))), sm.flat().map(Math.log), 1e-6, 'logSoftmax');
    expectClose(arr(T.softmax(tensor(L), 0)), [0.7311, 0.9526, 0.1192, 0.2689, 0.0474, 0.8808], 1e-4, 'softmax axis 0');
    const ln = L.map((r) => {
      const m = r.reduce((p, q) => p + q, 0) / r.length;
      const v = r.reduce((p, q) => p + (q - m) ** 2, 0) / r.length;
      return r.map((x, i) => ((x - m) / Math.sqrt(v + 1e-5)) * [1, 2, 3][i] + 0.5);
    });
    expectClose(arr(T.layerNorm(tensor(L), [3], tensor([1, 2, 3]), tensor([0.5, 0.5, 0.5]))), ln.flat(), 1e-5, 'layerNorm');
    const targets = ids([2, -100]);
    const ce = -Math.log(sm[0][2]);
    expectClose([T.crossEntropy(tensor(L), targets).itemSync()], [ce], 1e-6, 'crossEntropy mean over non-ignored');
    expectClose(arr(T.crossEntropy(tensor(L), ids([2, 1]), { reduction: 'none' })), [ce, -Math.log(sm[1][1])], 1e-6, 'crossEntropy none');
    expect(T.mse(tensor([1, 2]), tensor([2, 4])).itemSync()).toBe(2.5);
  });

  it('gather, indexSelect, embedding, where, maskedFill, comparisons, casts', () => {
    const x = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(T.gather(x, 1, ids([2, 0, 1, 1], [2, 2])).arraySync()).toEqual([[3, 1], [5, 5]]);
    expect(T.gather(x, 0, ids([1, 0], [1, 2])).arraySync()).toEqual([[4, 2]]);
    expect(T.indexSelect(x, 1, ids([2, 2, 0])).arraySync()).toEqual([[3, 3, 1], [6, 6, 4]]);
    expect(T.embedding(x, ids([1, 0, 1], [3])).arraySync()).toEqual([[4, 5, 6], [1, 2, 3], [4, 5, 6]]);
    expect(T.where(T.gt(x, 2.5), x, 0).arraySync()).toEqual([[0, 0, 3], [4, 5, 6]]);
    expect(T.maskedFill(x, tensor([1, 0, 1]), -1).arraySync()).toEqual([[-1, 2, -1], [-1, 5, -1]]);
    expect(arr(T.eq(ids([1, 2, 3]), ids([1, 0, 3])))).toEqual([1, 0, 1]);
    expect(arr(T.le(x, 3))).toEqual([1, 1, 1, 0, 0, 0]);
    expect(T.ne(x, 2).dtype).toBe('f32');
    expect(arr(tensor([1.7, -1.7]).int())).toEqual([1, -1]);
    expect(tensor([1.7]).int().dtype).toBe('i32');
    expect(arr(ids([3]).float())).toEqual([3]);
    expect(arr(T.clamp(tensor([-2, 0.5, 3]), -1, 1))).toEqual([-1, 0.5, 1]);
  });

  it('attention matches softmax(q k^T / sqrt(d)) v with a causal mask', () => {
    const q = T.randn([1, 3, 4], { seed: 1 });
    const k = T.randn([1, 3, 4], { seed: 2 });
    const v = T.randn([1, 3, 4], { seed: 3 });
    const scores = T.div(T.matmul(q, k.transpose(-2, -1)), 2);
    const mask = tensor([[0, 1, 1], [0, 0, 1], [0, 0, 0]]);
    const want = T.matmul(T.softmax(T.maskedFill(scores, mask, -Infinity)), v);
    expectClose(arr(T.scaledDotProductAttention(q, k, v, { causal: true })), arr(want), 1e-5, 'attention');
  });

  it('to() copies between backends', async () => {
    const x = tensor([[1, 2], [3, 4]]).transpose(0, 1);
    const w = await createWasmBackend();
    const y = x.toSync(w);
    expect(y.backend).toBe(w);
    expect(y.arraySync()).toEqual([[1, 3], [2, 4]]);
    expect(y.toSync(new ReferenceBackend()).arraySync()).toEqual([[1, 3], [2, 4]]);
  });
});

describe('*Like creation', () => {
  it('allocates on the input tensor\'s backend, not the active one', async () => {
    const ref = new ReferenceBackend();
    await setBackend(ref);
    const x = tensor([1, 2, 3]);
    await setBackend(await createWasmBackend());
    for (const t of [T.zerosLike(x), T.onesLike(x), T.fullLike(x, 7)]) expect(t.backend).toBe(ref);
    expect(Array.from(T.fullLike(x, 7).dataSync())).toEqual([7, 7, 7]);
  });
});
