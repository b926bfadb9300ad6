import { MetricsError } from '../errors.js';
import { labelPair, type ArrayInput } from '../input.js';
import { formatFixed, padLeft } from './format.js';
import { explicitLabels, uniqueLabels } from './labels.js';
import { precisionRecallFscoreSupport, type ScalarAverage } from './prf.js';

/** Options of {@link classificationReport} and {@link classificationReportDict}. */
export interface ClassificationReportOptions {
  /** Display names of the labels, in label order (default: the labels as strings). */
  targetNames?: readonly string[];
  /** Decimals of the text report (default 2). */
  digits?: number;
  /** Labels to report and their order (default: sorted union of `yTrue` and `yPred`). */
  labels?: ArrayInput;
  /** Value of an undefined ratio: 0 (default), 1 or NaN; see `precisionScore`. */
  zeroDivision?: number;
}

/** One row of the report. */
export interface ReportRow {
  precision: number;
  recall: number;
  f1Score: number;
  support: number;
}

/** One per-label row of the report. */
export interface ClassReportRow extends ReportRow {
  label: number;
  name: string;
}

/** The numbers behind {@link classificationReport}. */
export interface ClassificationReportDict {
  /** Per-label rows in label order. */
  classes: ClassReportRow[];
  /** Micro-averaged precision (= accuracy) when every label present in the data is reported. */
  accuracy?: number;
  /** Micro averages, present instead of `accuracy` when `labels` leaves some label out. */
  microAvg?: ReportRow;
  macroAvg: ReportRow;
  weightedAvg: ReportRow;
}

interface Prepared {
  dict: ClassificationReportDict;
  names: string[];
  digits: number;
}

function prepare(yTrue: ArrayInput, yPred: ArrayInput, options: ClassificationReportOptions): Prepared {
  const digits = options.digits ?? 2;
  if (!Number.isInteger(digits) || digits < 0 || digits > 20) {
    throw new MetricsError(`digits must be an integer in [0, 20], got ${digits}`);
  }
  const [t, p] = labelPair(yTrue, yPred);
  const present = uniqueLabels(t, p);
  const labels = options.labels !== undefined ? explicitLabels(options.labels) : present;
  const microIsAccuracy =
    options.labels === undefined ||
    (new Set(labels).size === present.length && present.every((l) => labels.includes(l)));
  const names = options.targetNames !== undefined ? [...options.targetNames] : labels.map(String);
  if (names.length !== labels.length) {
    throw new MetricsError(`targetNames has ${names.length} names but there are ${labels.length} labels`);
  }
  const common = { labels, zeroDivision: options.zeroDivision };
  const per = precisionRecallFscoreSupport(t, p, { ...common, average: 'none' });
  const classes: ClassReportRow[] = labels.map((label, i) => ({
    label,
    name: names[i],
    precision: per.precision[i],
    recall: per.recall[i],
    f1Score: per.fScore[i],
    support: per.support[i],
  }));
  const avg = (average: ScalarAverage): ReportRow => {
    const r = precisionRecallFscoreSupport(t, p, { ...common, average });
    return { precision: r.precision, recall: r.recall, f1Score: r.fScore, support: r.support };
  };
  const micro = avg('micro');
  const dict: ClassificationReportDict = {
    classes,
    ...(microIsAccuracy ? { accuracy: micro.precision } : { microAvg: micro }),
    macroAvg: avg('macro'),
    weightedAvg: avg('weighted'),
  };
  return { dict, names, digits };
}

/**
 * Per-label precision/recall/F1/support plus accuracy, macro and weighted averages, as numbers.
 * @example classificationReportDict([0, 1, 1], [0, 1, 0]).macroAvg.f1Score // 0.6667
 */
export function classificationReportDict(
  yTrue: ArrayInput,
  yPred: ArrayInput,
  options: ClassificationReportOptions = {},
): ClassificationReportDict {
  return prepare(yTrue, yPred, options).dict;
}

/**
 * Text table laid out exactly like scikit-learn's `classification_report` (Python's half-to-even rounding included).
 * @example console.log(classificationReport([0, 1, 1], [0, 1, 0], { targetNames: ['cat', 'dog'] }))
 */
export function classificationReport(
  yTrue: ArrayInput,
  yPred: ArrayInput,
  options: ClassificationReportOptions = {},
): string {
  const { dict, names, digits } = prepare(yTrue, yPred, options);
  const lastHeading = 'weighted avg';
  const width = Math.max(...names.map((n) => [...n].length), lastHeading.length, digits);
  const col = (s: string): string => ' ' + padLeft(s, 9);
  const num = (x: number): string => col(formatFixed(x, digits));
  const row = (heading: string, r: ReportRow): string =>
    padLeft(heading, width) + ' ' + num(r.precision) + num(r.recall) + num(r.f1Score) + col(String(r.support)) + '\n';

  let out = padLeft('', width) + ' ' + ['precision', 'recall', 'f1-score', 'support'].map(col).join('') + '\n\n';
  dict.classes.forEach((c, i) => (out += row(names[i], c)));
  out += '\n';
  if (dict.accuracy !== undefined) {
    const support = dict.macroAvg.support;
    out += padLeft('accuracy', width) + ' ' + col('') + col('') + num(dict.accuracy) + col(String(support)) + '\n';
  } else if (dict.microAvg !== undefined) {
    out += row('micro avg', dict.microAvg);
  }
  out += row('macro avg', dict.macroAvg);
  out += row(lastHeading, dict.weightedAvg);
  return out;
}
