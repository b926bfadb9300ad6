import { MetricsError } from '../errors.js';
import type { ArrayInput } from '../input.js';
import { binaryInput, clfCurve, type BinaryInput } from './binary.js';

/** Options of {@link precisionRecallCurve} and {@link averagePrecision}. */
export interface PrOptions {
  /** Label of the positive class. Default 1, allowed only when the labels are within {0, 1} or {-1, 1}. */
  posLabel?: number;
}

/**
 * A precision–recall curve in scikit-learn's layout: `thresholds` increasing,
 * `precision[i]`/`recall[i]` for predicting positive when score ≥ `thresholds[i]`,
 * plus a final point (precision 1, recall 0) that has no threshold.
 */
export interface PrecisionRecallCurve {
  precision: number[];
  recall: number[];
  thresholds: number[];
}

function requirePositives(b: BinaryInput, what: string): void {
  if (b.nPos === 0) {
    throw new MetricsError(`yTrue has no positive samples among ${b.scores.length}; ${what} is not defined (recall has no denominator)`);
  }
}

/**
 * Precision and recall at every distinct score threshold, like scikit-learn's `precision_recall_curve`.
 * @example precisionRecallCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) // { precision: [0.5, 2/3, 0.5, 1, 1], recall: [1, 1, 0.5, 0.5, 0], thresholds: [0.1, 0.35, 0.4, 0.8] }
 */
export function precisionRecallCurve(
  yTrue: ArrayInput,
  yScore: ArrayInput,
  options: PrOptions = {},
): PrecisionRecallCurve {
  const b = binaryInput(yTrue, yScore, options.posLabel);
  requirePositives(b, 'a precision-recall curve');
  const { fps, tps, thresholds } = clfCurve(b);
  const precision: number[] = [];
  const recall: number[] = [];
  for (let i = fps.length - 1; i >= 0; i--) {
    precision.push(tps[i] / (tps[i] + fps[i]));
    recall.push(tps[i] / b.nPos);
  }
  precision.push(1);
  recall.push(0);
  return { precision, recall, thresholds: thresholds.slice().reverse() };
}

/**
 * Average precision AP = Σₙ (Rₙ − Rₙ₋₁)·Pₙ over decreasing distinct thresholds (scikit-learn's definition, no interpolation).
 * @example averagePrecision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) // 0.5 * 1 + 0.5 * (2 / 3) = 0.8333
 */
export function averagePrecision(yTrue: ArrayInput, yScore: ArrayInput, options: PrOptions = {}): number {
  const b = binaryInput(yTrue, yScore, options.posLabel);
  requirePositives(b, 'average precision');
  const { fps, tps } = clfCurve(b);
  let ap = 0;
  let prevTp = 0;
  for (let i = 0; i < tps.length; i++) {
    if (tps[i] !== prevTp) {
      ap += ((tps[i] - prevTp) / b.nPos) * (tps[i] / (tps[i] + fps[i]));
      prevTp = tps[i];
    }
  }
  return ap;
}
