// Host side of the norm family (assembly/norm.ts).
//
// Threads: the forward pass is split over rows. The backward pass writes dx per row but
// accumulates dgamma / dbeta over all rows, so on several threads it runs as two kernels:
// dx over row ranges, then dgamma / dbeta over column ranges (every column summed over all
// rows in order, in float64, as the one-thread kernel does): the same bits either way.
import type { LayerNormBackwardParams, LayerNormParams } from '../../backend.js';
import type { WasmContext } from '../context.js';
import { chunkRanges } from '../context.js';
import { rowParts } from './reduce.js';

export function layerNorm(ctx: WasmContext, p: LayerNormParams): void {
  if (p.rows === 0) return;
  const [x, g, b, out, mean, rstd] = [ctx.addr(p.x), ctx.addr(p.gamma), ctx.addr(p.beta), ctx.addr(p.out), ctx.addr(p.mean), ctx.addr(p.rstd)];
  const row = p.cols * 4;
  ctx.runSplit('norm_layer_norm', rowParts(ctx, p.rows, p.cols), (r, n) => [x + r * row, g, b, out + r * row, mean + r * 4, rstd + r * 4, n, p.cols, p.eps]);
}

export function layerNormBackward(ctx: WasmContext, p: LayerNormBackwardParams): void {
  if (p.rows === 0 || p.cols === 0) return;
  const [dy, x, g, mean, rstd, dx, dg, db] = [ctx.addr(p.dy), ctx.addr(p.x), ctx.addr(p.gamma), ctx.addr(p.mean), ctx.addr(p.rstd), ctx.addr(p.dx), ctx.addr(p.dgamma), ctx.addr(p.dbeta)];
  const rows = rowParts(ctx, p.rows, p.cols);
  // float64 dgamma / dbeta column accumulators, columns padded to a multiple of 4.
  const scratch = ctx.scratch('layerNormBackward', Math.ceil(p.cols / 4) * 64);
  if (rows.ranges.length === 1) {
    ctx.exports.norm_layer_norm_backward(dy, x, g, mean, rstd, dx, dg, db, p.rows, p.cols, scratch);
    return;
  }
  const row = p.cols * 4;
  ctx.runSplit('norm_layer_norm_backward_dx', rows, (r, n) => [dy + r * row, x + r * row, g, mean + r * 4, rstd + r * 4, dx + r * row, n, p.cols]);
  // Column ranges of whole 4-column groups (the kernel's vector width).
  const groups = chunkRanges(Math.ceil(p.cols / 4), Math.min(rows.threads, Math.ceil(p.cols / 4)));
  ctx.runSplit('norm_layer_norm_backward_params', groups, (s, n) => [dy, x, mean, rstd, dg, db, p.rows, p.cols, s * 4, Math.min(n * 4, p.cols - s * 4), scratch]);
}
