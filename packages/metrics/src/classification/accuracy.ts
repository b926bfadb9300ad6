import { labelPair, type ArrayInput } from '../input.js';

/** Options of {@link accuracy}. */
export interface AccuracyOptions {
  /** `true` (default): fraction of correct predictions; `false`: their count. */
  normalize?: boolean;
}

/**
 * Fraction (or count) of samples whose predicted label equals the true label.
 * @example accuracy([0, 1, 1, 0], [0, 1, 0, 0]) // 0.75
 */
export function accuracy(yTrue: ArrayInput, yPred: ArrayInput, options: AccuracyOptions = {}): number {
  const [t, p] = labelPair(yTrue, yPred);
  let correct = 0;
  for (let i = 0; i < t.length; i++) if (t[i] === p[i]) correct++;
  return options.normalize === false ? correct : correct / t.length;
}
