// Host side of the elementwise family (assembly/elementwise.ts): collapses strided
// operands to the lowest rank, packs shape / strides / addresses into a params block
// and calls the SIMD kernels.
import type { BinaryOp, BinaryParams, CastParams, CopyParams, Dense, FillParams, GeluBackwardParams, RandomParams, Strided, UnaryOp, UnaryParams, WhereParams } from '../../backend.js';
import { contiguousStrides, sizeOf } from '../../shape.js';
import type { WasmContext } from '../context.js';

const UNARY_CODE: Record<UnaryOp, number> = {
  neg: 0, exp: 1, log: 2, sqrt: 3, rsqrt: 4, tanh: 5, sigmoid: 6, relu: 7, gelu: 8,
  abs: 9, pow: 10, square: 11, reciprocal: 12, sign: 13, step: 14,
};
// pow fast paths (assembly/elementwise.ts U_ONE, U_IDENT, U_POW_HALF); alpha 2 and -1 map to square / reciprocal.
const U_ONE = 15;
const U_IDENT = 16;
const U_POW_HALF = 17;

const BINARY_CODE: Record<BinaryOp, number> = {
  add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, pow: 6, eq: 7, ne: 8, lt: 9, le: 10, gt: 11, ge: 12,
};

/** An operand of a strided loop: byte address of its first element and per-dim strides (elements). */
interface Operand {
  addr: number;
  strides: readonly number[];
}

/**
 * Drops size-1 dims and merges adjacent dims that are contiguous for every operand
 * (stride[d] == stride[d+1] * shape[d+1]), so a dense or simply broadcast view
 * becomes one long row. Returns rank >= 1.
 */
function collapseDims(shape: readonly number[], strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d];
    if (n === 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * n)) {
      outShape[last] *= n;
      for (let k = 0; k < strides.length; k++) outStrides[k][last] = strides[k][d];
    } else {
      outShape.push(n);
      for (let k = 0; k < strides.length; k++) outStrides[k].push(strides[k][d]);
    }
  }
  if (outShape.length === 0) {
    outShape.push(1);
    for (const s of outStrides) s.push(1);
  }
  return { shape: outShape, strides: outStrides };
}

/**
 * Writes the params block of a strided kernel (layout in assembly/elementwise.ts):
 * shape | strides per operand | zeroed counters | byte address per operand. Returns [ptr, rank].
 */
function stridedParams(ctx: WasmContext, shape: readonly number[], ops: readonly Operand[]): [number, number] {
  const c = collapseDims(shape, ops.map((o) => o.strides));
  const rank = c.shape.length;
  const words: number[] = [...c.shape];
  for (const s of c.strides) words.push(...s);
  for (let d = 0; d < rank; d++) words.push(0);
  for (const o of ops) words.push(o.addr);
  return [ctx.params('ew', words), rank];
}

/**
 * Stride of a strided operand seen as one flat row of `shape`'s size: 1 when it is
 * row-major contiguous, 0 when every element is the same one, -1 otherwise. Checked
 * without allocating, because tiny ops are dominated by host overhead.
 */
function flatStride(strides: readonly number[], shape: readonly number[]): number {
  let zero = true;
  let contiguous = true;
  let expect = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    const n = shape[d];
    if (n === 1) continue;
    const s = strides[d];
    if (s !== 0) zero = false;
    if (s !== expect) contiguous = false;
    expect *= n;
  }
  return contiguous ? 1 : zero ? 0 : -1;
}

function strided(ctx: WasmContext, s: Strided): Operand {
  return { addr: ctx.addr(s), strides: s.strides };
}

function dense(ctx: WasmContext, d: Dense, shape: readonly number[]): Operand {
  return { addr: ctx.addr(d), strides: contiguousStrides(shape) };
}

export function unary(ctx: WasmContext, p: UnaryParams): void {
  if (sizeOf(p.shape) === 0) return;
  let code = UNARY_CODE[p.op];
  const alpha = p.alpha ?? 0;
  if (p.op === 'pow') {
    // Exponents with an exact cheaper form (same result as Math.pow rounded to f32).
    if (alpha === 0) code = U_ONE;
    else if (alpha === 1) code = U_IDENT;
    else if (alpha === 2) code = UNARY_CODE.square;
    else if (alpha === -1) code = UNARY_CODE.reciprocal;
    else if (alpha === 0.5) code = U_POW_HALF;
  }
  const sx = flatStride(p.x.strides, p.shape);
  if (sx >= 0) {
    ctx.exports.ew_unary_flat(code, ctx.addr(p.x), sx, ctx.addr(p.out), sizeOf(p.shape), alpha);
    return;
  }
  const [prm, rank] = stridedParams(ctx, p.shape, [strided(ctx, p.x), dense(ctx, p.out, p.shape)]);
  ctx.exports.ew_unary(code, prm, rank, alpha);
}

export function binary(ctx: WasmContext, p: BinaryParams): void {
  const n = sizeOf(p.shape);
  if (n === 0) return;
  const sa = flatStride(p.a.strides, p.shape);
  const sb = flatStride(p.b.strides, p.shape);
  if (sa >= 0 && sb >= 0) {
    ctx.exports.ew_binary_flat(BINARY_CODE[p.op], ctx.addr(p.a), sa, ctx.addr(p.b), sb, ctx.addr(p.out), n);
    return;
  }
  const [prm, rank] = stridedParams(ctx, p.shape, [strided(ctx, p.a), strided(ctx, p.b), dense(ctx, p.out, p.shape)]);
  ctx.exports.ew_binary(BINARY_CODE[p.op], prm, rank);
}

export function where(ctx: WasmContext, p: WhereParams): void {
  if (sizeOf(p.shape) === 0) return;
  const [prm, rank] = stridedParams(ctx, p.shape, [strided(ctx, p.cond), strided(ctx, p.a), strided(ctx, p.b), dense(ctx, p.out, p.shape)]);
  ctx.exports.ew_where(p.condDType === 'i32' ? 1 : 0, prm, rank);
}

/** Inclusive element range [lo, hi] a strided view of `shape` touches. */
function span(s: Strided, shape: readonly number[]): [number, number] {
  let lo = s.offset;
  let hi = s.offset;
  for (let d = 0; d < shape.length; d++) {
    const ext = s.strides[d] * (shape[d] - 1);
    if (ext < 0) lo += ext;
    else hi += ext;
  }
  return [lo, hi];
}

/**
 * Strided copy. When x and out share storage and their spans intersect, the copy goes
 * through a dense scratch buffer (gather, then scatter), so the result is as if every
 * element of x were read before any element of out is written, whatever the overlap.
 */
export function copy(ctx: WasmContext, p: CopyParams): void {
  const n = sizeOf(p.shape);
  if (n === 0) return;
  const [xlo, xhi] = span(p.x, p.shape);
  const [olo, ohi] = span(p.out, p.shape);
  if (p.x.storage === p.out.storage && xlo <= ohi && olo <= xhi) {
    const tmp = { addr: ctx.scratch('ew.copy', n * 4), strides: contiguousStrides(p.shape) };
    let [prm, rank] = stridedParams(ctx, p.shape, [strided(ctx, p.x), tmp]);
    ctx.exports.ew_copy(prm, rank);
    [prm, rank] = stridedParams(ctx, p.shape, [tmp, strided(ctx, p.out)]);
    ctx.exports.ew_copy(prm, rank);
    return;
  }
  const [prm, rank] = stridedParams(ctx, p.shape, [strided(ctx, p.x), strided(ctx, p.out)]);
  ctx.exports.ew_copy(prm, rank);
}

export function cast(ctx: WasmContext, p: CastParams): void {
  if (sizeOf(p.shape) === 0) return;
  const mode = p.from === p.to ? 0 : p.from === 'f32' ? 1 : 2;
  const [prm, rank] = stridedParams(ctx, p.shape, [strided(ctx, p.x), dense(ctx, p.out, p.shape)]);
  ctx.exports.ew_cast(mode, prm, rank);
}

const bits = new Int32Array(1);
const bitsF32 = new Float32Array(bits.buffer);

export function fill(ctx: WasmContext, p: FillParams): void {
  if (p.n === 0) return;
  // f32: the value rounded to f32 (as Float32Array.fill); i32: ToInt32 (as Int32Array.fill).
  if (p.dtype === 'f32') bitsF32[0] = p.value;
  else bits[0] = p.value;
  ctx.exports.ew_fill(ctx.addr(p.out), p.n, bits[0]);
}

export function random(ctx: WasmContext, p: RandomParams): void {
  if (p.n === 0) return;
  // src/random.ts hashes ToInt32(seed) and ToInt32(counter + i): the kernel adds i to the
  // counter's low 32 bits with i32 wrap-around, which is the same value.
  const fn = p.dist === 'uniform' ? ctx.exports.ew_random_uniform : ctx.exports.ew_random_normal;
  fn(ctx.addr(p.out), p.n, p.seed | 0, p.counter | 0);
}

export function geluBackward(ctx: WasmContext, p: GeluBackwardParams): void {
  if (p.n === 0) return;
  ctx.exports.ew_gelu_backward(ctx.addr(p.x), ctx.addr(p.dy), ctx.addr(p.dx), p.n);
}
