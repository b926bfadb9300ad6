/**
 * One table of op cases shared by the gradient checks (float64 finite
 * differences) and the wasm-vs-reference parity tests. Inputs include
 * broadcasting and non-contiguous views (transposed, sliced, expanded).
 */

import * as T from '../src/index.js';
import type { Tensor } from '../src/index.js';
import type { InputSpec } from './helpers.js';

export interface OpCase {
  name: string;
  inputs: InputSpec[];
  fn: (...xs: Tensor[]) => Tensor;
  /** False for ops without a gradient (comparisons, argmax, ...). */
  grad?: boolean;
  /** Inputs whose gradient is checked (default: every f32 input). */
  wrt?: number[];
}

const n = (...shape: number[]): InputSpec => ({ shape });
const pos = (...shape: number[]): InputSpec => ({ shape, kind: 'positive' });
const int = (low: number, high: number, ...shape: number[]): InputSpec => ({ shape, kind: 'int', low, high });

export const cases: OpCase[] = [
  // ---- elementwise binary, broadcasting and views ----
  { name: 'add broadcast [3,1,4]+[2,4]', inputs: [n(3, 1, 4), n(2, 4)], fn: (a, b) => T.add(a, b) },
  { name: 'add number', inputs: [n(3, 4)], fn: (a) => T.add(a, 2.5) },
  { name: 'sub broadcast [4]-[3,4]', inputs: [n(4), n(3, 4)], fn: (a, b) => a.sub(b) },
  { name: 'sub number - tensor', inputs: [n(5)], fn: (a) => T.sub(1, a) },
  { name: 'mul broadcast + transposed', inputs: [n(4, 3), n(4, 1)], fn: (a, b) => T.mul(a.transpose(0, 1), b.transpose(0, 1)) },
  { name: 'mul scalar tensor', inputs: [n(2, 3), n()], fn: (a, b) => a.mul(b) },
  { name: 'div broadcast', inputs: [n(2, 3), pos(3)], fn: (a, b) => T.div(a, b) },
  { name: 'div number / tensor', inputs: [pos(2, 3)], fn: (a) => T.div(3, a) },
  { name: 'pow tensor^number', inputs: [pos(2, 3)], fn: (a) => T.pow(a, 2.5) },
  { name: 'pow tensor^tensor', inputs: [pos(2, 3), n(3)], fn: (a, b) => T.pow(a, b) },
  { name: 'pow number^tensor', inputs: [n(4)], fn: (a) => T.pow(2, a) },
  { name: 'maximum broadcast', inputs: [n(3, 4), n(4)], fn: (a, b) => T.maximum(a, b) },
  { name: 'minimum with number', inputs: [n(3, 4)], fn: (a) => T.minimum(a, 0.1) },
  { name: 'clamp', inputs: [n(3, 5)], fn: (a) => T.clamp(a, -0.5, 0.7) },
  { name: 'add sliced views', inputs: [n(4, 6), n(6, 4)], fn: (a, b) => T.add(a.slice([[1, 4], [0, 6, 2]]), b.slice([[0, 6, 2], [1, 4]]).transpose(0, 1)) },
  // ---- unary ----
  { name: 'neg', inputs: [n(2, 3)], fn: (a) => T.neg(a) },
  { name: 'exp', inputs: [n(2, 3)], fn: (a) => T.exp(a) },
  { name: 'log', inputs: [pos(2, 3)], fn: (a) => T.log(a) },
  { name: 'sqrt', inputs: [pos(2, 3)], fn: (a) => T.sqrt(a) },
  { name: 'rsqrt', inputs: [pos(2, 3)], fn: (a) => T.rsqrt(a) },
  { name: 'tanh (transposed)', inputs: [n(3, 4)], fn: (a) => T.tanh(a.transpose(0, 1)) },
  { name: 'sigmoid', inputs: [n(2, 5)], fn: (a) => T.sigmoid(a) },
  { name: 'silu', inputs: [n(3, 5)], fn: (a) => T.silu(a) },
  { name: 'relu', inputs: [n(3, 5)], fn: (a) => T.relu(a) },
  { name: 'gelu', inputs: [n(3, 5)], fn: (a) => T.gelu(a) },
  { name: 'gelu (transposed)', inputs: [n(5, 3)], fn: (a) => T.gelu(a.transpose(0, 1)) },
  { name: 'abs', inputs: [n(3, 5)], fn: (a) => T.abs(a) },
  { name: 'square', inputs: [n(7)], fn: (a) => T.square(a) },
  { name: 'reciprocal', inputs: [pos(7)], fn: (a) => T.reciprocal(a) },
  { name: 'exp of expanded view', inputs: [n(3, 1)], fn: (a) => T.exp(a.expand([3, 4])) },
  // ---- where / masks / comparisons ----
  { name: 'where broadcast', inputs: [int(0, 2, 3, 1), n(3, 4), n(4)], fn: (c, a, b) => T.where(c, a, b) },
  { name: 'where f32 cond with number', inputs: [n(3, 4), n(3, 4)], fn: (c, a) => T.where(T.gt(c, 0), a, -1), wrt: [1] },
  { name: 'maskedFill', inputs: [n(3, 4), int(0, 2, 1, 4)], fn: (a, m) => T.maskedFill(a, m, -2) },
  { name: 'comparisons', inputs: [n(3, 4), n(4)], fn: (a, b) => T.add(T.add(T.lt(a, b), T.ge(a, 0.2)), T.eq(a, a)), grad: false },
  { name: 'sign', inputs: [n(9)], fn: (a) => T.sign(a), grad: false },
  // ---- reductions ----
  { name: 'sum all', inputs: [n(3, 4)], fn: (a) => T.sum(a) },
  { name: 'sum axis 1', inputs: [n(3, 4, 2)], fn: (a) => T.sum(a, 1) },
  { name: 'sum axes [0, 2] keepDims', inputs: [n(3, 4, 2)], fn: (a) => T.sum(a, [0, 2], true) },
  { name: 'sum transposed axis 0', inputs: [n(3, 5)], fn: (a) => a.transpose(0, 1).sum(0) },
  { name: 'mean axis -1', inputs: [n(3, 6)], fn: (a) => T.mean(a, -1) },
  { name: 'mean axes [0, 1]', inputs: [n(2, 3, 4)], fn: (a) => T.mean(a, [0, 1]) },
  { name: 'var unbiased axis 1', inputs: [n(3, 5)], fn: (a) => T.variance(a, 1) },
  { name: 'var biased all keepDims', inputs: [n(3, 5)], fn: (a) => T.variance(a, undefined, true, false) },
  { name: 'max all', inputs: [n(4, 5)], fn: (a) => T.max(a) },
  { name: 'max axis 0 keepDims', inputs: [n(4, 5)], fn: (a) => T.max(a, 0, true) },
  { name: 'min axes [0, 2]', inputs: [n(3, 2, 4)], fn: (a) => T.min(a, [0, 2]) },
  { name: 'maxWithIndices values', inputs: [n(3, 6)], fn: (a) => T.maxWithIndices(a, 1).values },
  { name: 'minWithIndices on a transposed view', inputs: [n(6, 3)], fn: (a) => T.minWithIndices(a.transpose(0, 1), -1, true).values },
  { name: 'argmax axis', inputs: [n(4, 7)], fn: (a) => T.argmax(a, 1).float(), grad: false },
  { name: 'argmin all', inputs: [n(4, 7)], fn: (a) => T.argmin(a).float(), grad: false },
  { name: 'maxWithIndices indices', inputs: [n(5, 4)], fn: (a) => T.maxWithIndices(a, 0).indices.float(), grad: false },
  // ---- matmul ----
  { name: 'matmul 2D', inputs: [n(3, 4), n(4, 5)], fn: (a, b) => T.matmul(a, b) },
  { name: 'matmul transposed operands', inputs: [n(4, 3), n(5, 4)], fn: (a, b) => T.matmul(a.transpose(0, 1), b.transpose(0, 1)) },
  { name: 'matmul batched broadcast [2,1,3,4]@[3,4,2]', inputs: [n(2, 1, 3, 4), n(3, 4, 2)], fn: (a, b) => T.matmul(a, b) },
  { name: 'matmul [B,T,C]@[C,D]', inputs: [n(2, 3, 4), n(4, 5)], fn: (a, b) => a.matmul(b) },
  { name: 'matmul [C]@[B,C,D] (vector left)', inputs: [n(4), n(2, 4, 3)], fn: (a, b) => T.matmul(a, b) },
  { name: 'matmul [B,T,C]@[C] (vector right)', inputs: [n(2, 3, 4), n(4)], fn: (a, b) => T.matmul(a, b) },
  { name: 'matmul dot', inputs: [n(6), n(6)], fn: (a, b) => T.matmul(a, b) },
  { name: 'matmul sliced batch', inputs: [n(4, 3, 2), n(2, 3)], fn: (a, b) => T.matmul(a.slice([[0, 4, 2]]), b) },
  { name: 'matmul permuted batch', inputs: [n(3, 2, 4), n(2, 4, 3)], fn: (a, b) => T.matmul(a.permute([1, 0, 2]), b) },
  // ---- shape ----
  { name: 'reshape of a transposed view', inputs: [n(3, 4)], fn: (a) => T.mul(a.transpose(0, 1).reshape([2, 6]), 1.5) },
  { name: 'view + unsqueeze + squeeze', inputs: [n(2, 6)], fn: (a) => T.exp(a.view([3, 4]).unsqueeze(1).squeeze(1)) },
  { name: 'permute', inputs: [n(2, 3, 4)], fn: (a) => T.mul(a.permute([2, 0, 1]), T.arange(3).reshape([1, 1, 3])) },
  { name: 'expand', inputs: [n(1, 3)], fn: (a) => T.mul(a.expand([4, 3]), T.arange(12).reshape([4, 3])) },
  { name: 'slice with step', inputs: [n(5, 6)], fn: (a) => T.square(a.slice([[1, -1], [null, null, 2]])) },
  { name: 'narrow', inputs: [n(4, 5)], fn: (a) => T.square(a.narrow(1, 1, 3)) },
  { name: 'concat axis 1', inputs: [n(2, 3), n(2, 2), n(3, 2)], fn: (a, b, c) => T.concat([a, b, c.transpose(0, 1)], 1) },
  { name: 'stack axis 1', inputs: [n(2, 3), n(2, 3)], fn: (a, b) => T.mul(T.stack([a, b], 1), T.arange(12).reshape([2, 2, 3])) },
  { name: 'split', inputs: [n(2, 7)], fn: (a) => { const [p, q, r] = T.split(a, [2, 4, 1], 1); return T.concat([T.square(q), p, r], 1); } },
  { name: 'contiguous + clone', inputs: [n(3, 4)], fn: (a) => T.mul(a.transpose(0, 1).contiguous(), a.transpose(0, 1).clone()) },
  { name: 'flatten', inputs: [n(2, 3, 2)], fn: (a) => T.square(a.flatten(1)) },
  // ---- indexing ----
  { name: 'gather axis 1', inputs: [n(3, 5), int(0, 5, 3, 4)], fn: (a, i) => T.gather(a, 1, i) },
  { name: 'gather axis 0 with a narrower index', inputs: [n(4, 5), int(0, 4, 2, 3)], fn: (a, i) => T.gather(a, 0, i) },
  { name: 'indexSelect axis 1 (repeats)', inputs: [n(3, 4, 2), { shape: [5], kind: 'values', values: [3, 0, 3, 1, 3], dtype: 'i32' }], fn: (a, i) => T.indexSelect(a, 1, i) },
  { name: 'embedding', inputs: [n(6, 4), int(0, 6, 2, 5)], fn: (w, ids) => T.embedding(w, ids) },
  // ---- nn ----
  { name: 'softmax last', inputs: [n(3, 5)], fn: (a) => T.softmax(a) },
  { name: 'softmax axis 0', inputs: [n(4, 3)], fn: (a) => T.softmax(a, 0) },
  { name: 'logSoftmax (transposed)', inputs: [n(5, 3)], fn: (a) => T.logSoftmax(a.transpose(0, 1)) },
  { name: 'layerNorm with weight and bias', inputs: [n(3, 6), n(6), n(6)], fn: (x, w, b) => T.layerNorm(x, [6], w, b, 1e-5) },
  { name: 'layerNorm over 2 dims, no affine', inputs: [n(2, 3, 4)], fn: (x) => T.layerNorm(x, [3, 4]) },
  { name: 'layerNorm weight only (transposed input)', inputs: [n(5, 2), n(5)], fn: (x, w) => T.layerNorm(x.transpose(0, 1), undefined, w) },
  { name: 'dropout seeded', inputs: [n(4, 8)], fn: (a) => T.dropout(a, 0.3, { seed: 7 }) },
  { name: 'crossEntropy mean with ignoreIndex', inputs: [n(6, 5), { shape: [6], kind: 'values', values: [1, 4, -100, 0, 2, -100], dtype: 'i32' }], fn: (l, t) => T.crossEntropy(l, t) },
  { name: 'crossEntropy sum [B,T,C]', inputs: [n(2, 3, 4), int(0, 4, 2, 3)], fn: (l, t) => T.crossEntropy(l, t, { reduction: 'sum' }) },
  { name: 'crossEntropy none', inputs: [n(4, 3), int(0, 3, 4)], fn: (l, t) => T.crossEntropy(l, t, { reduction: 'none' }) },
  { name: 'mse', inputs: [n(3, 4), n(3, 4)], fn: (a, b) => T.mse(a, b) },
  { name: 'mse sum', inputs: [n(5), n(5)], fn: (a, b) => T.mse(a, b, 'sum') },
  // ---- attention ----
  { name: 'attention', inputs: [n(2, 3, 4), n(2, 5, 4), n(2, 5, 4)], fn: (q, k, v) => T.scaledDotProductAttention(q, k, v) },
  { name: 'attention causal [B,H,T,D]', inputs: [n(1, 2, 4, 3), n(1, 2, 4, 3), n(1, 2, 4, 3)], fn: (q, k, v) => T.scaledDotProductAttention(q, k, v, { causal: true }) },
  { name: 'attention causal Tq<Tk, scale, transposed q', inputs: [n(3, 2, 2), n(2, 5, 3), n(2, 5, 3)], fn: (q, k, v) => T.scaledDotProductAttention(q.permute([2, 1, 0]), k, v, { causal: true, scale: 0.3 }) },
  // k/v as the first Tk rows of a KV cache [H, P, D] (heads P * D apart, read in place by the fused kernel)
  { name: 'attention causal on KV-cache views [H,P,D].narrow(1,0,Tk)', inputs: [n(3, 2, 5), n(3, 7, 5), n(3, 7, 5)], fn: (q, k, v) => T.scaledDotProductAttention(q, k.narrow(1, 0, 4), v.narrow(1, 0, 4), { causal: true }) },
  { name: 'attention on [B,H,P,D] cache views (leading dims collapse to one head stride)', inputs: [n(2, 2, 1, 3), n(2, 2, 6, 3), n(2, 2, 6, 3)], fn: (q, k, v) => T.scaledDotProductAttention(q, k.narrow(2, 0, 5), v.narrow(2, 0, 5), { causal: true }) },
  { name: 'attention, k a cache view and v contiguous (head strides differ: k copied)', inputs: [n(2, 3, 4), n(2, 6, 4), n(2, 5, 4)], fn: (q, k, v) => T.scaledDotProductAttention(q, k.narrow(1, 1, 5), v) },
  // ---- composites ----
  { name: 'two-layer MLP', inputs: [n(4, 3), n(3, 5), n(5), n(5, 2)], fn: (x, w1, b1, w2) => T.matmul(T.gelu(T.add(T.matmul(x, w1), b1)), w2) },
];

/** Larger, odd sizes (1, 3, 17, 63, 129 miss the SIMD width) for the parity tests only. */
export const largeCases: OpCase[] = [
  { name: 'add broadcast [63,17]+[17] (large)', inputs: [n(63, 17), n(17)], fn: (a, b) => T.add(a, b) },
  { name: 'gelu / tanh / exp on [129,3] transposed (large)', inputs: [n(129, 3)], fn: (a) => T.mul(T.gelu(a.T), T.exp(T.tanh(a.T))) },
  { name: 'matmul [17,63]@[63,129] (large)', inputs: [n(17, 63), n(63, 129)], fn: (a, b) => T.matmul(a, b) },
  { name: 'matmul batched transposed [3,129,17]^T@[3,129,1] (large)', inputs: [n(3, 129, 17), n(3, 129, 1)], fn: (a, b) => T.matmul(a.transpose(-2, -1), b) },
  { name: 'softmax / logSoftmax [3,129] (large)', inputs: [n(3, 129)], fn: (a) => T.add(T.softmax(a), T.logSoftmax(a)) },
  { name: 'layerNorm [17,63] (large)', inputs: [n(17, 63), n(63), n(63)], fn: (x, w, b) => T.layerNorm(x, [63], w, b) },
  { name: 'sum / max over axis 0 of [129,17] (large)', inputs: [n(129, 17)], fn: (a) => T.add(T.sum(a, 0), T.max(a, 0)) },
  { name: 'crossEntropy [63,129] (large)', inputs: [n(63, 129), int(0, 129, 63)], fn: (l, t) => T.crossEntropy(l, t) },
  { name: 'embedding [129,17] (large)', inputs: [n(129, 17), int(0, 129, 3, 63)], fn: (w, ids) => T.embedding(w, ids) },
  { name: 'attention causal T=17 D=63 (large)', inputs: [n(2, 17, 63), n(2, 17, 63), n(2, 17, 63)], fn: (q, k, v) => T.scaledDotProductAttention(q, k, v, { causal: true }) },
  { name: 'attention causal on KV-cache views, Tk=17 of P=63, D=17 (large)', inputs: [n(3, 1, 17), n(3, 63, 17), n(3, 63, 17)], fn: (q, k, v) => T.scaledDotProductAttention(q, k.narrow(1, 0, 17), v.narrow(1, 0, 17), { causal: true }) },
];
