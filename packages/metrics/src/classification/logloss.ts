import { MetricsError } from '../errors.js';
import {
  isTensorLike,
  requireClassIndices,
  requireNonEmpty,
  requireProbabilities,
  toArray,
  toMatrix,
  type ArrayInput,
  type MatrixInput,
} from '../input.js';

/** Options of {@link logLoss}. */
export interface LogLossOptions {
  /**
   * Probabilities are clipped to [eps, 1 − eps] before the log. Default
   * `Number.EPSILON` (2⁻⁵²), scikit-learn's `eps="auto"` for float64 input.
   */
  eps?: number;
  /** Number of classes when `yProb` is a flat row-major `[n, c]` array. Without it a flat `yProb` is binary. */
  numClasses?: number;
  /** `true` (default): mean loss per sample; `false`: the sum. */
  normalize?: boolean;
}

/** How far a probability row's sum may be from 1 (loose enough for float32 softmax output). */
const ROW_SUM_TOLERANCE = 1e-3;

function isNested(x: MatrixInput): boolean {
  return Array.isArray(x) && x.length > 0 && typeof x[0] !== 'number';
}

/**
 * Cross-entropy of probabilistic predictions, like scikit-learn's `log_loss`.
 * Binary: `yTrue` in {0, 1} and `yProb` the probability of class 1 (flat or `[n, 1]`).
 * Multiclass: `yTrue` class indices in [0, c) and `yProb` an `[n, c]` matrix
 * whose rows sum to 1 (within 1e-3; not renormalized).
 * @example logLoss([1, 0], [0.8, 0.4]) // -(ln 0.8 + ln 0.6) / 2 = 0.3670
 */
export function logLoss(yTrue: ArrayInput, yProb: MatrixInput, options: LogLossOptions = {}): number {
  const eps = options.eps ?? Number.EPSILON;
  if (!(eps >= 0 && eps < 0.5)) throw new MetricsError(`eps must be in [0, 0.5), got ${eps}`);
  const t = toArray(yTrue, 'yTrue');
  requireNonEmpty(t, 'yTrue');
  const matrix =
    options.numClasses !== undefined || isNested(yProb) || (isTensorLike(yProb) && yProb.shape.length >= 2);
  let total = 0;
  const clip = (p: number): number => Math.min(Math.max(p, eps), 1 - eps);
  if (matrix) {
    const m = toMatrix(yProb, options.numClasses, 'yProb');
    if (m.rows !== t.length) throw new MetricsError(`yTrue has length ${t.length} but yProb has ${m.rows} rows`);
    requireProbabilities(m.data, 'yProb');
    if (m.cols === 1) return binary(t, m.data, clip, options.normalize);
    requireClassIndices(t, m.cols, 'yTrue');
    for (let i = 0; i < m.rows; i++) {
      let sum = 0;
      for (let j = 0; j < m.cols; j++) sum += m.data[i * m.cols + j];
      if (Math.abs(sum - 1) > ROW_SUM_TOLERANCE) {
        throw new MetricsError(`yProb row ${i} sums to ${sum}, not 1; pass probabilities (e.g. a softmax), not scores`);
      }
      total -= Math.log(clip(m.data[i * m.cols + t[i]]));
    }
    return options.normalize === false ? total : total / t.length;
  }
  const p = toArray(yProb as ArrayInput, 'yProb');
  if (p.length !== t.length) throw new MetricsError(`yTrue has length ${t.length} but yProb has length ${p.length}`);
  requireProbabilities(p, 'yProb');
  return binary(t, p, clip, options.normalize);
}

function binary(t: Float64Array, p: Float64Array, clip: (p: number) => number, normalize: boolean | undefined): number {
  let total = 0;
  for (let i = 0; i < t.length; i++) {
    const y = t[i];
    if (y !== 0 && y !== 1) throw new MetricsError(`yTrue[${i}] = ${y} is not a binary label (0 or 1)`);
    total -= Math.log(clip(y === 1 ? p[i] : 1 - p[i]));
  }
  return normalize === false ? total : total / t.length;
}
