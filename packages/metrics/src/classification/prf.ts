/**
 * Precision, recall, F-beta and support, following scikit-learn's
 * `precision_recall_fscore_support`.
 *
 * Zero division: a ratio whose denominator is zero — precision with no
 * predicted samples of a label, recall with no true samples, F-beta with
 * neither — takes the value of `zeroDivision` (default `0`, like
 * scikit-learn's default `"warn"` but without any warning; `1` and `NaN` are
 * the other choices). With `NaN`, the macro and weighted averages skip the
 * undefined per-label values (scikit-learn's `_nanaverage`).
 *
 * F-beta is computed from counts as `(1 + β²)·tp / ((1 + β²)·tp + β²·fn + fp)`,
 * which equals `(1 + β²)·P·R / (β²·P + R)` whenever both are defined.
 */

import { MetricsError } from '../errors.js';
import { labelPair, type ArrayInput } from '../input.js';
import { explicitLabels, fmtLabels, labelIndex, uniqueLabels } from './labels.js';

/** How per-label scores are combined. `'none'` returns them per label. */
export type Average = 'binary' | 'micro' | 'macro' | 'weighted' | 'none';

/** Every averaging mode that returns a single number. */
export type ScalarAverage = Exclude<Average, 'none'>;

/** Options shared by the precision/recall/F functions. */
export interface PRFOptions {
  /**
   * `'binary'` (default): score of `posLabel` only (the data may hold at most two labels);
   * `'micro'`: from tp/fp/fn summed over labels; `'macro'`: unweighted mean of
   * per-label scores; `'weighted'`: mean weighted by support (true count);
   * `'none'`: per-label scores in the order of `labels`.
   */
  average?: Average;
  /** The positive label for `average: 'binary'` (default 1); ignored otherwise. */
  posLabel?: number;
  /**
   * Labels to score and their order (default: sorted union of `yTrue` and
   * `yPred`). Labels absent from the data score `zeroDivision`. Ignored for `'binary'`.
   */
  labels?: ArrayInput;
  /** Value of a ratio with a zero denominator: `0` (default), `1` or `NaN`. */
  zeroDivision?: number;
}

/** Options of the F-beta functions. */
export interface FBetaOptions extends PRFOptions {
  /** Weight of recall relative to precision (≥ 0; `Infinity` gives recall, `0` precision). */
  beta: number;
}

/** Per-label result of {@link precisionRecallFscoreSupport} with `average: 'none'`. */
export interface PerLabelScores {
  labels: number[];
  precision: number[];
  recall: number[];
  fScore: number[];
  /** Number of true samples of each label. */
  support: number[];
}

/** Averaged result of {@link precisionRecallFscoreSupport}. */
export interface AveragedScores {
  precision: number;
  recall: number;
  fScore: number;
  /** Number of true samples of the scored labels (scikit-learn returns `None` here). */
  support: number;
}

interface Counts {
  labels: number[];
  tp: number[];
  pred: number[];
  true: number[];
}

function resolveZeroDivision(z: number | undefined): number {
  if (z === undefined) return 0;
  if (z === 0 || z === 1 || Number.isNaN(z)) return z;
  throw new MetricsError(`zeroDivision must be 0, 1 or NaN, got ${z}`);
}

function resolveBeta(beta: number): number {
  if (typeof beta !== 'number' || !(beta >= 0)) throw new MetricsError(`beta must be a number >= 0, got ${beta}`);
  return beta;
}

const AVERAGES: readonly Average[] = ['binary', 'micro', 'macro', 'weighted', 'none'];

function counts(yTrue: ArrayInput, yPred: ArrayInput, average: Average, options: PRFOptions): Counts {
  if (!AVERAGES.includes(average)) {
    throw new MetricsError(`average must be one of ${AVERAGES.join(', ')}; got ${String(average)}`);
  }
  const [t, p] = labelPair(yTrue, yPred);
  const present = uniqueLabels(t, p);
  let labels: number[];
  if (average === 'binary') {
    const pos = options.posLabel ?? 1;
    if (!Number.isInteger(pos)) throw new MetricsError(`posLabel must be an integer label, got ${pos}`);
    if (present.length > 2) {
      throw new MetricsError(
        `average 'binary' needs at most two labels but yTrue and yPred contain ${present.length}: ` +
          `${fmtLabels(present)}; choose average 'micro', 'macro', 'weighted' or 'none'`,
      );
    }
    if (present.length === 2 && !present.includes(pos)) {
      throw new MetricsError(`posLabel ${pos} is not one of the labels ${fmtLabels(present)}`);
    }
    labels = [pos];
  } else {
    labels = options.labels !== undefined ? explicitLabels(options.labels) : present;
  }
  const idx = labelIndex(labels);
  const k = labels.length;
  const c: Counts = { labels, tp: new Array(k).fill(0), pred: new Array(k).fill(0), true: new Array(k).fill(0) };
  for (let i = 0; i < t.length; i++) {
    const a = idx.get(t[i]);
    const b = idx.get(p[i]);
    if (a !== undefined) c.true[a]++;
    if (b !== undefined) c.pred[b]++;
    if (a !== undefined && a === b) c.tp[a]++;
  }
  return c;
}

function ratio(num: number, den: number, zd: number): number {
  return den === 0 ? zd : num / den;
}

function fbetaOf(tp: number, pred: number, tru: number, beta: number, zd: number): number {
  if (beta === Infinity) return ratio(tp, tru, zd);
  const b2 = beta * beta;
  return ratio((1 + b2) * tp, b2 * tru + pred, zd);
}

/** scikit-learn's `_nanaverage`: NaNs skipped, all-zero weights fall back to the plain mean. */
function nanAverage(values: readonly number[], weights?: readonly number[]): number {
  let sum = 0;
  let wsum = 0;
  let plain = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) continue;
    const w = weights ? weights[i] : 1;
    sum += w * v;
    wsum += w;
    plain += v;
    n++;
  }
  if (n === 0) return NaN;
  return wsum === 0 ? plain / n : sum / wsum;
}

function compute(
  yTrue: ArrayInput,
  yPred: ArrayInput,
  beta: number,
  options: PRFOptions,
): PerLabelScores | AveragedScores {
  const average = options.average ?? 'binary';
  const zd = resolveZeroDivision(options.zeroDivision);
  const c = counts(yTrue, yPred, average, options);
  const totalSupport = c.true.reduce((a, b) => a + b, 0);
  if (average === 'micro') {
    const tp = c.tp.reduce((a, b) => a + b, 0);
    const pred = c.pred.reduce((a, b) => a + b, 0);
    return {
      precision: ratio(tp, pred, zd),
      recall: ratio(tp, totalSupport, zd),
      fScore: fbetaOf(tp, pred, totalSupport, beta, zd),
      support: totalSupport,
    };
  }
  const k = c.labels.length;
  const precision: number[] = [];
  const recall: number[] = [];
  const fScore: number[] = [];
  for (let i = 0; i < k; i++) {
    precision.push(ratio(c.tp[i], c.pred[i], zd));
    recall.push(ratio(c.tp[i], c.true[i], zd));
    fScore.push(fbetaOf(c.tp[i], c.pred[i], c.true[i], beta, zd));
  }
  if (average === 'none') return { labels: c.labels, precision, recall, fScore, support: c.true };
  const weights = average === 'weighted' ? c.true : undefined;
  return {
    precision: nanAverage(precision, weights),
    recall: nanAverage(recall, weights),
    fScore: nanAverage(fScore, weights),
    support: totalSupport,
  };
}

/**
 * Precision, recall, F-beta (default β = 1) and support in one pass, like scikit-learn's `precision_recall_fscore_support`.
 * @example precisionRecallFscoreSupport([0, 1, 2], [0, 2, 2], { average: 'macro' }) // { precision: 0.5, recall: 0.667, ... }
 */
export function precisionRecallFscoreSupport(
  yTrue: ArrayInput,
  yPred: ArrayInput,
  options: Partial<FBetaOptions> & { average: 'none' },
): PerLabelScores;
export function precisionRecallFscoreSupport(
  yTrue: ArrayInput,
  yPred: ArrayInput,
  options?: Partial<FBetaOptions> & { average?: ScalarAverage },
): AveragedScores;
export function precisionRecallFscoreSupport(
  yTrue: ArrayInput,
  yPred: ArrayInput,
  options?: Partial<FBetaOptions>,
): PerLabelScores | AveragedScores;
export function precisionRecallFscoreSupport(
  yTrue: ArrayInput,
  yPred: ArrayInput,
  options: Partial<FBetaOptions> = {},
): PerLabelScores | AveragedScores {
  return compute(yTrue, yPred, resolveBeta(options.beta ?? 1), options);
}

function pick(
  r: PerLabelScores | AveragedScores,
  key: 'precision' | 'recall' | 'fScore',
): number | number[] {
  return r[key];
}

/**
 * Precision tp / (tp + fp); `zeroDivision` (default 0) when nothing is predicted positive.
 * @example precisionScore([0, 1, 1, 0], [1, 1, 0, 0]) // 0.5
 */
export function precisionScore(yTrue: ArrayInput, yPred: ArrayInput, options: PRFOptions & { average: 'none' }): number[];
export function precisionScore(yTrue: ArrayInput, yPred: ArrayInput, options?: PRFOptions & { average?: ScalarAverage }): number;
export function precisionScore(yTrue: ArrayInput, yPred: ArrayInput, options?: PRFOptions): number | number[];
export function precisionScore(yTrue: ArrayInput, yPred: ArrayInput, options: PRFOptions = {}): number | number[] {
  return pick(compute(yTrue, yPred, 1, options), 'precision');
}

/**
 * Recall tp / (tp + fn); `zeroDivision` (default 0) when there are no true positives to find.
 * @example recallScore([0, 1, 1, 0], [1, 1, 0, 0]) // 0.5
 */
export function recallScore(yTrue: ArrayInput, yPred: ArrayInput, options: PRFOptions & { average: 'none' }): number[];
export function recallScore(yTrue: ArrayInput, yPred: ArrayInput, options?: PRFOptions & { average?: ScalarAverage }): number;
export function recallScore(yTrue: ArrayInput, yPred: ArrayInput, options?: PRFOptions): number | number[];
export function recallScore(yTrue: ArrayInput, yPred: ArrayInput, options: PRFOptions = {}): number | number[] {
  return pick(compute(yTrue, yPred, 1, options), 'recall');
}

/**
 * F1 = 2·tp / (2·tp + fp + fn), the harmonic mean of precision and recall.
 * @example f1Score([0, 1, 1, 0], [1, 1, 0, 0]) // 0.5
 */
export function f1Score(yTrue: ArrayInput, yPred: ArrayInput, options: PRFOptions & { average: 'none' }): number[];
export function f1Score(yTrue: ArrayInput, yPred: ArrayInput, options?: PRFOptions & { average?: ScalarAverage }): number;
export function f1Score(yTrue: ArrayInput, yPred: ArrayInput, options?: PRFOptions): number | number[];
export function f1Score(yTrue: ArrayInput, yPred: ArrayInput, options: PRFOptions = {}): number | number[] {
  return pick(compute(yTrue, yPred, 1, options), 'fScore');
}

/**
 * F-beta = (1 + β²)·P·R / (β²·P + R); β > 1 favours recall.
 * @example fbetaScore([0, 1, 1, 0], [1, 1, 1, 0], { beta: 2 }) // 20 / 22
 */
export function fbetaScore(yTrue: ArrayInput, yPred: ArrayInput, options: FBetaOptions & { average: 'none' }): number[];
export function fbetaScore(yTrue: ArrayInput, yPred: ArrayInput, options: FBetaOptions & { average?: ScalarAverage }): number;
export function fbetaScore(yTrue: ArrayInput, yPred: ArrayInput, options: FBetaOptions): number | number[];
export function fbetaScore(yTrue: ArrayInput, yPred: ArrayInput, options: FBetaOptions): number | number[] {
  if (options === undefined || options.beta === undefined) throw new MetricsError('fbetaScore needs options.beta');
  return pick(compute(yTrue, yPred, resolveBeta(options.beta), options), 'fScore');
}
