import type { BinaryOp, BinaryParams, CastParams, CopyParams, FillParams, GeluBackwardParams, RandomParams, UnaryOp, UnaryParams, WhereParams } from '../backend.js';
import { normalAt, uniformAt } from '../random.js';
import { gelu, geluGrad, sigmoid } from './math.js';
import { stridedOffsets } from './strided.js';
import type { Views } from './views.js';

/** Scalar definition of each unary op; the wasm and WebGPU kernels must agree with these. */
export function unaryScalar(op: UnaryOp, x: number, alpha = 0): number {
  switch (op) {
    case 'neg': return -x;
    case 'exp': return Math.exp(x);
    case 'log': return Math.log(x);
    case 'sqrt': return Math.sqrt(x);
    case 'rsqrt': return 1 / Math.sqrt(x);
    case 'tanh': return Math.tanh(x);
    case 'sigmoid': return sigmoid(x);
    case 'relu': return x > 0 ? x : 0;
    case 'gelu': return gelu(x);
    case 'abs': return Math.abs(x);
    case 'pow': return Math.pow(x, alpha);
    case 'square': return x * x;
    case 'reciprocal': return 1 / x;
    case 'sign': return x > 0 ? 1 : x < 0 ? -1 : x;
    case 'step': return x > 0 ? 1 : 0;
  }
}

/** Scalar definition of each binary op (comparisons give 1 or 0). */
export function binaryScalar(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case 'add': return a + b;
    case 'sub': return a - b;
    case 'mul': return a * b;
    case 'div': return a / b;
    case 'max': return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b);
    case 'min': return Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b);
    case 'pow': return Math.pow(a, b);
    case 'eq': return a === b ? 1 : 0;
    case 'ne': return a !== b ? 1 : 0;
    case 'lt': return a < b ? 1 : 0;
    case 'le': return a <= b ? 1 : 0;
    case 'gt': return a > b ? 1 : 0;
    case 'ge': return a >= b ? 1 : 0;
  }
}

export function unary(v: Views, p: UnaryParams): void {
  const X = v.f32(p.x.storage);
  const O = v.f32(p.out.storage);
  const [xo] = stridedOffsets(p.shape, [p.x]);
  for (let i = 0; i < xo.length; i++) O[p.out.offset + i] = unaryScalar(p.op, X[xo[i]], p.alpha);
}

export function binary(v: Views, p: BinaryParams): void {
  const A = v.f32(p.a.storage);
  const B = v.f32(p.b.storage);
  const O = v.f32(p.out.storage);
  const [ao, bo] = stridedOffsets(p.shape, [p.a, p.b]);
  for (let i = 0; i < ao.length; i++) O[p.out.offset + i] = binaryScalar(p.op, A[ao[i]], B[bo[i]]);
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
