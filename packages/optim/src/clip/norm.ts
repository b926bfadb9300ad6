import { ArgumentError } from '@tessera/core';
import { noGrad, tidy, type Tensor } from '@tessera/tensor';
import { NonFiniteError } from '../errors.js';
import { gradsOf } from './params.js';

/** Options for `clipGradNorm`. */
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

/**
 * Scales the gradients of `params` in place so that their total `normType`
 * norm (all gradients taken as one vector) is at most `maxNorm`, and returns
 * that total norm before clipping — torch.nn.utils.clip_grad_norm_:
 * coef = maxNorm / (total + 1e-6), applied when below 1. `normType` is any
 * p > 0 or Infinity. Parameters without a gradient are skipped. Reads one
 * number per backend synchronously.
 *
 * @example
 * loss.backward();
 * const norm = clipGradNorm(model.parameters(), 1.0);
 * opt.step();
 */
export function clipGradNorm(params: Tensor | Iterable<Tensor>, maxNorm: number, normType = 2, options: ClipGradNormOptions = {}): number {
  if (typeof maxNorm !== 'number' || Number.isNaN(maxNorm) || maxNorm < 0) {
    throw new ArgumentError(`clipGradNorm: maxNorm must be a number >= 0, got ${maxNorm}`);
  }
  if (typeof normType !== 'number' || !(normType > 0)) {
    throw new ArgumentError(`clipGradNorm: normType must be a number > 0 or Infinity, got ${normType}`);
  }
  const grads = gradsOf('clipGradNorm', params);
  if (grads.length === 0) return 0;
  const total = noGrad(() =>
    tidy(() => {
      // Reduce on each backend first so only one scalar per backend is read back.
      const perBackend = new Map<unknown, Tensor>();
      for (const g of grads) {
        if (g.size === 0) continue;
        const part = partial(g, normType);
        const acc = perBackend.get(g.backend);
        perBackend.set(g.backend, acc === undefined ? part : normType === Infinity ? acc.maximum(part) : acc.add(part));
      }
      let t = 0;
      for (const acc of perBackend.values()) {
        const v = acc.item();
        t = normType === Infinity ? Math.max(t, v) : t + v;
      }
      return normType === Infinity || normType === 1 ? t : normType === 2 ? Math.sqrt(t) : t ** (1 / normType);
    }),
  );
  if (!Number.isFinite(total) && options.errorIfNonfinite) {
    throw new NonFiniteError(
      `clipGradNorm: the total ${normType === Infinity ? 'inf' : normType}-norm of the gradients of ${grads.length} parameters is ${total}; the gradients were left unchanged (pass errorIfNonfinite: false to clip anyway)`,
    );
  }
  const coef = maxNorm / (total + 1e-6);
  // As in PyTorch, a NaN total makes the gradients NaN and an infinite one zeroes the finite entries.
  if (!(coef >= 1)) noGrad(() => tidy(() => grads.forEach((g) => g.mul_(coef))));
  return total;
}
