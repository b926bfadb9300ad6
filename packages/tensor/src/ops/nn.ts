/**
 * Neural-network functions: softmax / logSoftmax, layerNorm, dropout,
 * crossEntropy and mse. Forward and backward use the fused core kernels
 * (softmax(Backward), layerNorm(Backward), crossEntropy(Backward)).
 */

import { ArgumentError, IndexError, ShapeError, fmtShape, normalizeAxis, requireFusedKernel, sizeOf } from '@tessera/core';
import { attachGrad } from '../autograd.js';
import { backendOf, dense, empty, expectDType, withDense } from '../kernels.js';
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { rand } from './creation.js';
import { div, ge, mul, ne, square, sub } from './elementwise.js';
import { mean, sum } from './reduce.js';
import { alias, reshape, transpose } from './shape.js';

function axisFor(op: string, axis: number, rank: number): number {
  try {
    return normalizeAxis(axis, rank);
  } catch (e) {
    if (e instanceof ArgumentError) throw new ArgumentError(`${op}: ${e.message}`);
    throw e;
  }
}

function filled(like: Tensor, shape: readonly number[], value: number): Tensor {
  const be = like._ref.backend;
  const t = empty(be, shape, 'f32');
  if (t.size > 0) be.fill({ out: dense(t), n: t.size, value, dtype: 'f32' });
  return t;
}

/** (log-)softmax over the last dim. */
function softmaxLast(x: Tensor, log: boolean): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  const be = backendOf(op, x);
  expectDType(op, x, 'f32');
  const cols = x.rank === 0 ? 1 : x.shape[x.rank - 1];
  const rows = cols === 0 ? 0 : x.size / cols;
  const out = empty(be, x.shape, 'f32');
  if (out.size > 0) withDense([x], (xd) => requireFusedKernel(be, 'softmax', 'softmax')({ x: xd, out: dense(out), rows, cols, log }));
  return attachGrad(log ? 'LogSoftmax' : 'Softmax', out, [x], (save) => {
    const Y = save(out);
    return (g) => {
      const gb = backendOf(`${op} backward`, g, Y);
      const dx = empty(gb, Y.shape, 'f32');
      if (dx.size > 0) withDense([Y, g], (yd, gd) => requireFusedKernel(gb, 'softmaxBackward', 'softmax backward')({ y: yd, dy: gd, dx: dense(dx), rows, cols, log }));
      return [dx];
    };
  });
}

function softmaxAlong(x: Tensor, axis: number, log: boolean): Tensor {
  x._assertLive(log ? 'logSoftmax' : 'softmax');
  const a = axisFor(log ? 'logSoftmax' : 'softmax', axis, x.rank);
  if (x.rank === 0 || a === x.rank - 1) return softmaxLast(x, log);
  return tidy(() => transpose(softmaxLast(transpose(x, a, -1), log), a, -1));
}

/**
 * Softmax along `axis` (default: last).
 * @example softmax(logits) // rows sum to 1
 */
export function softmax(x: Tensor, axis = -1): Tensor {
  return softmaxAlong(x, axis, false);
}

/** log(softmax(x)) along `axis`, computed stably. */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return softmaxAlong(x, axis, true);
}

/**
 * Layer normalisation over the trailing `normalizedShape` dims (default: the
 * last dim), with optional elementwise `weight` and `bias` of that shape.
 * @example layerNorm(x, [C], gamma, beta, 1e-5)
 */
export function layerNorm(x: Tensor, normalizedShape?: number | readonly number[], weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const params = [weight, bias].filter((t): t is Tensor => !!t);
  const be = backendOf('layerNorm', x, ...params);
  expectDType('layerNorm', x, 'f32');
  if (weight) expectDType('layerNorm', weight, 'f32', 'weight');
  if (bias) expectDType('layerNorm', bias, 'f32', 'bias');
  if (x.rank === 0) throw new ShapeError('layerNorm: input must have at least one dimension');
  const ns = normalizedShape === undefined ? [x.shape[x.rank - 1]] : typeof normalizedShape === 'number' ? [normalizedShape] : normalizedShape.slice();
  const tail = x.shape.slice(x.rank - ns.length);
  if (ns.length === 0 || ns.length > x.rank || tail.some((d, i) => d !== ns[i])) {
    throw new ShapeError(`layerNorm: normalizedShape ${fmtShape(ns)} does not match the trailing dims of the input ${fmtShape(x.shape)}`);
  }
  for (const [name, p] of [['weight', weight], ['bias', bias]] as const) {
    if (p && (p.rank !== ns.length || p.shape.some((d, i) => d !== ns[i]))) {
      throw new ShapeError(`layerNorm: ${name} of shape ${fmtShape(p.shape)} must have the normalized shape ${fmtShape(ns)}`);
    }
  }
  const cols = sizeOf(ns);
  const rows = cols === 0 ? 0 : x.size / cols;
  const out = empty(be, x.shape, 'f32');
  const meanT = empty(be, [rows], 'f32', false);
  const rstdT = empty(be, [rows], 'f32', false);
  const gamma = weight ?? filled(x, ns, 1);
  const beta = bias ?? filled(x, ns, 0);
  try {
    if (out.size > 0) {
      withDense([x, gamma, beta], (xd, gd, bd) =>
        requireFusedKernel(be, 'layerNorm', 'layerNorm')({ x: xd, gamma: gd, beta: bd, out: dense(out), mean: dense(meanT), rstd: dense(rstdT), rows, cols, eps }),
      );
    }
    attachGrad('LayerNorm', out, [x, weight, bias], (save, needs) => {
      const X = save(x);
      const M = save(meanT);
      const R = save(rstdT);
      const G = weight ? save(weight) : null;
      return (g) => {
        const gb = backendOf('layerNorm backward', g, X);
        const dx = empty(gb, X.shape, 'f32');
        const dgamma = filled(g, [cols], 0);
        const dbeta = filled(g, [cols], 0);
        const gam = G ?? filled(g, [cols], 1);
        if (dx.size > 0) {
          withDense([g, X, gam], (gd, xd, gmd) =>
            requireFusedKernel(gb, 'layerNormBackward', 'layerNorm backward')({ dy: gd, x: xd, gamma: gmd, mean: dense(M), rstd: dense(R), dx: dense(dx), dgamma: dense(dgamma), dbeta: dense(dbeta), rows, cols }),
          );
        }
        return [dx, needs[1] ? reshape(dgamma, ns) : null, needs[2] ? reshape(dbeta, ns) : null];
      };
    });
  } finally {
    meanT.dispose();
    rstdT.dispose();
    if (gamma !== weight) gamma.dispose();
    if (beta !== bias) beta.dispose();
  }
  return out;
}

/** Options for `dropout`. */
export interface DropoutOptions {
  /** Drop only in training (default true); otherwise the input passes through. */
  training?: boolean;
  /** Seed for the mask; the global generator when omitted. */
  seed?: number;
}

/**
 * Zeroes each element with probability p and scales the rest by 1/(1-p).
 * @example dropout(h, 0.1, { training: model.training })
 */
export function dropout(x: Tensor, p = 0.5, options: DropoutOptions = {}): Tensor {
  x._assertLive('dropout');
  if (!(p >= 0 && p <= 1)) throw new ArgumentError(`dropout: probability p must be in [0, 1], got ${p}`);
  if (options.training === false || p === 0) return alias(x);
  return tidy(() => {
    if (p === 1) return mul(x, 0);
    const keepMask = mul(ge(rand(x.shape, { seed: options.seed }), p), 1 / (1 - p));
    return mul(x, keepMask);
  });
}

/** How per-element losses are combined. */
export type Reduction = 'mean' | 'sum' | 'none';

/** Options for `crossEntropy`. */
export interface CrossEntropyOptions {
  /** Targets equal to this contribute no loss and no gradient (default -100). */
  ignoreIndex?: number;
  /** 'mean' (over non-ignored targets, default), 'sum', or 'none' (per-row losses). */
  reduction?: Reduction;
}

function checkReduction(op: string, r: string): void {
  if (r !== 'mean' && r !== 'sum' && r !== 'none') throw new ArgumentError(`${op}: reduction must be 'mean', 'sum' or 'none', got '${r}'`);
}

/** Per-row losses [rows] of logits [rows, cols] against i32 targets. */
function crossEntropyRows(logits: Tensor, targets: Tensor, ignoreIndex: number, context: string): Tensor {
  const be = backendOf('crossEntropy', logits, targets);
  const cols = logits.shape[logits.rank - 1];
  const rows = targets.size;
  const losses = empty(be, targets.shape, 'f32');
  if (rows > 0) {
    withDense([logits, targets], (ld, td) => {
      try {
        requireFusedKernel(be, 'crossEntropy', 'crossEntropy')({ logits: ld, targets: td, losses: dense(losses), rows, cols, ignoreIndex });
      } catch (e) {
        if (e instanceof IndexError) throw new IndexError(`${context}: ${e.message}`);
        throw e;
      }
    });
  }
  return attachGrad('CrossEntropy', losses, [logits], (save) => {
    const L = save(logits);
    const T = save(targets);
    return (g) => {
      const gb = backendOf('crossEntropy backward', g, L);
      const dx = empty(gb, L.shape, 'f32');
      if (dx.size > 0) {
        withDense([L, T, g], (ld, td, gd) =>
          requireFusedKernel(gb, 'crossEntropyBackward', 'crossEntropy backward')({ logits: ld, targets: td, dLosses: gd, dLogits: dense(dx), rows, cols, ignoreIndex }),
        );
      }
      return [dx];
    };
  });
}

/**
 * Softmax cross-entropy of logits [..., C] against i32 class targets [...].
 * 'mean' averages over targets that are not `ignoreIndex` (NaN if all are).
 * @example crossEntropy(logits.reshape([-1, V]), targets.reshape([-1]))
 */
export function crossEntropy(logits: Tensor, targets: Tensor, options: CrossEntropyOptions = {}): Tensor {
  backendOf('crossEntropy', logits, targets);
  expectDType('crossEntropy', logits, 'f32', 'logits');
  expectDType('crossEntropy', targets, 'i32', 'targets');
  const ignoreIndex = options.ignoreIndex ?? -100;
  const reduction = options.reduction ?? 'mean';
  checkReduction('crossEntropy', reduction);
  if (!Number.isInteger(ignoreIndex)) throw new ArgumentError(`crossEntropy: ignoreIndex must be an integer, got ${ignoreIndex}`);
  const context = `crossEntropy(logits ${fmtShape(logits.shape)}, targets ${fmtShape(targets.shape)})`;
  if (logits.rank === 0) throw new ShapeError(`${context}: logits need a class dimension`);
  const lead = logits.shape.slice(0, -1);
  if (targets.rank !== lead.length || targets.shape.some((d, i) => d !== lead[i])) {
    throw new ShapeError(`${context}: targets must have the logits' shape without the last (class) dim, ${fmtShape(lead)}`);
  }
  return tidy(() => {
    const losses = crossEntropyRows(logits, targets, ignoreIndex, context);
    if (reduction === 'none') return losses;
    const total = sum(losses);
    if (reduction === 'sum') return total;
    return div(total, sum(ne(targets, ignoreIndex)));
  });
}

/**
 * Mean squared error between same-shaped tensors.
 * @example mse(pred, target) // mean((pred - target)^2)
 */
export function mse(pred: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  backendOf('mse', pred, target);
  checkReduction('mse', reduction);
  if (pred.rank !== target.rank || pred.shape.some((d, i) => d !== target.shape[i])) {
    throw new ShapeError(`mse: prediction ${fmtShape(pred.shape)} and target ${fmtShape(target.shape)} must have the same shape`);
  }
  return tidy(() => {
    const sq = square(sub(pred, target));
    return reduction === 'none' ? sq : reduction === 'sum' ? sum(sq) : mean(sq);
  });
}
