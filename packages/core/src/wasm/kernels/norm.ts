// Host side of the norm family (assembly/norm.ts).
import type { LayerNormBackwardParams, LayerNormParams } from '../../backend.js';
import type { WasmContext } from '../context.js';

export function layerNorm(ctx: WasmContext, p: LayerNormParams): void {
  if (p.rows === 0) return;
  ctx.exports.norm_layer_norm(ctx.addr(p.x), ctx.addr(p.gamma), ctx.addr(p.beta), ctx.addr(p.out), ctx.addr(p.mean), ctx.addr(p.rstd), p.rows, p.cols, p.eps);
}

export function layerNormBackward(ctx: WasmContext, p: LayerNormBackwardParams): void {
  if (p.rows === 0 || p.cols === 0) return;
  // float64 dgamma / dbeta column accumulators, columns padded to a multiple of 4.
  const cols4 = Math.ceil(p.cols / 4) * 4;
  const scratch = ctx.scratch('layerNormBackward', cols4 * 16);
  ctx.exports.norm_layer_norm_backward(
    ctx.addr(p.dy), ctx.addr(p.x), ctx.addr(p.gamma), ctx.addr(p.mean), ctx.addr(p.rstd),
    ctx.addr(p.dx), ctx.addr(p.dgamma), ctx.addr(p.dbeta), p.rows, p.cols, scratch,
  );
}
