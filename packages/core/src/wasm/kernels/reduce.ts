// Host side of the reduce family (assembly/reduce.ts).
import type { ReduceOp, ReduceParams, SoftmaxBackwardParams, SoftmaxParams } from '../../backend.js';
import type { WasmContext } from '../context.js';

const REDUCE_CODE: Record<ReduceOp, number> = { sum: 0, mean: 1, max: 2, min: 3, argmax: 4, argmin: 5 };

export function reduce(ctx: WasmContext, p: ReduceParams): void {
  if (p.outer === 0 || p.inner === 0) return;
  // Column reductions (inner > 1) keep per-column f64 totals + f32 partials (sum) or
  // f32 bests + i32 indices (max/min/arg) in scratch: 12 bytes per column.
  const scratch = p.inner > 1 ? ctx.scratch('reduce', p.inner * 12) : 0;
  ctx.exports.red_reduce(REDUCE_CODE[p.op], ctx.addr(p.x), ctx.addr(p.out), p.outer, p.axisLen, p.inner, scratch);
}

export function softmax(ctx: WasmContext, p: SoftmaxParams): void {
  if (p.rows === 0) return;
  ctx.exports.red_softmax(ctx.addr(p.x), ctx.addr(p.out), p.rows, p.cols, p.log ? 1 : 0);
}

export function softmaxBackward(ctx: WasmContext, p: SoftmaxBackwardParams): void {
  if (p.rows === 0) return;
  ctx.exports.red_softmax_backward(ctx.addr(p.y), ctx.addr(p.dy), ctx.addr(p.dx), p.rows, p.cols, p.log ? 1 : 0);
}
