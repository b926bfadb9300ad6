// Host side of the select family (assembly/select.ts). Every index is range-checked here,
// before the kernel runs, so a bad index throws an IndexError and nothing is written.
import type { CrossEntropyBackwardParams, Dense, CrossEntropyParams, GatherParams, IndexAddParams, IndexSelectParams, ScatterAddParams } from '../../backend.js';
import { checkIndexRange } from '../../reference/select.js';
import type { WasmContext } from '../context.js';

/** Validates n i32 indices of `idx` against [0, limit) (except `ignore`) in wasm memory. */
function checkIndices(ctx: WasmContext, idx: Dense, n: number, limit: number, what: string, ignore?: number): void {
  checkIndexRange(ctx.heapI32(), ctx.addr(idx) >> 2, n, limit, what, ignore);
}

export function indexSelect(ctx: WasmContext, p: IndexSelectParams): void {
  checkIndices(ctx, p.indices, p.count, p.axisLen, 'indexSelect');
  if (p.outer === 0 || p.count === 0 || p.inner === 0) return;
  ctx.exports.sel_index_select(ctx.addr(p.x), ctx.addr(p.indices), ctx.addr(p.out), p.outer, p.axisLen, p.inner, p.count);
}

export function indexAdd(ctx: WasmContext, p: IndexAddParams): void {
  checkIndices(ctx, p.indices, p.count, p.axisLen, 'indexAdd');
  if (p.outer === 0 || p.count === 0 || p.inner === 0) return;
  ctx.exports.sel_index_add(ctx.addr(p.dOut), ctx.addr(p.indices), ctx.addr(p.dx), p.outer, p.axisLen, p.inner, p.count);
}

export function gather(ctx: WasmContext, p: GatherParams): void {
  const n = p.outer * p.count * p.inner;
  checkIndices(ctx, p.indices, n, p.axisLen, 'gather');
  if (n === 0) return;
  ctx.exports.sel_gather(ctx.addr(p.x), ctx.addr(p.indices), ctx.addr(p.out), p.outer, p.axisLen, p.inner, p.count);
}

export function scatterAdd(ctx: WasmContext, p: ScatterAddParams): void {
  const n = p.outer * p.count * p.inner;
  checkIndices(ctx, p.indices, n, p.axisLen, 'scatterAdd');
  if (n === 0) return;
  ctx.exports.sel_scatter_add(ctx.addr(p.dOut), ctx.addr(p.indices), ctx.addr(p.dx), p.outer, p.axisLen, p.inner, p.count);
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
  // 24 bytes for the row's max, e_t and the sum of the other terms.
  const parts = ctx.scratch('crossEntropy', 24);
  ctx.exports.sel_cross_entropy(ctx.addr(p.logits), ctx.addr(p.targets), ctx.addr(p.losses), p.rows, p.cols, ignoreAsI32(p.ignoreIndex), parts);
}

export function crossEntropyBackward(ctx: WasmContext, p: CrossEntropyBackwardParams): void {
  checkIndices(ctx, p.targets, p.rows, p.cols, 'crossEntropyBackward target', p.ignoreIndex);
  if (p.rows === 0) return;
  const parts = ctx.scratch('crossEntropy', 24);
  ctx.exports.sel_cross_entropy_backward(
    ctx.addr(p.logits), ctx.addr(p.targets), ctx.addr(p.dLosses), ctx.addr(p.dLogits), p.rows, p.cols, ignoreAsI32(p.ignoreIndex), parts,
  );
}
