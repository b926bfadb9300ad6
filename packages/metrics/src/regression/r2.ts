import { MetricsError } from '../errors.js';
import { finitePair, type ArrayInput } from '../input.js';

/**
 * Coefficient of determination 1 − SS_res / SS_tot, like scikit-learn's `r2_score`
 * with its default `force_finite=True`: a constant `yTrue` (SS_tot = 0) scores 1.0
 * when the prediction is perfect (SS_res = 0) and 0.0 otherwise, instead of NaN / −∞.
 * (A constant `yTrue` is detected exactly, not through a rounded mean.)
 * Fewer than two samples throw (scikit-learn warns and returns NaN).
 * @example r2([3, -0.5, 2, 7], [2.5, 0, 2, 8]) // 0.9486
 */
export function r2(yTrue: ArrayInput, yPred: ArrayInput): number {
  const [t, p] = finitePair(yTrue, yPred, 'yTrue', 'yPred');
  if (t.length < 2) throw new MetricsError(`R² needs at least two samples, got ${t.length}`);
  let mean = 0;
  for (let i = 0; i < t.length; i++) mean += t[i];
  mean /= t.length;
  let ssRes = 0;
  let ssTot = 0;
  for (let i = 0; i < t.length; i++) {
    const r = t[i] - p[i];
    const d = t[i] - mean;
    ssRes += r * r;
    ssTot += d * d;
  }
  // Exact test for a constant yTrue: its float mean may differ from the value by an ulp.
  const constant = t.every((v) => v === t[0]);
  if (constant || ssTot === 0) return ssRes === 0 ? 1 : 0;
  return 1 - ssRes / ssTot;
}
