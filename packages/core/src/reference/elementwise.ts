import type { BinaryOp, BinaryParams, CastParams, CopyParams, FillParams, GeluBackwardParams, RandomParams, UnaryOp, UnaryParams, WhereParams } from '../backend.js';
import { normalAt, uniformAt } from '../random.js';
import { gelu, geluGrad, sigmoid } from './math.js';
import { stridedOffsets } from './strided.js';
import type { Views } from './views.js';

/**
 * Scalar definition of each unary op (`alpha` is pow's exponent), in float64; the wasm and
 * WebGPU kernels must agree with these. Keyed by every UnaryOp, so an op without a
 * reference body fails to compile.
 */
const UNARY: { readonly [K in UnaryOp]: (x: number, alpha: number) => number } = {
  neg: (x) => -x,
  exp: (x) => Math.exp(x),
  log: (x) => Math.log(x),
  sqrt: (x) => Math.sqrt(x),
  rsqrt: (x) => 1 / Math.sqrt(x),
  tanh: (x) => Math.tanh(x),
  sigmoid: (x) => sigmoid(x),
  relu: (x) => (x > 0 ? x : 0),
  gelu: (x) => gelu(x),
  abs: (x) => Math.abs(x),
  pow: (x, alpha) => Math.pow(x, alpha),
  square: (x) => x * x,
  reciprocal: (x) => 1 / x,
  sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x),
  step: (x) => (x > 0 ? 1 : 0),
  silu: (x) => x * sigmoid(x),
};

/** Scalar definition of each binary op (comparisons give 1 or 0), keyed by every BinaryOp. */
const BINARY: { readonly [K in BinaryOp]: (a: number, b: number) => number } = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b)),
  min: (a, b) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b)),
  pow: (a, b) => Math.pow(a, b),
  eq: (a, b) => (a === b ? 1 : 0),
  ne: (a, b) => (a !== b ? 1 : 0),
  lt: (a, b) => (a < b ? 1 : 0),
  le: (a, b) => (a <= b ? 1 : 0),
  gt: (a, b) => (a > b ? 1 : 0),
  ge: (a, b) => (a >= b ? 1 : 0),
};

/** unary `op` of one value (float64). */
export function unaryScalar(op: UnaryOp, x: number, alpha = 0): number {
  return UNARY[op](x, alpha);
}

/** binary `op` of one pair of values (float64). */
export function binaryScalar(op: BinaryOp, a: number, b: number): number {
  return BINARY[op](a, b);
}

export function unary(v: Views, p: UnaryParams): void {
  const X = v.f32(p.x.storage);
  const O = v.f32(p.out.storage);
  const [xo] = stridedOffsets(p.shape, [p.x]);
  const f = UNARY[p.op];
  const alpha = p.alpha ?? 0;
  for (let i = 0; i < xo.length; i++) O[p.out.offset + i] = f(X[xo[i]], alpha);
}

export function binary(v: Views, p: BinaryParams): void {
  const A = v.f32(p.a.storage);
  const B = v.f32(p.b.storage);
  const O = v.f32(p.out.storage);
  const [ao, bo] = stridedOffsets(p.shape, [p.a, p.b]);
  const f = BINARY[p.op];
  for (let i = 0; i < ao.length; i++) O[p.out.offset + i] = f(A[ao[i]], B[bo[i]]);
}

export function where(v: Views, p: WhereParams): void {
  const C = p.condDType === 'i32' ? v.i32(p.cond.storage) : v.f32(p.cond.storage);
  const A = v.f32(p.a.storage);
  const B = v.f32(p.b.storage);
  const O = v.f32(p.out.storage);
  const [co, ao, bo] = stridedOffsets(p.shape, [p.cond, p.a, p.b]);
  for (let i = 0; i < co.length; i++) O[p.out.offset + i] = C[co[i]] !== 0 ? A[ao[i]] : B[bo[i]];
}

export function copy(v: Views, p: CopyParams): void {
  const [xo, oo] = stridedOffsets(p.shape, [p.x, p.out]);
  const move = (X: Float32Array | Int32Array, O: Float32Array | Int32Array) => {
    const tmp = X instanceof Int32Array ? new Int32Array(xo.length) : new Float64Array(xo.length);
    for (let i = 0; i < xo.length; i++) tmp[i] = X[xo[i]];
    for (let i = 0; i < oo.length; i++) O[oo[i]] = tmp[i];
  };
  // Copy as i32 so every bit pattern (NaN payloads, -0) survives. Where f32 data lives in
  // its own (float64) array, copy that array too.
  const xi = v.i32(p.x.storage);
  const xf = v.f32(p.x.storage);
  move(xi, v.i32(p.out.storage));
  if (xf.buffer !== xi.buffer) move(xf, v.f32(p.out.storage));
}

export function cast(v: Views, p: CastParams): void {
  const X = p.from === 'i32' ? v.i32(p.x.storage) : v.f32(p.x.storage);
  const O = p.to === 'i32' ? v.i32(p.out.storage) : v.f32(p.out.storage);
  const [xo] = stridedOffsets(p.shape, [p.x]);
  for (let i = 0; i < xo.length; i++) {
    const x = X[xo[i]];
    // f32 -> i32 truncates toward zero and saturates; NaN becomes 0 (wasm's trunc_sat).
    O[p.out.offset + i] = p.to === 'i32' && p.from === 'f32' ? (Number.isNaN(x) ? 0 : Math.max(-2147483648, Math.min(2147483647, Math.trunc(x)))) : x;
  }
}

export function fill(v: Views, p: FillParams): void {
  const O = p.dtype === 'i32' ? v.i32(p.out.storage) : v.f32(p.out.storage);
  O.fill(p.value, p.out.offset, p.out.offset + p.n);
}

export function random(v: Views, p: RandomParams): void {
  const O = v.f32(p.out.storage);
  for (let i = 0; i < p.n; i++) {
    const c = p.counter + i;
    O[p.out.offset + i] = p.dist === 'uniform' ? uniformAt(p.seed, c) : normalAt(p.seed, c);
  }
}

export function geluBackward(v: Views, p: GeluBackwardParams): void {
  const X = v.f32(p.x.storage);
  const DY = v.f32(p.dy.storage);
  const DX = v.f32(p.dx.storage);
  for (let i = 0; i < p.n; i++) DX[p.dx.offset + i] = DY[p.dy.offset + i] * geluGrad(X[p.x.offset + i]);
}
