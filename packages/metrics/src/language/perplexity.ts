import { MetricsError } from '../errors.js';
import { requireNonEmpty, toArray, type ArrayInput, type MatrixInput } from '../input.js';
import { crossEntropy, type LanguageOptions } from './crossEntropy.js';

/**
 * Perplexity exp(mean cross-entropy) from `[n, vocab]` logits and integer targets; uniform logits over V give V.
 * @example perplexity([[0, 0, 0, 0]], [2]) // 4
 */
export function perplexity(logits: MatrixInput, targets: ArrayInput, options: LanguageOptions = {}): number {
  return Math.exp(crossEntropy(logits, targets, options));
}

/**
 * Perplexity exp(mean(losses)) from per-token losses in nats.
 * @example perplexityFromLosses([Math.log(2), Math.log(8)]) // exp(ln 4) = 4
 */
export function perplexityFromLosses(losses: ArrayInput): number {
  const l = toArray(losses, 'losses');
  requireNonEmpty(l, 'losses');
  let sum = 0;
  for (let i = 0; i < l.length; i++) {
    const v = l[i];
    if (!(v >= 0)) throw new MetricsError(`losses[${i}] is ${v}; a cross-entropy loss in nats is a number >= 0 (or +Infinity)`);
    sum += v;
  }
  return Math.exp(sum / l.length);
}
