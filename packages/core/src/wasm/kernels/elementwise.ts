// Host side of the elementwise family (assembly/elementwise.ts): collapses strided
// operands to the lowest rank, packs shape / strides / addresses into a params block
// and calls the SIMD kernels.
//
// Threads: a call over at least EW_PARALLEL_MIN elements (EW_HEAVY_PARALLEL_MIN for
// transcendental ops) is split into contiguous ranges (flat kernels) or ranges of the
// outermost collapsed dim (strided kernels). An element's result does not depend on where
// it sits in a row (the kernels' tails go through the same f32x4 code), so any split gives
// the same bits as one thread.
import type { BinaryParams, CastParams, CopyParams, Dense, FillParams, GeluBackwardParams, RandomParams, Strided, UnaryOp, UnaryParams, WhereParams } from '../../backend.js';
import { contiguousStrides, sizeOf } from '../../shape.js';
import { chunkRanges, type Split, type WasmContext } from '../context.js';
import { BINARY_CODE, UNARY_CODE, U_IDENT, U_ONE, U_POW_HALF } from '../../generated/op-codes.js';
import type { WasmExportName } from '../../generated/wasm-exports.js';

/**
 * Elements from which a cheap elementwise call (add, mul, copy, fill, ...: a few
 * instructions per vector, bound by memory) runs on two threads: the two-thread crossover of
 * ew_binary_flat (add), measured by `node benchmarks/threads-crossover.mjs` (its results:
 * docs/benchmarks.md).
 */
export const EW_PARALLEL_MIN = 65536;
/**
 * The same for transcendental ops (exp, log, tanh, sigmoid, silu, GELU forward and backward,
 * pow, normal random numbers: tens of instructions per vector): twice the crossover of
 * ew_unary_flat (gelu), for margin.
 */
export const EW_HEAVY_PARALLEL_MIN = 4096;
/** Ranges start on multiples of 16 elements: whole vectors and whole 64-byte cache lines. */
const ALIGN = 16;

/** Unary ops of tens of instructions per vector (EW_HEAVY_PARALLEL_MIN). */
const HEAVY_UNARY: ReadonlySet<UnaryOp> = new Set(['exp', 'log', 'tanh', 'sigmoid', 'gelu', 'silu', 'pow']);

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
 * Writes the params block of a strided kernel (layout in assembly/elementwise.ts) into
 * scratch slot `slot`: shape | strides per operand | zeroed counters | byte address per
 * operand, for dims already collapsed, with the outermost dim cut to [start, start + count).
 */
function writeParams(ctx: WasmContext, slot: string, shape: readonly number[], strides: readonly (readonly number[])[], addrs: readonly number[], start: number, count: number): number {
  const rank = shape.length;
  const words: number[] = [count, ...shape.slice(1)];
  for (const s of strides) words.push(...s);
  for (let d = 0; d < rank; d++) words.push(0);
  addrs.forEach((a, k) => words.push(a + start * strides[k][0] * 4));
  return ctx.params(slot, words);
}

/**
 * Runs strided kernel `name` over `ops` as name(...lead, params, rank, ...trail), split
 * over the outermost collapsed dim when the call is large enough. The kernels step
 * operands through the params block, so each thread gets a block of its own.
 */
function runStrided(ctx: WasmContext, name: WasmExportName, lead: readonly number[], trail: readonly number[], shape: readonly number[], ops: readonly Operand[], minWork = EW_PARALLEL_MIN): void {
  const c = collapseDims(shape, ops.map((o) => o.strides));
  const rank = c.shape.length;
  const addrs = ops.map((o) => o.addr);
  const outer = c.shape[0];
  const threads = ctx.threadsFor(sizeOf(shape), minWork, rank === 1 ? Math.ceil(outer / ALIGN) : outer);
  const split = chunkRanges(outer, threads, rank === 1 ? ALIGN : 1);
  ctx.run(
    name,
    split.ranges.map(([start, count], i) => [...lead, writeParams(ctx, `ew#${i}`, c.shape, c.strides, addrs, start, count), rank, ...trail]),
    split.threads,
  );
}

/** Splits a dense range of n elements into per-thread [start, count] ranges. */
function flatParts(ctx: WasmContext, n: number, minWork = EW_PARALLEL_MIN): Split {
  const threads = ctx.threadsFor(n, minWork, Math.ceil(n / ALIGN));
  return chunkRanges(n, threads, ALIGN);
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
  // pow's fast paths (code changed above) are cheap.
  const minWork = code === UNARY_CODE[p.op] && HEAVY_UNARY.has(p.op) ? EW_HEAVY_PARALLEL_MIN : EW_PARALLEL_MIN;
  const sx = flatStride(p.x.strides, p.shape);
  if (sx >= 0) {
    const n = sizeOf(p.shape);
    const x = ctx.addr(p.x);
    const out = ctx.addr(p.out);
    if (n < minWork && !ctx.splitAlways) ctx.exports.ew_unary_flat(code, x, sx, out, n, alpha);
    else ctx.runSplit('ew_unary_flat', flatParts(ctx, n, minWork), (s, c) => [code, x + s * sx * 4, sx, out + s * 4, c, alpha]);
    return;
  }
  runStrided(ctx, 'ew_unary', [code], [alpha], p.shape, [strided(ctx, p.x), dense(ctx, p.out, p.shape)], minWork);
}

export function binary(ctx: WasmContext, p: BinaryParams): void {
  const n = sizeOf(p.shape);
  if (n === 0) return;
  const code = BINARY_CODE[p.op];
  const minWork = p.op === 'pow' ? EW_HEAVY_PARALLEL_MIN : EW_PARALLEL_MIN;
  const sa = flatStride(p.a.strides, p.shape);
  const sb = flatStride(p.b.strides, p.shape);
  if (sa >= 0 && sb >= 0) {
    const a = ctx.addr(p.a);
    const b = ctx.addr(p.b);
    const out = ctx.addr(p.out);
    if (n < minWork && !ctx.splitAlways) ctx.exports.ew_binary_flat(code, a, sa, b, sb, out, n);
    else ctx.runSplit('ew_binary_flat', flatParts(ctx, n, minWork), (s, c) => [code, a + s * sa * 4, sa, b + s * sb * 4, sb, out + s * 4, c]);
    return;
  }
  runStrided(ctx, 'ew_binary', [code], [], p.shape, [strided(ctx, p.a), strided(ctx, p.b), dense(ctx, p.out, p.shape)], minWork);
}

export function where(ctx: WasmContext, p: WhereParams): void {
  if (sizeOf(p.shape) === 0) return;
  const ops = [strided(ctx, p.cond), strided(ctx, p.a), strided(ctx, p.b), dense(ctx, p.out, p.shape)];
  runStrided(ctx, 'ew_where', [p.condDType === 'i32' ? 1 : 0], [], p.shape, ops);
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
 * Each pass reads one buffer and writes another, so each may be split over threads.
 */
export function copy(ctx: WasmContext, p: CopyParams): void {
  const n = sizeOf(p.shape);
  if (n === 0) return;
  const [xlo, xhi] = span(p.x, p.shape);
  const [olo, ohi] = span(p.out, p.shape);
  if (p.x.storage === p.out.storage && xlo <= ohi && olo <= xhi) {
    const tmp = { addr: ctx.scratch('ew.copy', n * 4), strides: contiguousStrides(p.shape) };
    runStrided(ctx, 'ew_copy', [], [], p.shape, [strided(ctx, p.x), tmp]);
    runStrided(ctx, 'ew_copy', [], [], p.shape, [tmp, strided(ctx, p.out)]);
    return;
  }
  runStrided(ctx, 'ew_copy', [], [], p.shape, [strided(ctx, p.x), strided(ctx, p.out)]);
}

export function cast(ctx: WasmContext, p: CastParams): void {
  if (sizeOf(p.shape) === 0) return;
  const mode = p.from === p.to ? 0 : p.from === 'f32' ? 1 : 2;
  runStrided(ctx, 'ew_cast', [mode], [], p.shape, [strided(ctx, p.x), dense(ctx, p.out, p.shape)]);
}

const bits = new Int32Array(1);
const bitsF32 = new Float32Array(bits.buffer);

export function fill(ctx: WasmContext, p: FillParams): void {
  if (p.n === 0) return;
  // f32: the value rounded to f32 (as Float32Array.fill); i32: ToInt32 (as Int32Array.fill).
  if (p.dtype === 'f32') bitsF32[0] = p.value;
  else bits[0] = p.value;
  const out = ctx.addr(p.out);
  const v = bits[0];
  if (p.n < EW_PARALLEL_MIN && !ctx.splitAlways) ctx.exports.ew_fill(out, p.n, v);
  else ctx.runSplit('ew_fill', flatParts(ctx, p.n), (s, c) => [out + s * 4, c, v]);
}

export function random(ctx: WasmContext, p: RandomParams): void {
  if (p.n === 0) return;
  // src/random.ts hashes ToInt32(seed) and ToInt32(counter + i): the kernel adds i to the
  // counter's low 32 bits with i32 wrap-around, which is the same value; a range starting
  // at element s starts at counter + s.
  const name = p.dist === 'uniform' ? 'ew_random_uniform' : 'ew_random_normal';
  const out = ctx.addr(p.out);
  const split = flatParts(ctx, p.n, p.dist === 'normal' ? EW_HEAVY_PARALLEL_MIN : EW_PARALLEL_MIN);
  ctx.runSplit(name, split, (s, c) => [out + s * 4, c, p.seed | 0, (p.counter + s) | 0]);
}

export function geluBackward(ctx: WasmContext, p: GeluBackwardParams): void {
  if (p.n === 0) return;
  const [x, dy, dx] = [ctx.addr(p.x), ctx.addr(p.dy), ctx.addr(p.dx)];
  ctx.runSplit('ew_gelu_backward', flatParts(ctx, p.n, EW_HEAVY_PARALLEL_MIN), (s, c) => [x + s * 4, dy + s * 4, dx + s * 4, c]);
}
