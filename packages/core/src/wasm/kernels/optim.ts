// Host side of the optim family (assembly/optim.ts): scalar hyper-parameters are folded
// here in float64 (bias corrections, 1 - beta, ...) and passed to the fused kernels.
//
// Threads: a step over at least OPTIM_PARALLEL_MIN elements is split into contiguous
// ranges (multiples of 16 elements); every element's update is independent, so the
// result is the same bits on any number of threads.
import type { AdamParams, SgdParams } from '../../backend.js';
import { chunkRanges, type Split, type WasmContext } from '../context.js';

/**
 * Elements from which an optimizer step runs on two threads: the two-thread crossover of
 * optim_adam, measured by `node benchmarks/threads-crossover.mjs` (its results:
 * docs/benchmarks.md).
 */
export const OPTIM_PARALLEL_MIN = 32768;

function parts(ctx: WasmContext, n: number): Split {
  const threads = ctx.threadsFor(n, OPTIM_PARALLEL_MIN, Math.ceil(n / 16));
  return chunkRanges(n, threads, 16);
}

export function sgdStep(ctx: WasmContext, p: SgdParams): void {
  if (p.n === 0) return;
  const [w, g] = [ctx.addr(p.param), ctx.addr(p.grad)];
  const buf = p.momentum !== 0 && p.momentumBuf ? ctx.addr(p.momentumBuf) : 0;
  ctx.runSplit(
    'optim_sgd',
    parts(ctx, p.n),
    (s, c) => [w + s * 4, g + s * 4, buf ? buf + s * 4 : 0, c, p.lr, p.momentum, 1 - p.dampening, p.nesterov ? 1 : 0, p.weightDecay, p.firstStep ? 1 : 0],
  );
}

export function adamStep(ctx: WasmContext, p: AdamParams): void {
  if (p.n === 0) return;
  const bc1 = 1 - Math.pow(p.beta1, p.step);
  const bc2 = 1 - Math.pow(p.beta2, p.step);
  const [w, g, m, v] = [ctx.addr(p.param), ctx.addr(p.grad), ctx.addr(p.m), ctx.addr(p.v)];
  const vMax = p.amsgrad && p.vMax ? ctx.addr(p.vMax) : 0;
  ctx.runSplit(
    'optim_adam',
    parts(ctx, p.n),
    (s, c) => [
      w + s * 4, g + s * 4, m + s * 4, v + s * 4, vMax ? vMax + s * 4 : 0, c,
      p.lr / bc1, p.beta1, 1 - p.beta1, p.beta2, 1 - p.beta2, 1 / bc2, p.eps, p.weightDecay, 1 - p.lr * p.weightDecay,
      p.decoupled ? 1 : 0, p.amsgrad ? 1 : 0,
    ],
  );
}
