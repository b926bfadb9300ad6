import { MetricsError } from '../errors.js';
import { labelPair, type ArrayInput } from '../input.js';
import { explicitLabels, fmtLabels, labelIndex, uniqueLabels } from './labels.js';

/** Options of {@link confusionMatrix}. */
export interface ConfusionMatrixOptions {
  /**
   * Labels that index the rows and columns, in order. Default: the sorted union
   * of `yTrue` and `yPred`. Samples whose true or predicted label is not listed
   * are ignored (as in scikit-learn); at least one listed label must occur in `yTrue`.
   */
  labels?: ArrayInput;
  /** Divide counts by row sums (`'true'`), column sums (`'pred'`) or the total (`'all'`); a zero sum gives 0. */
  normalize?: 'true' | 'pred' | 'all';
}

/**
 * Confusion matrix `C[i][j]` = number of samples with true label `labels[i]` predicted as `labels[j]`.
 * @example confusionMatrix([0, 1, 1], [0, 0, 1]) // [[1, 0], [1, 1]]
 */
export function confusionMatrix(
  yTrue: ArrayInput,
  yPred: ArrayInput,
  options: ConfusionMatrixOptions = {},
): number[][] {
  const [t, p] = labelPair(yTrue, yPred);
  let labels: number[];
  if (options.labels !== undefined) {
    labels = explicitLabels(options.labels);
    const present = new Set<number>(t);
    if (!labels.some((l) => present.has(l))) {
      throw new MetricsError(`none of labels ${fmtLabels(labels)} occurs in yTrue`);
    }
  } else {
    labels = uniqueLabels(t, p);
  }
  const idx = labelIndex(labels);
  const k = labels.length;
  const m: number[][] = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  for (let i = 0; i < t.length; i++) {
    const r = idx.get(t[i]);
    const c = idx.get(p[i]);
    if (r !== undefined && c !== undefined) m[r][c]++;
  }
  const norm = options.normalize;
  if (norm === undefined) return m;
  if (norm === 'true') {
    for (const row of m) {
      const s = row.reduce((a, b) => a + b, 0);
      for (let j = 0; j < k; j++) row[j] = s === 0 ? 0 : row[j] / s;
    }
  } else if (norm === 'pred') {
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += m[i][j];
      for (let i = 0; i < k; i++) m[i][j] = s === 0 ? 0 : m[i][j] / s;
    }
  } else if (norm === 'all') {
    let s = 0;
    for (const row of m) for (const v of row) s += v;
    for (const row of m) for (let j = 0; j < k; j++) row[j] = s === 0 ? 0 : row[j] / s;
  } else {
    throw new MetricsError(`normalize must be 'true', 'pred' or 'all', got ${String(norm)}`);
  }
  return m;
}
