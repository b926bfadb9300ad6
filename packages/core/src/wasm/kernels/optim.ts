// Host side of the optim family (assembly/optim.ts): scalar hyper-parameters are folded
// here in float64 (bias corrections, 1 - beta, ...) and passed to the fused kernels.
import type { AdamParams, SgdParams } from '../../backend.js';
import type { WasmContext } from '../context.js';

export function sgdStep(ctx: WasmContext, p: SgdParams): void {
  if (p.n === 0) return;
  const buf = p.momentum !== 0 && p.momentumBuf ? ctx.addr(p.momentumBuf) : 0;
  ctx.exports.optim_sgd(ctx.addr(p.param), ctx.addr(p.grad), buf, p.n, p.lr, p.momentum, 1 - p.dampening, p.nesterov ? 1 : 0, p.weightDecay, p.firstStep ? 1 : 0);
}

export function adamStep(ctx: WasmContext, p: AdamParams): void {
  if (p.n === 0) return;
  const bc1 = 1 - Math.pow(p.beta1, p.step);
  const bc2 = 1 - Math.pow(p.beta2, p.step);
  const vMax = p.amsgrad && p.vMax ? ctx.addr(p.vMax) : 0;
  ctx.exports.optim_adam(
    ctx.addr(p.param), ctx.addr(p.grad), ctx.addr(p.m), ctx.addr(p.v), vMax, p.n,
    p.lr / bc1, p.beta1, 1 - p.beta1, p.beta2, 1 - p.beta2, 1 / bc2, p.eps, p.weightDecay, 1 - p.lr * p.weightDecay,
    p.decoupled ? 1 : 0, p.amsgrad ? 1 : 0,
  );
}
