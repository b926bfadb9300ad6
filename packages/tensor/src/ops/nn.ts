/**
 * Neural-network functions: softmax / logSoftmax, layerNorm, dropout,
 * crossEntropy and mse. Each uses the backend's fused kernel where it has one
 * (softmax, layerNorm, crossEntropy and their backwards); without one the same
 * function is composed once from tensor ops on primitive kernels, and its
 * gradient comes from autograd of that composition. A fused forward whose
 * fused backward is missing gets the backward written as ops.
 */

import { ArgumentError, ShapeError, fmtShape, fusedKernel, sizeOf, type Backend } from '@tessera/core';
import { attachGrad, noGrad } from '../autograd.js';
import { axisFor, backendOf, dense, empty, expectDType, withContext, withDense } from '../kernels.js';
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { rand } from './creation.js';
import { add, cast, div, eq, exp, ge, log as logOf, mul, ne, rsqrt, square, sub } from './elementwise.js';
import { gather } from './indexing.js';
import { max, mean, sum } from './reduce.js';
import { alias, fromHost, reshape, squeeze, transpose, unsqueeze } from './shape.js';

function filled(like: Tensor, shape: readonly number[], value: number): Tensor {
  const be = like._ref.backend;
  const t = empty(be, shape, 'f32');
  if (t.size > 0) be.fill({ out: dense(t), n: t.size, value, dtype: 'f32' });
  return t;
}

/**
 * (log-)softmax over the last dim from ops: x minus its row max (a constant
 * shift, so no gradient flows through the max), then exp / sum or z - log(sum(exp z)).
 */
function softmaxComposed(x: Tensor, log: boolean): Tensor {
  // x: [..., C]; a 0-d tensor is one row of one element.
  if (x.rank === 0) return tidy(() => reshape(softmaxComposed(reshape(x, [1]), log), []));
  if (x.size === 0) return mul(x, 1);
  return tidy(() => {
    const z = sub(x, noGrad(() => max(x, -1, true)));
    if (log) return sub(z, logOf(sum(exp(z), -1, true)));
    const e = exp(z);
    return div(e, sum(e, -1, true));
  });
}

/** dx of (log-)softmax from its output y: [..., C] and upstream g, as ops. */
function softmaxBackwardComposed(y: Tensor, g: Tensor, log: boolean): Tensor {
  // softmax: dx = y (g - sum(g y)); logSoftmax: dx = g - exp(y) sum(g). A 0-d softmax is constant.
  if (y.rank === 0) return mul(g, 0);
  if (log) return sub(g, mul(exp(y), sum(g, -1, true)));
  return mul(y, sub(g, sum(mul(g, y), -1, true)));
}

/** (log-)softmax over the last dim. */
function softmaxLast(x: Tensor, log: boolean): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  const be = backendOf(op, x);
  expectDType(op, x, 'f32');
  const forward = fusedKernel(be, 'softmax');
  if (!forward) return softmaxComposed(x, log);
  const cols = x.rank === 0 ? 1 : x.shape[x.rank - 1];
  const rows = cols === 0 ? 0 : x.size / cols;
  const out = empty(be, x.shape, 'f32');
  if (out.size > 0) withDense([x], (xd) => forward({ x: xd, out: dense(out), rows, cols, log }));
  return attachGrad(log ? 'LogSoftmax' : 'Softmax', out, [x], (save) => {
    const Y = save(out);
    return (g) => {
      const gb = backendOf(`${op} backward`, g, Y);
      const backward = fusedKernel(gb, 'softmaxBackward');
      if (!backward) return [softmaxBackwardComposed(Y, g, log)];
      const dx = empty(gb, Y.shape, 'f32');
      if (dx.size > 0) withDense([Y, g], (yd, gd) => backward({ y: yd, dy: gd, dx: dense(dx), rows, cols, log }));
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
  if (!(eps >= 0 && eps < Infinity)) throw new ArgumentError(`layerNorm: eps must be a finite number >= 0, got ${eps}`);
  const forward = fusedKernel(be, 'layerNorm');
  if (!forward) return layerNormComposed(x, ns.length, weight, bias, eps);
  const cols = sizeOf(ns);
  const rows = cols === 0 ? 0 : x.size / cols;
  const out = empty(be, x.shape, 'f32');
  const meanT = empty(be, [rows], 'f32', false);
  const rstdT = empty(be, [rows], 'f32', false);
  const gamma = weight ?? filled(x, ns, 1);
  const beta = bias ?? filled(x, ns, 0);
  try {
    if (out.size > 0) {
      withDense([x, gamma, beta], (xd, gd, bd) => forward({ x: xd, gamma: gd, beta: bd, out: dense(out), mean: dense(meanT), rstd: dense(rstdT), rows, cols, eps }));
    }
    attachGrad('LayerNorm', out, [x, weight, bias], (save, needs) => {
      const X = save(x);
      const M = save(meanT);
      const R = save(rstdT);
      const G = weight ? save(weight) : null;
      return (g) => {
        const gb = backendOf('layerNorm backward', g, X);
        const backward = fusedKernel(gb, 'layerNormBackward');
        if (!backward) {
          const [dx, dgamma, dbeta] = layerNormBackwardComposed(g, X, M, R, G, rows, cols);
          return [dx, needs[1] ? reshape(dgamma, ns) : null, needs[2] ? reshape(dbeta, ns) : null];
        }
        const dx = empty(gb, X.shape, 'f32');
        const dgamma = filled(g, [cols], 0);
        const dbeta = filled(g, [cols], 0);
        const gam = G ?? filled(g, [cols], 1);
        if (dx.size > 0) {
          withDense([g, X, gam], (gd, xd, gmd) =>
            backward({ dy: gd, x: xd, gamma: gmd, mean: dense(M), rstd: dense(R), dx: dense(dx), dgamma: dense(dgamma), dbeta: dense(dbeta), rows, cols }),
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

/** layerNorm from ops over the trailing `nd` dims: (x - mean) / sqrt(biased var + eps) * weight + bias. */
function layerNormComposed(x: Tensor, nd: number, weight: Tensor | null | undefined, bias: Tensor | null | undefined, eps: number): Tensor {
  return tidy(() => {
    // x: [..., *normalizedShape]; statistics per leading index over the last nd dims.
    const axes = Array.from({ length: nd }, (_, i) => x.rank - nd + i);
    const xc = sub(x, mean(x, axes, true));
    let y = mul(xc, rsqrt(add(mean(square(xc), axes, true), eps)));
    if (weight) y = mul(y, weight);
    if (bias) y = add(y, bias);
    return y;
  });
}

/**
 * layerNorm's backward as ops, from the fused forward's saved statistics:
 * dx = rstd (gg - mean(gg) - xhat mean(gg xhat)) with gg = g gamma; dgamma = sum(g xhat); dbeta = sum(g).
 */
function layerNormBackwardComposed(g: Tensor, X: Tensor, M: Tensor, R: Tensor, G: Tensor | null, rows: number, cols: number): [Tensor, Tensor, Tensor] {
  // g, X: [rows, cols]; M, R: [rows, 1]; G: [cols].
  const g2 = reshape(g, [rows, cols]);
  const r = reshape(R, [rows, 1]);
  const xhat = mul(sub(reshape(X, [rows, cols]), reshape(M, [rows, 1])), r);
  const gg = G ? mul(g2, reshape(G, [cols])) : g2;
  const dx = mul(r, sub(sub(gg, mean(gg, -1, true)), mul(xhat, mean(mul(gg, xhat), -1, true))));
  return [reshape(dx, X.shape), sum(mul(g2, xhat), 0), sum(g2, 0)];
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

/** Targets with every `ignoreIndex` replaced by class 0 (so they can index), and the f32 0/1 mask of kept rows. */
function keptTargets(targets: Tensor, ignoreIndex: number): { safe: Tensor; keep: Tensor } {
  // targets: [...] i32; class ids are exact in f32 below 2^24.
  const keep = ne(targets, ignoreIndex);
  return { safe: cast(mul(cast(targets, 'f32'), keep), 'i32'), keep };
}

/** Per-row losses from ops: -logSoftmax(logits)[target], zero where the target is ignored. */
function crossEntropyRowsComposed(logits: Tensor, targets: Tensor, ignoreIndex: number, context: string): Tensor {
  return tidy(() => {
    // logits: [..., C], targets: [...] -> losses: [...]
    const { safe, keep } = keptTargets(targets, ignoreIndex);
    const picked = withContext(context, () => gather(logSoftmax(logits), -1, unsqueeze(safe, -1)));
    return mul(squeeze(picked, -1), mul(keep, -1));
  });
}

/** crossEntropy's backward as ops: (softmax(logits) - onehot(target)) * g, zero rows where ignored. */
function crossEntropyBackwardComposed(be: Backend, L: Tensor, T: Tensor, g: Tensor, ignoreIndex: number, cols: number): Tensor {
  // L: [..., C], T and g: [...]
  const { safe, keep } = keptTargets(T, ignoreIndex);
  const classes = fromHost(Float32Array.from({ length: cols }, (_, c) => c), [cols], 'f32', be);
  const onehot = eq(classes, unsqueeze(cast(safe, 'f32'), -1));
  return mul(sub(softmax(L), onehot), unsqueeze(mul(g, keep), -1));
}

/** Per-row losses [rows] of logits [rows, cols] against i32 targets. */
function crossEntropyRows(logits: Tensor, targets: Tensor, ignoreIndex: number, context: string): Tensor {
  const be = backendOf('crossEntropy', logits, targets);
  const forward = fusedKernel(be, 'crossEntropy');
  if (!forward) return crossEntropyRowsComposed(logits, targets, ignoreIndex, context);
  const cols = logits.shape[logits.rank - 1];
  const rows = targets.size;
  const losses = empty(be, targets.shape, 'f32');
  if (rows > 0) {
    withDense([logits, targets], (ld, td) => withContext(context, () => forward({ logits: ld, targets: td, losses: dense(losses), rows, cols, ignoreIndex })));
  }
  return attachGrad('CrossEntropy', losses, [logits], (save) => {
    const L = save(logits);
    const T = save(targets);
    return (g) => {
      const gb = backendOf('crossEntropy backward', g, L);
      const backward = fusedKernel(gb, 'crossEntropyBackward');
      if (!backward) return [crossEntropyBackwardComposed(gb, L, T, g, ignoreIndex, cols)];
      const dx = empty(gb, L.shape, 'f32');
      if (dx.size > 0) {
        withDense([L, T, g], (ld, td, gd) => backward({ logits: ld, targets: td, dLosses: gd, dLogits: dense(dx), rows, cols, ignoreIndex }));
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
