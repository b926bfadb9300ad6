import { MetricsError } from '../errors.js';
import type { ArrayInput } from '../input.js';
import { binaryInput, clfCurve, type BinaryInput } from './binary.js';

/** Options of {@link rocCurve} and {@link rocAuc}. */
export interface RocOptions {
  /** Label of the positive class. Default 1, allowed only when the labels are within {0, 1} or {-1, 1}. */
  posLabel?: number;
}

/** Options of {@link rocCurve}. */
export interface RocCurveOptions extends RocOptions {
  /**
   * Drop points that lie on a straight line between their neighbours (scikit-learn's
   * `drop_intermediate`, whose default there is `true`). Default `false`: one point per distinct score.
   */
  dropIntermediate?: boolean;
}

/** A ROC curve: `fpr[i]`, `tpr[i]` are the rates when predicting positive for scores ≥ `thresholds[i]`. */
export interface RocCurve {
  fpr: number[];
  tpr: number[];
  /** Decreasing; the first is `Infinity` (the (0, 0) point), as in scikit-learn ≥ 1.3. */
  thresholds: number[];
}

function requireBothClasses(b: BinaryInput, what: string): void {
  if (b.nPos === 0 || b.nNeg === 0) {
    const only = b.nPos === 0 ? 'negative' : 'positive';
    throw new MetricsError(
      `only one class present in yTrue (all ${b.scores.length} samples are ${only}); ${what} is not defined in that case`,
    );
  }
}

/**
 * Receiver operating characteristic, like scikit-learn's `roc_curve`; tied scores collapse into one point.
 * @example rocCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) // { fpr: [0, 0, 0.5, 0.5, 1], tpr: [0, 0.5, 0.5, 1, 1], thresholds: [Infinity, 0.8, 0.4, 0.35, 0.1] }
 */
export function rocCurve(yTrue: ArrayInput, yScore: ArrayInput, options: RocCurveOptions = {}): RocCurve {
  const b = binaryInput(yTrue, yScore, options.posLabel);
  requireBothClasses(b, 'a ROC curve');
  let { fps, tps, thresholds } = clfCurve(b);
  if (options.dropIntermediate && fps.length > 2) {
    const keep: number[] = [0];
    for (let i = 1; i < fps.length - 1; i++) {
      const d2f = fps[i + 1] - 2 * fps[i] + fps[i - 1];
      const d2t = tps[i + 1] - 2 * tps[i] + tps[i - 1];
      if (d2f !== 0 || d2t !== 0) keep.push(i);
    }
    keep.push(fps.length - 1);
    fps = keep.map((i) => fps[i]);
    tps = keep.map((i) => tps[i]);
    thresholds = keep.map((i) => thresholds[i]);
  }
  return {
    fpr: [0, ...fps.map((f) => f / b.nNeg)],
    tpr: [0, ...tps.map((t) => t / b.nPos)],
    thresholds: [Infinity, ...thresholds],
  };
}

/**
 * Exact area under the ROC curve: the Mann–Whitney U statistic over all positive/negative pairs, ties counting 1/2, divided by (#pos · #neg).
 * @example rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) // 0.75
 */
export function rocAuc(yTrue: ArrayInput, yScore: ArrayInput, options: RocOptions = {}): number {
  const b = binaryInput(yTrue, yScore, options.posLabel);
  requireBothClasses(b, 'ROC AUC');
  const n = b.scores.length;
  const s = b.scores;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((i, j) => s[i] - s[j]);
  // Sum of the positives' mid-ranks (1-based): a run of tied scores at ranks a..c shares (a + c) / 2.
  let rankSum = 0;
  let r = 0;
  while (r < n) {
    let e = r;
    while (e + 1 < n && s[order[e + 1]] === s[order[r]]) e++;
    const midRank = (r + 1 + (e + 1)) / 2;
    for (let q = r; q <= e; q++) if (b.positive[order[q]]) rankSum += midRank;
    r = e + 1;
  }
  const u = rankSum - (b.nPos * (b.nPos + 1)) / 2;
  return u / (b.nPos * b.nNeg);
}
