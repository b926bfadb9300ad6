import { ArgumentError, UnsupportedError, type Backend } from '@tessera/core';
import { div, noGrad, tidy, type Tensor } from '@tessera/tensor';
import { NonFiniteError } from '../errors.js';
import { gradsOf } from './params.js';

/** Options for `clipGradNorm` and `clipGradNormAsync`. */
export interface ClipGradNormOptions {
  /** Throw a NonFiniteError (and leave the gradients alone) when the total norm is NaN or infinite; default false. */
  errorIfNonfinite?: boolean;
}

/** One backend's share of the total: sum(|g|^p) over its gradients, or max|g| for the inf-norm. */
function partial(g: Tensor, normType: number): Tensor {
  if (normType === Infinity) return g.abs().max();
  if (normType === 1) return g.abs().sum();
  if (normType === 2) return g.square().sum();
  return g.abs().pow(normType).sum();
}

function checkArgs(op: string, maxNorm: number, normType: number): void {
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm) || maxNorm < 0) {
    throw new ArgumentError(`${op}: maxNorm must be a number >= 0, got ${maxNorm}`);
  }
  if (typeof normType !== 'number' || !(normType > 0)) {
    throw new ArgumentError(`${op}: normType must be a number > 0 or Infinity, got ${normType}`);
  }
}

/**
 * Each backend's partial (a scalar tensor on that backend), reduced on the
 * device so that only one number per backend has to be read. The caller
 * disposes them.
 */
function partials(grads: Tensor[], normType: number): Map<Backend, Tensor> {
  return noGrad(() =>
    tidy(() => {
      const perBackend = new Map<Backend, Tensor>();
      for (const g of grads) {
        if (g.size === 0) continue;
        const part = partial(g, normType);
        const acc = perBackend.get(g.backend);
        perBackend.set(g.backend, acc === undefined ? part : normType === Infinity ? acc.maximum(part) : acc.add(part));
      }
      return perBackend;
    }),
  );
}

/** The total norm from the partials read back (float64 on the host). */
function totalOf(values: number[], normType: number): number {
  let t = 0;
  for (const v of values) t = normType === Infinity ? Math.max(t, v) : t + v;
  return normType === Infinity || normType === 1 ? t : normType === 2 ? Math.sqrt(t) : t ** (1 / normType);
}

function nonFinite(op: string, normType: number, count: number, total: number): NonFiniteError {
  return new NonFiniteError(
    `${op}: the total ${normType === Infinity ? 'inf' : normType}-norm of the gradients of ${count} parameters is ${total}; the gradients were left unchanged (pass errorIfNonfinite: false to clip anyway)`,
  );
}

/** Scales by coef = maxNorm / (total + 1e-6) when it is below 1; returns total. */
function scaleOnHost(op: string, grads: Tensor[], total: number, maxNorm: number, normType: number, options: ClipGradNormOptions): number {
  if (!Number.isFinite(total) && options.errorIfNonfinite) throw nonFinite(op, normType, grads.length, total);
  const coef = maxNorm / (total + 1e-6);
  // As in PyTorch, a NaN total makes the gradients NaN and an infinite one zeroes the finite entries.
  if (!(coef >= 1)) noGrad(() => tidy(() => grads.forEach((g) => g.mul_(coef))));
  return total;
}

/**
 * `clipGradNorm` with a synchronous read of one number per backend, for
 * training loops that do not await — the same scaling and return value.
 *
 * On a backend without synchronous reads (WebGPU; all gradients on that one
 * backend) nothing is read: the total and min(1, maxNorm / (total + 1e-6))
 * are computed there as tensor ops and the gradients multiplied by it, and the
 * return value is NaN (the norm stays on the device). Use `await clipGradNorm`
 * to get the norm or `errorIfNonfinite` there.
 *
 * @example
 * loss.backward();
 * const norm = clipGradNormSync(model.parameters(), 1.0);
 * opt.step();
 */
export function clipGradNormSync(params: Tensor | Iterable<Tensor>, maxNorm: number, normType = 2, options: ClipGradNormOptions = {}): number {
  const op = 'clipGradNormSync';
  checkArgs(op, maxNorm, normType);
  const grads = gradsOf(op, params);
  if (grads.length === 0) return 0;
  const asyncOnly = [...new Set(grads.map((g) => g.backend))].filter((be) => !be.features.syncRead);
  if (asyncOnly.length > 0) return clipOnDevice(grads, asyncOnly[0], maxNorm, normType, options);
  const parts = partials(grads, normType);
  let total: number;
  try {
    total = totalOf([...parts.values()].map((p) => p.itemSync()), normType);
  } finally {
    parts.forEach((p) => p.dispose());
  }
  return scaleOnHost(op, grads, total, maxNorm, normType, options);
}

/**
 * `clipGradNormSync` without host reads, for gradients on a backend that reads
 * only asynchronously: coef = min(1, maxNorm / (total + 1e-6)) stays a scalar
 * tensor there. Multiplying by exactly 1 changes no value, so gradients under
 * the limit are left bit-for-bit alone, as on the host path; a NaN total makes
 * them NaN and an infinite one zeroes the finite entries, as in PyTorch.
 */
function clipOnDevice(grads: Tensor[], be: Backend, maxNorm: number, normType: number, options: ClipGradNormOptions): number {
  const op = 'clipGradNormSync';
  const others = new Set(grads.map((g) => g.backend));
  if (others.size > 1) {
    throw new UnsupportedError(
      `${op}: the gradients live on ${others.size} backends (${[...others].map((b) => `'${b.name}'`).join(', ')}), one of which ('${be.name}') has no synchronous reads; use await clipGradNorm(...)`,
    );
  }
  if (options.errorIfNonfinite) {
    throw new UnsupportedError(`${op}: errorIfNonfinite needs the norm on the host, and backend '${be.name}' has no synchronous reads; use await clipGradNorm(...)`);
  }
  const parts = partials(grads, normType);
  const acc = parts.get(be);
  if (acc === undefined) return 0; // every gradient is empty: nothing to scale
  noGrad(() =>
    tidy(() => {
      // acc: [] = sum(|g|^p) (max|g| for the inf-norm); total = acc^(1/p).
      const total = normType === Infinity || normType === 1 ? acc : normType === 2 ? acc.sqrt() : acc.pow(1 / normType);
      const coef = div(maxNorm, total.add(1e-6)).minimum(1);
      grads.forEach((g) => g.mul_(coef));
    }),
  );
  acc.dispose();
  return NaN;
}

/**
 * Scales the gradients of `params` in place so that their total `normType`
 * norm (all gradients taken as one vector) is at most `maxNorm`, and resolves
 * to that total norm before clipping — torch.nn.utils.clip_grad_norm_:
 * coef = maxNorm / (total + 1e-6), applied when below 1. `normType` is any
 * p > 0 or Infinity. Parameters without a gradient are skipped. Reads each
 * backend's partial sum with `await`, so it works on every backend (WebGPU
 * included); `errorIfNonfinite` is honoured. The gradients must not change
 * while the read is pending. `clipGradNormSync` does the same without awaiting.
 *
 * @example
 * loss.backward();
 * const norm = await clipGradNorm(model.parameters(), 1.0);
 * opt.step();
 */
export async function clipGradNorm(params: Tensor | Iterable<Tensor>, maxNorm: number, normType = 2, options: ClipGradNormOptions = {}): Promise<number> {
  const op = 'clipGradNorm';
  checkArgs(op, maxNorm, normType);
  const grads = gradsOf(op, params);
  if (grads.length === 0) return 0;
  const parts = partials(grads, normType);
  let total: number;
  try {
    total = totalOf(await Promise.all([...parts.values()].map((p) => p.item())), normType);
  } finally {
    parts.forEach((p) => p.dispose());
  }
  return scaleOnHost(op, grads, total, maxNorm, normType, options);
}

/** @deprecated Renamed `clipGradNorm` (unsuffixed names work on every backend); removed in the next release. */
export function clipGradNormAsync(params: Tensor | Iterable<Tensor>, maxNorm: number, normType = 2, options: ClipGradNormOptions = {}): Promise<number> {
  return clipGradNorm(params, maxNorm, normType, options);
}
