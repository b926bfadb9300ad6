// Host side of the select family (assembly/select.ts). Every index is range-checked here,
// before the kernel runs, so a bad index throws an IndexError and nothing is written.
//
// Threads: selects and gathers are split over `outer` slices (an embedding lookup, outer
// 1, over its indices), adds over `outer` slices only (two indices may hit the same row
// of dx, so splitting `count` would race), cross-entropy over rows with a scratch block
// per thread. Each output element is still computed by one thread in the same order.
import type { CrossEntropyBackwardParams, Dense, CrossEntropyParams, GatherParams, IndexAddParams, IndexSelectParams, ScatterAddParams } from '../../backend.js';
import { checkIndexRange } from '../../reference/select.js';
import { chunkRanges, type Split, type WasmContext } from '../context.js';
import { ROWS_PARALLEL_MIN, SOFTMAX_PARALLEL_MIN, rowParts } from './reduce.js';

/** Validates n i32 indices of `idx` against [0, limit) (except `ignore`) in wasm memory. */
function checkIndices(ctx: WasmContext, idx: Dense, n: number, limit: number, what: string, ignore?: number): void {
  checkIndexRange(ctx.heapI32(), ctx.addr(idx) >> 2, n, limit, what, ignore);
}

/** Per-thread ranges of `outer` for a call moving `elems` elements. */
function outerParts(ctx: WasmContext, outer: number, elems: number): Split {
  const threads = ctx.threadsFor(elems, ROWS_PARALLEL_MIN, outer);
  return chunkRanges(outer, threads);
}

export function indexSelect(ctx: WasmContext, p: IndexSelectParams): void {
  checkIndices(ctx, p.indices, p.count, p.axisLen, 'indexSelect');
  if (p.outer === 0 || p.count === 0 || p.inner === 0) return;
  const [x, idx, out] = [ctx.addr(p.x), ctx.addr(p.indices), ctx.addr(p.out)];
  const elems = p.outer * p.count * p.inner;
  if (p.outer === 1) {
    // out[c] = x[idx[c]]: ranges of indices.
    const threads = ctx.threadsFor(elems, ROWS_PARALLEL_MIN, p.count);
    ctx.runSplit('sel_index_select', chunkRanges(p.count, threads), (c, n) => [x, idx + c * 4, out + c * p.inner * 4, 1, p.axisLen, p.inner, n]);
    return;
  }
  ctx.runSplit(
    'sel_index_select',
    outerParts(ctx, p.outer, elems),
    (o, n) => [x + o * p.axisLen * p.inner * 4, idx, out + o * p.count * p.inner * 4, n, p.axisLen, p.inner, p.count],
  );
}

export function indexAdd(ctx: WasmContext, p: IndexAddParams): void {
  checkIndices(ctx, p.indices, p.count, p.axisLen, 'indexAdd');
  if (p.outer === 0 || p.count === 0 || p.inner === 0) return;
  const [dOut, idx, dx] = [ctx.addr(p.dOut), ctx.addr(p.indices), ctx.addr(p.dx)];
  ctx.runSplit(
    'sel_index_add',
    outerParts(ctx, p.outer, p.outer * p.count * p.inner),
    (o, n) => [dOut + o * p.count * p.inner * 4, idx, dx + o * p.axisLen * p.inner * 4, n, p.axisLen, p.inner, p.count],
  );
}

export function gather(ctx: WasmContext, p: GatherParams): void {
  const n = p.outer * p.count * p.inner;
  checkIndices(ctx, p.indices, n, p.axisLen, 'gather');
  if (n === 0) return;
  const [x, idx, out] = [ctx.addr(p.x), ctx.addr(p.indices), ctx.addr(p.out)];
  const slice = p.count * p.inner * 4;
  ctx.runSplit(
    'sel_gather',
    outerParts(ctx, p.outer, n),
    (o, k) => [x + o * p.axisLen * p.inner * 4, idx + o * slice, out + o * slice, k, p.axisLen, p.inner, p.count],
  );
}

export function scatterAdd(ctx: WasmContext, p: ScatterAddParams): void {
  const n = p.outer * p.count * p.inner;
  checkIndices(ctx, p.indices, n, p.axisLen, 'scatterAdd');
  if (n === 0) return;
  const [dOut, idx, dx] = [ctx.addr(p.dOut), ctx.addr(p.indices), ctx.addr(p.dx)];
  const slice = p.count * p.inner * 4;
  ctx.runSplit(
    'sel_scatter_add',
    outerParts(ctx, p.outer, n),
    (o, k) => [dOut + o * slice, idx + o * slice, dx + o * p.axisLen * p.inner * 4, k, p.axisLen, p.inner, p.count],
  );
}

/**
 * ignoreIndex as an i32 the kernel compares targets with. One outside the i32 range can
 * match no target, and -1 matches none either (checked targets lie in [0, cols)).
 */
function ignoreAsI32(ignoreIndex: number): number {
  return ignoreIndex === (ignoreIndex | 0) ? ignoreIndex : -1;
}

export function crossEntropy(ctx: WasmContext, p: CrossEntropyParams): void {
  checkIndices(ctx, p.targets, p.rows, p.cols, 'crossEntropy target', p.ignoreIndex);
  if (p.rows === 0) return;
  const [logits, targets, losses] = [ctx.addr(p.logits), ctx.addr(p.targets), ctx.addr(p.losses)];
  const row = p.cols * 4;
  const ignore = ignoreAsI32(p.ignoreIndex);
  // 24 bytes per thread for the row's max, e_t and the sum of the other terms.
  ctx.runSplit(
    'sel_cross_entropy',
    rowParts(ctx, p.rows, p.cols, SOFTMAX_PARALLEL_MIN),
    (r, n) => [logits + r * row, targets + r * 4, losses + r * 4, n, p.cols, ignore],
    (t) => [ctx.scratch(`crossEntropy#${t}`, 24)],
  );
}

export function crossEntropyBackward(ctx: WasmContext, p: CrossEntropyBackwardParams): void {
  checkIndices(ctx, p.targets, p.rows, p.cols, 'crossEntropyBackward target', p.ignoreIndex);
  if (p.rows === 0) return;
  const [logits, targets, dLosses, dLogits] = [ctx.addr(p.logits), ctx.addr(p.targets), ctx.addr(p.dLosses), ctx.addr(p.dLogits)];
  const row = p.cols * 4;
  const ignore = ignoreAsI32(p.ignoreIndex);
  ctx.runSplit(
    'sel_cross_entropy_backward',
    rowParts(ctx, p.rows, p.cols, SOFTMAX_PARALLEL_MIN),
    (r, n) => [logits + r * row, targets + r * 4, dLosses + r * 4, dLogits + r * row, n, p.cols, ignore],
    (t) => [ctx.scratch(`crossEntropy#${t}`, 24)],
  );
}
