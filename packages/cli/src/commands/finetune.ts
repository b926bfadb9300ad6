/** `tessera finetune`: train a spam classifier on SpamAssassin and report its test metrics. */

import { join } from 'node:path';
import { ready } from '@tessera/tensor';
import { CharTokenizer, loadGPT2Tokenizer, type SavableTokenizer } from '@tessera/models';
import { defineCommand } from '../args.js';
import { command } from '../command.js';
import { UsageError } from '../errors.js';
import { EXIT } from '../exit.js';
import { checkReplaceable, replaceDirAtomic, requireDir } from '../data/files.js';
import { LABELS } from '../data/spam.js';
import { classifierFromLanguageModel, createClassifier, type Architecture, type Classifier } from '../classify/model.js';
import { FINETUNE_FILE, fineTune, fmtDuration, predict, prepareSpamData, printMetrics, spamMetrics, writeRecord, type FinetuneRecord } from '../classify/spam-task.js';

const spec = defineCommand({
  name: 'finetune',
  summary: 'Fine-tune a spam classifier on SpamAssassin (ham: easy-ham + hard-ham, spam: spam-1/2).',
  description: [
    'A seeded, stratified train/test split (default 80/20) of the 6,046 e-mails; each e-mail is read as its',
    'subject and body (headers dropped, MIME decoded, HTML reduced to text), cut to the first --max-tokens',
    'tokens. Trains from scratch (--arch encoder: bidirectional Transformer + mean pooling; --arch gpt2:',
    'GPT2ForSequenceClassification) or from a `tessera train` checkpoint (--from), then prints a',
    'classification report, the confusion matrix and ROC-AUC, and writes the model, finetune.json and',
    'roc.svg to --out. `tessera eval --model <out>` repeats the evaluation.',
  ].join('\n'),
  options: {
    from: { type: 'string', placeholder: '<dir>', help: 'start from this GPT-2 checkpoint (its tokenizer and size); default: from scratch' },
    arch: { type: 'string', choices: ['encoder', 'gpt2'], default: 'encoder', help: 'architecture when training from scratch' },
    tokenizer: { type: 'string', choices: ['gpt2', 'char'], default: 'gpt2', help: 'tokenizer when training from scratch' },
    maxTokens: { type: 'int', min: 1, max: 4096, help: 'tokens read per e-mail, the first ones (default: 128, or the --from model’s context if shorter)' },
    layers: { type: 'int', min: 1, max: 48, default: 1, help: 'Transformer blocks (from scratch)' },
    heads: { type: 'int', min: 1, max: 64, default: 4, help: 'attention heads (from scratch)' },
    embd: { type: 'int', min: 1, max: 4096, default: 64, help: 'model width (from scratch)' },
    dropout: { type: 'number', min: 0, max: 0.9, default: 0.1, help: 'dropout (from scratch)' },
    steps: { type: 'int', min: 1, default: 300, help: 'optimizer steps' },
    batch: { type: 'int', min: 1, max: 4096, default: 32, help: 'e-mails per step' },
    lr: { type: 'number', min: 0, max: 10, help: 'peak learning rate (default: 2e-3 from scratch, 5e-4 with --from)' },
    warmup: { type: 'int', min: 0, help: 'warmup steps (default: 5% of --steps)' },
    weightDecay: { type: 'number', min: 0, max: 10, default: 0.01, help: 'AdamW weight decay (matrices and embeddings)' },
    gradClip: { type: 'number', min: 0, default: 1, help: 'global gradient-norm clip (0: off)' },
    seed: { type: 'int', min: 0, max: 2 ** 32 - 1, default: 0, help: 'seed of the initial weights, batch order and dropout' },
    testFraction: { type: 'number', min: 0.01, max: 0.99, default: 0.2, help: 'share of each class held out for testing' },
    splitSeed: { type: 'int', min: 0, max: 2 ** 32 - 1, default: 42, help: 'seed of the train/test split' },
    out: { type: 'string', placeholder: '<dir>', default: 'checkpoints/spam', help: 'output directory (replaced)' },
  },
  examples: ['tessera finetune', 'tessera finetune --arch gpt2 --steps 400', 'tessera finetune --from checkpoints/gpt2 --steps 300'],
});

const DEFAULT_MAX_TOKENS = 128;

export const finetune = command(spec, async ({ options: o, given }, io) => {
  const started = performance.now();
  if (o.from !== undefined) {
    for (const key of ['arch', 'tokenizer', 'layers', 'heads', 'embd', 'dropout'] as const) {
      if (given.has(key)) throw new UsageError(`tessera finetune: --${key} applies to a model trained from scratch; --from ${o.from} fixes it`, 'finetune');
    }
    await requireDir(o.from, 'cannot read --from');
  }
  await checkReplaceable(o.out, [FINETUNE_FILE]);
  if (o.embd % o.heads !== 0) throw new UsageError(`tessera finetune: --embd ${o.embd} must be divisible by --heads ${o.heads}`, 'finetune');
  await ready();

  let classifier: Classifier | undefined;
  let tokenizer: SavableTokenizer | ((texts: string[]) => SavableTokenizer);
  if (o.from !== undefined) {
    const loaded = await classifierFromLanguageModel(o.from, o.seed);
    classifier = loaded.classifier;
    tokenizer = loaded.tokenizer;
    if (o.maxTokens !== undefined && o.maxTokens > classifier.maxLength) {
      classifier.dispose();
      throw new UsageError(`tessera finetune: --max-tokens ${o.maxTokens} exceeds the context of ${o.from} (n_positions ${classifier.maxLength})`, 'finetune');
    }
  } else {
    tokenizer = o.tokenizer === 'gpt2' ? await loadGPT2Tokenizer() : (texts: string[]) => CharTokenizer.fromCorpus(texts.join(''), { unknown: 'unk' });
  }

  const maxTokens = o.maxTokens ?? Math.min(DEFAULT_MAX_TOKENS, classifier?.maxLength ?? DEFAULT_MAX_TOKENS);
  const dataSettings = { testFraction: o.testFraction, splitSeed: o.splitSeed, maxTokens };
  const data = await prepareSpamData(dataSettings, tokenizer);
  classifier ??= createClassifier({
    architecture: o.arch as Architecture,
    vocabSize: data.tokenizer.vocabSize,
    maxLength: maxTokens,
    layers: o.layers,
    heads: o.heads,
    embd: o.embd,
    dropout: o.dropout,
    seed: o.seed,
  });
  const clf = classifier;
  const prepSeconds = (performance.now() - started) / 1000;
  const count = (labels: Int32Array, l: number) => labels.reduce((n, v) => n + (v === l ? 1 : 0), 0);
  io.stdout.write(
    `SpamAssassin: ${data.train.n} training e-mails (${count(data.train.labels, 0)} ham, ${count(data.train.labels, 1)} spam), ${data.test.n} test; ` +
      `split seed ${o.splitSeed}, first ${maxTokens} tokens of subject + body (prepared in ${prepSeconds.toFixed(1)}s)\n`,
  );
  io.stdout.write(
    `model: ${clf.architecture === 'gpt2' ? 'GPT2ForSequenceClassification' : 'TransformerEncoderClassifier'}${o.from ? ` from ${o.from}` : ' from scratch'}, ` +
      `${(clf.module.numParameters() / 1e6).toFixed(2)}M parameters, vocabulary ${clf.vocabSize}\n`,
  );

  try {
    const settings = {
      steps: o.steps,
      batch: o.batch,
      lr: o.lr ?? (o.from ? 5e-4 : 2e-3),
      warmup: o.warmup ?? Math.round(o.steps / 20),
      weightDecay: o.weightDecay,
      gradClip: o.gradClip,
      seed: o.seed,
    };
    const trained = await fineTune(clf, data.train, settings, io);
    io.stdout.write(`trained ${o.steps} steps in ${fmtDuration(trained.seconds)}${trained.interrupted ? ' (interrupted)' : ''}; evaluating on the test split\n`);
    const { scores, predictions } = predict(clf, data.test);
    const rocPath = join(o.out, 'roc.svg');
    const metrics = await spamMetrics(data.test.labels, scores, predictions, undefined);
    const record: FinetuneRecord = {
      format: 'tessera-finetune',
      version: 1,
      task: 'spam-assassin',
      labels: [...LABELS],
      data: dataSettings,
      training: { ...settings, architecture: clf.architecture, from: o.from ?? null, seconds: trained.seconds },
      results: { spamF1: metrics.spamF1, rocAuc: metrics.rocAuc, accuracy: metrics.accuracy },
    };
    await replaceDirAtomic(o.out, async (tmp) => {
      await clf.save(tmp, data.tokenizer);
      await writeRecord(tmp, record);
      await spamMetrics(data.test.labels, scores, predictions, join(tmp, 'roc.svg'));
    }, [FINETUNE_FILE]);
    printMetrics(metrics, io, rocPath);
    io.stdout.write(`model, ${FINETUNE_FILE} and roc.svg: ${o.out}/   total ${fmtDuration((performance.now() - started) / 1000)}\n`);
    return trained.interrupted ? EXIT.interrupted : EXIT.ok;
  } finally {
    clf.dispose();
  }
});
