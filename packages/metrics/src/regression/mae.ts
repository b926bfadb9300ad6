import { finitePair, type ArrayInput } from '../input.js';

/**
 * Mean absolute error mean(|yTrue − yPred|).
 * @example mae([3, -0.5, 2, 7], [2.5, 0, 2, 8]) // 0.5
 */
export function mae(yTrue: ArrayInput, yPred: ArrayInput): number {
  const [t, p] = finitePair(yTrue, yPred, 'yTrue', 'yPred');
  let s = 0;
  for (let i = 0; i < t.length; i++) s += Math.abs(t[i] - p[i]);
  return s / t.length;
}
