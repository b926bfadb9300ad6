/** Binary-target handling and the cumulative tp/fp curve behind ROC and PR (internal). */

import { MetricsError } from '../errors.js';
import { finitePair, requireIntegers, type ArrayInput } from '../input.js';
import { fmtLabels, uniqueLabels } from './labels.js';

/** Validated binary targets (1 = positive) and finite scores. */
export interface BinaryInput {
  positive: Uint8Array;
  scores: Float64Array;
  nPos: number;
  nNeg: number;
}

/**
 * Validates `yTrue` (integer labels, at most two distinct) and `yScore`
 * (finite, same length) and marks the positives. Without `posLabel` the labels
 * must be a subset of {0, 1} or {-1, 1}, and 1 is positive (as in scikit-learn).
 */
export function binaryInput(yTrue: ArrayInput, yScore: ArrayInput, posLabel: number | undefined): BinaryInput {
  const [t, s] = finitePair(yTrue, yScore, 'yTrue', 'yScore');
  requireIntegers(t, 'yTrue');
  const labels = uniqueLabels(t);
  if (labels.length > 2) {
    throw new MetricsError(`yTrue must be binary but contains ${labels.length} labels: ${fmtLabels(labels)}`);
  }
  let pos: number;
  if (posLabel === undefined) {
    const ok01 = labels.every((l) => l === 0 || l === 1);
    const okPm = labels.every((l) => l === -1 || l === 1);
    if (!ok01 && !okPm) {
      throw new MetricsError(`yTrue labels ${fmtLabels(labels)} are not {0, 1} or {-1, 1}; pass posLabel`);
    }
    pos = 1;
  } else {
    if (!Number.isInteger(posLabel)) throw new MetricsError(`posLabel must be an integer label, got ${posLabel}`);
    pos = posLabel;
  }
  const positive = new Uint8Array(t.length);
  let nPos = 0;
  for (let i = 0; i < t.length; i++) {
    if (t[i] === pos) {
      positive[i] = 1;
      nPos++;
    }
  }
  return { positive, scores: s, nPos, nNeg: t.length - nPos };
}

/** Cumulative counts at each distinct score, thresholds in decreasing order (scikit-learn's `_binary_clf_curve`). */
export interface ClfCurve {
  fps: number[];
  tps: number[];
  thresholds: number[];
}

/** Sorts by decreasing score and emits one point per distinct score, so tied scores collapse into one point. */
export function clfCurve(b: BinaryInput): ClfCurve {
  const n = b.scores.length;
  const order = Array.from({ length: n }, (_, i) => i);
  const s = b.scores;
  order.sort((i, j) => s[j] - s[i]);
  const fps: number[] = [];
  const tps: number[] = [];
  const thresholds: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let r = 0; r < n; r++) {
    const i = order[r];
    if (b.positive[i]) tp++;
    else fp++;
    if (r === n - 1 || s[order[r + 1]] !== s[i]) {
      fps.push(fp);
      tps.push(tp);
      thresholds.push(s[i]);
    }
  }
  return { fps, tps, thresholds };
}
