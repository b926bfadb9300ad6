/**
 * The SpamAssassin task end to end: data preparation (split, tokenization), fine-tuning,
 * evaluation on the held-out test split, and the report (scikit-learn-style classification report,
 * confusion matrix, ROC-AUC, ROC curve SVG).
 */

import { join } from 'node:path';
import { noGrad, softmax, tensor, tidy } from '@tessera/tensor';
import { AdamW, WarmupCosineLR, clipGradNormSync } from '@tessera/optim';
import { classificationReport, confusionMatrix, rocAuc, rocCurve, accuracy } from '@tessera/metrics';
import type { SavableTokenizer } from '@tessera/models';
import type { Io } from '../command.js';
import { CliError } from '../errors.js';
import { LABELS, loadSpamAssassin, stratifiedSplit, type Email } from '../data/spam.js';
import { writeFileAtomic, writeText } from '../data/files.js';
import { Rng } from '../rng.js';
import { Progress, fmtDuration } from '../ui/progress.js';
import { rocCurveSvg } from '../ui/svg.js';
import { encodeAll, gatherRows, textEncoder, type Encoded } from './encode.js';
import type { Classifier } from './model.js';

/** How the data set is split and read; saved with the model so `eval` sees the same test set. */
export interface DataSettings {
  testFraction: number;
  splitSeed: number;
  /** Tokens per e-mail (the first ones of subject + body). */
  maxTokens: number;
}

/** The split, tokenized. */
export interface SpamData {
  emails: Email[];
  train: Encoded;
  test: Encoded;
}

/** Loads SpamAssassin, splits it (stratified, seeded) and tokenizes both parts. */
export async function prepareSpamData(settings: DataSettings, tokenizer: SavableTokenizer | ((trainTexts: string[]) => SavableTokenizer)): Promise<SpamData & { tokenizer: SavableTokenizer }> {
  const emails = await loadSpamAssassin();
  const split = stratifiedSplit(
    emails.map((e) => e.label),
    settings.testFraction,
    settings.splitSeed,
  );
  const tok = typeof tokenizer === 'function' ? tokenizer(split.train.map((i) => emails[i].text.slice(0, settings.maxTokens))) : tokenizer;
  const encode = textEncoder(tok, settings.maxTokens);
  const part = (rows: number[]) =>
    encodeAll(
      rows.map((i) => emails[i].text),
      rows.map((i) => emails[i].label),
      encode,
      settings.maxTokens,
    );
  return { emails, train: part(split.train), test: part(split.test), tokenizer: tok };
}

/** Optimization settings of a fine-tuning run. */
export interface FinetuneSettings {
  steps: number;
  batch: number;
  lr: number;
  warmup: number;
  weightDecay: number;
  gradClip: number;
  seed: number;
}

/** Fine-tunes `clf` on `train` with AdamW + warmup/cosine; batches walk a seeded shuffle, epoch by epoch. */
export async function fineTune(clf: Classifier, train: Encoded, s: FinetuneSettings, io: Io): Promise<{ seconds: number; finalLoss: number; interrupted: boolean }> {
  const opt = new AdamW(clf.paramGroups(s.weightDecay), { lr: s.lr, weightDecay: s.weightDecay });
  const sched = new WarmupCosineLR(opt, { warmupSteps: s.warmup, totalSteps: s.steps, minLr: s.lr / 10 });
  const params = clf.module.parameters();
  const rng = new Rng(s.seed);
  let order: number[] = [];
  let cursor = 0;
  const T = train.maxTokens;
  const progress = new Progress(io.stderr, s.steps, 0);
  let interrupted = false;
  const onSigint = (): void => {
    if (!interrupted) io.stderr.write('\ninterrupted: stopping after this step\n');
    interrupted = true;
  };
  process.on('SIGINT', onSigint);
  const started = performance.now();
  let ema = NaN;
  clf.module.train();
  try {
    for (let step = 1; step <= s.steps && !interrupted; step++) {
      if (cursor + s.batch > order.length) {
        order = rng.shuffle(Array.from({ length: train.n }, (_, i) => i));
        cursor = 0;
      }
      const rows = order.slice(cursor, cursor + s.batch);
      cursor += s.batch;
      const b = gatherRows(train, rows);
      const lossValue = tidy(() => {
        const ids = tensor(b.ids, [rows.length, T], 'i32');
        const mask = tensor(b.mask, [rows.length, T]);
        const loss = clf.loss(ids, mask, b.labels);
        loss.backward();
        return loss.itemSync();
      });
      if (!Number.isFinite(lossValue)) throw new CliError(`the loss became ${lossValue} at step ${step}; lower --lr (now ${s.lr})`);
      if (s.gradClip > 0) clipGradNormSync(params, s.gradClip);
      const lr = opt.paramGroups[0].lr;
      opt.step();
      clf.zeroGrad();
      sched.step();
      ema = Number.isNaN(ema) ? lossValue : 0.95 * ema + 0.05 * lossValue;
      const seconds = (performance.now() - started) / 1000;
      progress.update({ step, loss: ema, lr, rate: (step * s.batch) / seconds, rateUnit: 'emails' });
      await new Promise((r) => setImmediate(r));
    }
    progress.finish();
  } finally {
    process.off('SIGINT', onSigint);
    opt.dispose();
  }
  return { seconds: (performance.now() - started) / 1000, finalLoss: ema, interrupted };
}

/** Spam probabilities and predictions on `data` (eval mode, batches of 64). */
export function predict(clf: Classifier, data: Encoded): { scores: Float64Array; predictions: Int32Array } {
  clf.module.eval();
  const scores = new Float64Array(data.n);
  const T = data.maxTokens;
  const B = 64;
  for (let start = 0; start < data.n; start += B) {
    const rows = Array.from({ length: Math.min(B, data.n - start) }, (_, i) => start + i);
    const b = gatherRows(data, rows);
    const probs = noGrad(() =>
      tidy(() => softmax(clf.forward(tensor(b.ids, [rows.length, T], 'i32'), tensor(b.mask, [rows.length, T]))).dataSync()),
    );
    rows.forEach((r, i) => (scores[r] = probs[i * 2 + 1]));
  }
  clf.module.train();
  return { scores, predictions: Int32Array.from(scores, (p) => (p >= 0.5 ? 1 : 0)) };
}

/** The numbers `eval` reports. */
export interface SpamMetrics {
  accuracy: number;
  spamPrecision: number;
  spamRecall: number;
  spamF1: number;
  rocAuc: number;
  confusion: number[][];
  report: string;
  support: { ham: number; spam: number };
}

/** Metrics of `scores` against the labels of `data`; writes the ROC curve to `rocPath`. */
export async function spamMetrics(labels: Int32Array, scores: Float64Array, predictions: Int32Array, rocPath: string | undefined): Promise<SpamMetrics> {
  const names = [...LABELS];
  const report = classificationReport(labels, predictions, { targetNames: names, digits: 4, labels: [0, 1] });
  const confusion = confusionMatrix(labels, predictions, { labels: [0, 1] });
  const auc = rocAuc(labels, scores);
  const [[tn, fp], [fn, tp]] = confusion;
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  if (rocPath) {
    const curve = rocCurve(labels, scores, { dropIntermediate: true });
    await writeFileAtomic(rocPath, rocCurveSvg(Array.from(curve.fpr), Array.from(curve.tpr), auc, 'SpamAssassin test split: ROC curve (spam = positive)'));
  }
  return {
    accuracy: accuracy(labels, predictions),
    spamPrecision: precision,
    spamRecall: recall,
    spamF1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
    rocAuc: auc,
    confusion,
    report,
    support: { ham: tn + fp, spam: fn + tp },
  };
}

/** Prints the report block. */
export function printMetrics(m: SpamMetrics, io: Io, rocPath: string | undefined): void {
  const [[tn, fp], [fn, tp]] = m.confusion;
  const w = Math.max(5, String(Math.max(tn, fp, fn, tp)).length + 1);
  const cell = (v: number | string) => String(v).padStart(w);
  const lines = [
    '',
    `Test split: ${m.support.ham} ham, ${m.support.spam} spam`,
    '',
    m.report.trimEnd(),
    '',
    'Confusion matrix (rows: true, columns: predicted)',
    `${''.padStart(8)}${cell('ham')}${cell('spam')}`,
    `${'ham'.padStart(8)}${cell(tn)}${cell(fp)}`,
    `${'spam'.padStart(8)}${cell(fn)}${cell(tp)}`,
    '',
    `spam F1 ${m.spamF1.toFixed(4)}   ROC-AUC ${m.rocAuc.toFixed(4)}   accuracy ${m.accuracy.toFixed(4)}`,
  ];
  if (rocPath) lines.push(`ROC curve: ${rocPath}`);
  io.stdout.write(`${lines.join('\n')}\n`);
}

/** What `finetune` records beside the model so `eval` can rebuild the same test set. */
export interface FinetuneRecord {
  format: 'tessera-finetune';
  version: 1;
  task: 'spam-assassin';
  labels: string[];
  data: DataSettings;
  training: FinetuneSettings & { architecture: string; from: string | null; seconds: number };
  results: { spamF1: number; rocAuc: number; accuracy: number };
}

export const FINETUNE_FILE = 'finetune.json';

export async function writeRecord(dir: string, record: FinetuneRecord): Promise<void> {
  // JSON has no NaN or Infinity (JSON.stringify writes null); a metric that is undefined for this split is kept as its name.
  const faithful = (_key: string, v: unknown): unknown => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v);
  await writeText(join(dir, FINETUNE_FILE), `${JSON.stringify(record, faithful, 2)}\n`);
}

export { fmtDuration };
