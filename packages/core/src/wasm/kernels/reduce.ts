// Host side of the reduce family (assembly/reduce.ts).
//
// Threads: a reduction is split over its `outer` slices and (log-)softmax over rows, in
// contiguous ranges; each output element is still computed by one thread in the same
// order, so the bits do not depend on the thread count.
import type { ReduceParams, SoftmaxBackwardParams, SoftmaxParams } from '../../backend.js';
import { chunkRanges, type Split, type WasmContext } from '../context.js';
import { REDUCE_CODE } from '../../generated/op-codes.js';

/**
 * Elements (rows x cols, outer x axisLen x inner) from which a row-wise kernel that does a
 * few operations per element (reductions, layerNorm, selects) runs on two threads: the
 * two-thread crossover of norm_layer_norm over 256-column rows, measured by
 * `node benchmarks/threads-crossover.mjs` (its results: docs/benchmarks.md).
 */
export const ROWS_PARALLEL_MIN = 65536;
/**
 * The same for row kernels built on exp (softmax, log-softmax backward, cross-entropy): the
 * crossover of red_softmax over 256-column rows, doubled for margin.
 */
export const SOFTMAX_PARALLEL_MIN = 4096;

export function reduce(ctx: WasmContext, p: ReduceParams): void {
  if (p.outer === 0 || p.inner === 0) return;
  const threads = ctx.threadsFor(p.outer * p.axisLen * p.inner, ROWS_PARALLEL_MIN, p.outer);
  const split = chunkRanges(p.outer, threads);
  const slice = p.axisLen * p.inner * 4;
  const [x, out] = [ctx.addr(p.x), ctx.addr(p.out)];
  // Column reductions (inner > 1) keep per-column f64 totals + f32 partials (sum) or
  // f32 bests + i32 indices (max/min/arg) in scratch: 12 bytes per column, per thread.
  ctx.runSplit(
    'red_reduce',
    split,
    (o, count) => [REDUCE_CODE[p.op], x + o * slice, out + o * p.inner * 4, count, p.axisLen, p.inner],
    (t) => [p.inner > 1 ? ctx.scratch(`reduce#${t}`, p.inner * 12) : 0],
  );
}

/** Per-thread row ranges of a [rows, cols] row-wise kernel. */
export function rowParts(ctx: WasmContext, rows: number, cols: number, minWork = ROWS_PARALLEL_MIN): Split {
  const threads = ctx.threadsFor(rows * cols, minWork, rows);
  return chunkRanges(rows, threads);
}

export function softmax(ctx: WasmContext, p: SoftmaxParams): void {
  if (p.rows === 0) return;
  const [x, out] = [ctx.addr(p.x), ctx.addr(p.out)];
  const row = p.cols * 4;
  ctx.runSplit('red_softmax', rowParts(ctx, p.rows, p.cols, SOFTMAX_PARALLEL_MIN), (r, n) => [x + r * row, out + r * row, n, p.cols, p.log ? 1 : 0]);
}

export function softmaxBackward(ctx: WasmContext, p: SoftmaxBackwardParams): void {
  if (p.rows === 0) return;
  const [y, dy, dx] = [ctx.addr(p.y), ctx.addr(p.dy), ctx.addr(p.dx)];
  const row = p.cols * 4;
  // Log-softmax's backward takes an exp per element; softmax's does not.
  const min = p.log ? SOFTMAX_PARALLEL_MIN : ROWS_PARALLEL_MIN;
  ctx.runSplit('red_softmax_backward', rowParts(ctx, p.rows, p.cols, min), (r, n) => [y + r * row, dy + r * row, dx + r * row, n, p.cols, p.log ? 1 : 0]);
}
