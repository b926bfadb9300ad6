import { MetricsError } from '../errors.js';
import { requireNonEmpty, toArray, toMatrix, type ArrayInput, type MatrixInput } from '../input.js';

/** Options of the logit-based language-model metrics. */
export interface LanguageOptions {
  /** Vocabulary size when `logits` is a flat row-major `[n, vocab]` array. */
  vocabSize?: number;
  /** Target value whose tokens are skipped (e.g. padding, `-100` in PyTorch). */
  ignoreIndex?: number;
}

/*
 * Per-token negative log-likelihood −log softmax(logits)[target] in nats,
 * computed in float64 with a max-shifted log-sum-exp. `logits` is `[n, vocab]`
 * (a tensor `[..., vocab]` has its leading dimensions flattened, matching a
 * flattened `targets`). Logits may be `-Infinity` (masked entries) but not NaN
 * or `+Infinity`; a target whose logit is `-Infinity` costs `Infinity`.
 * Ignored tokens get 0 (like PyTorch's `reduction='none'`).
 */
function tokenLossesAndCount(
  logits: MatrixInput,
  targets: ArrayInput,
  options: LanguageOptions,
): { losses: Float64Array; count: number } {
  const m = toMatrix(logits, options.vocabSize, 'logits');
  const t = toArray(targets, 'targets');
  if (m.rows !== t.length) throw new MetricsError(`targets has length ${t.length} but logits has ${m.rows} rows`);
  requireNonEmpty(t, 'targets');
  const v = m.cols;
  const ignore = options.ignoreIndex;
  const losses = new Float64Array(t.length);
  let count = 0;
  for (let i = 0; i < t.length; i++) {
    const y = t[i];
    if (ignore !== undefined && y === ignore) continue;
    if (!Number.isInteger(y) || y < 0 || y >= v) {
      throw new MetricsError(`targets[${i}] = ${y} is not a token index in [0, ${v})`);
    }
    const base = i * v;
    let max = -Infinity;
    for (let j = 0; j < v; j++) {
      const x = m.data[base + j];
      if (Number.isNaN(x) || x === Infinity) {
        throw new MetricsError(`logits[${i}][${j}] is ${x}; expected a finite number or -Infinity`);
      }
      if (x > max) max = x;
    }
    if (max === -Infinity) throw new MetricsError(`logits row ${i} is entirely -Infinity`);
    let sum = 0;
    for (let j = 0; j < v; j++) sum += Math.exp(m.data[base + j] - max);
    losses[i] = max + Math.log(sum) - m.data[base + y];
    count++;
  }
  if (count === 0) {
    throw new MetricsError(`all ${t.length} targets equal ignoreIndex ${ignore}; nothing to score`);
  }
  return { losses, count };
}

/**
 * Per-token cross-entropy in nats (0 at ignored positions, like PyTorch's `reduction: 'none'`).
 * @example tokenCrossEntropy([[0, 0], [0, Math.log(3)]], [0, 1]) // Float64Array [ln 2, ln(4/3)]
 */
export function tokenCrossEntropy(logits: MatrixInput, targets: ArrayInput, options: LanguageOptions = {}): Float64Array {
  return tokenLossesAndCount(logits, targets, options).losses;
}

/**
 * Mean cross-entropy in nats over the non-ignored tokens, from `[n, vocab]` logits and integer targets.
 * @example crossEntropy([[0, 0], [0, 0]], [0, 1]) // Math.LN2
 */
export function crossEntropy(logits: MatrixInput, targets: ArrayInput, options: LanguageOptions = {}): number {
  const { losses, count } = tokenLossesAndCount(logits, targets, options);
  let sum = 0;
  for (let i = 0; i < losses.length; i++) sum += losses[i];
  return sum / count;
}
