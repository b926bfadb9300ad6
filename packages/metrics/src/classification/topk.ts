import { MetricsError } from '../errors.js';
import {
  requireClassIndices,
  requireFinite,
  requireNonEmpty,
  toArray,
  toMatrix,
  type ArrayInput,
  type MatrixInput,
} from '../input.js';

/** Options of {@link topKAccuracy}. */
export interface TopKOptions {
  /** Number of classes when `yScore` is a flat row-major array. */
  numClasses?: number;
  /** `true` (default): fraction of hits; `false`: their count. */
  normalize?: boolean;
}

/**
 * Fraction of samples whose true class index is among the `k` highest of its
 * `[n, c]` scores. Ties are broken towards the lower class index (so `k = 1`
 * agrees with a first-max argmax); `k >= c` counts every sample as a hit.
 * @example topKAccuracy([2, 0], [[0.1, 0.5, 0.4], [0.2, 0.7, 0.1]], 2) // 0.5
 */
export function topKAccuracy(
  yTrue: ArrayInput,
  yScore: MatrixInput,
  k: number,
  options: TopKOptions = {},
): number {
  if (!Number.isInteger(k) || k < 1) throw new MetricsError(`k must be a positive integer, got ${k}`);
  const t = toArray(yTrue, 'yTrue');
  const s = toMatrix(yScore, options.numClasses, 'yScore');
  if (s.rows !== t.length) {
    throw new MetricsError(`yTrue has length ${t.length} but yScore has ${s.rows} rows`);
  }
  requireNonEmpty(t, 'yTrue');
  requireFinite(s.data, 'yScore');
  requireClassIndices(t, s.cols, 'yTrue');
  const c = s.cols;
  let hits = 0;
  for (let i = 0; i < t.length; i++) {
    const base = i * c;
    const y = t[i];
    const sy = s.data[base + y];
    // Rank of the true class: classes scoring higher, plus equal-scoring classes with a lower index.
    let ahead = 0;
    for (let j = 0; j < c && ahead < k; j++) {
      const v = s.data[base + j];
      if (v > sy || (v === sy && j < y)) ahead++;
    }
    if (ahead < k) hits++;
  }
  return options.normalize === false ? hits : hits / t.length;
}
