import { finitePair, type ArrayInput } from '../input.js';

/**
 * Mean squared error mean((yTrue − yPred)²).
 * @example mse([3, -0.5, 2, 7], [2.5, 0, 2, 8]) // 0.375
 */
export function mse(yTrue: ArrayInput, yPred: ArrayInput): number {
  const [t, p] = finitePair(yTrue, yPred, 'yTrue', 'yPred');
  let s = 0;
  for (let i = 0; i < t.length; i++) {
    const d = t[i] - p[i];
    s += d * d;
  }
  return s / t.length;
}
