/**
 * @tessera/metrics — evaluation metrics over `number[]`, typed arrays and
 * tensor-likes (`{ shape, dataSync() }`), computed in float64. Invalid input
 * throws a `MetricsError` naming the offending argument, index or value.
 */

export { MetricsError } from './errors.js';
export { isTensorLike, toArray, toMatrix } from './input.js';
export type { ArrayInput, Matrix, MatrixInput, NumericArray, TensorLike } from './input.js';

export { accuracy } from './classification/accuracy.js';
export type { AccuracyOptions } from './classification/accuracy.js';
export { topKAccuracy } from './classification/topk.js';
export type { TopKOptions } from './classification/topk.js';
export { confusionMatrix } from './classification/confusion.js';
export type { ConfusionMatrixOptions } from './classification/confusion.js';
export {
  f1Score,
  fbetaScore,
  precisionRecallFscoreSupport,
  precisionScore,
  recallScore,
} from './classification/prf.js';
export type {
  Average,
  AveragedScores,
  FBetaOptions,
  PerLabelScores,
  PRFOptions,
  ScalarAverage,
} from './classification/prf.js';
export { rocAuc, rocCurve } from './classification/roc.js';
export type { RocCurve, RocCurveOptions, RocOptions } from './classification/roc.js';
export { averagePrecision, precisionRecallCurve } from './classification/pr.js';
export type { PrecisionRecallCurve, PrOptions } from './classification/pr.js';
export { logLoss } from './classification/logloss.js';
export type { LogLossOptions } from './classification/logloss.js';
export { classificationReport, classificationReportDict } from './classification/report.js';
export type {
  ClassificationReportDict,
  ClassificationReportOptions,
  ClassReportRow,
  ReportRow,
} from './classification/report.js';

export { crossEntropy, tokenCrossEntropy } from './language/crossEntropy.js';
export type { LanguageOptions } from './language/crossEntropy.js';
export { perplexity, perplexityFromLosses } from './language/perplexity.js';

export { mse } from './regression/mse.js';
export { rmse } from './regression/rmse.js';
export { mae } from './regression/mae.js';
export { r2 } from './regression/r2.js';
