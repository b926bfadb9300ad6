/** `tessera eval`: evaluate a `tessera finetune` model on its SpamAssassin test split. */

import { join } from 'node:path';
import { ready } from '@tessera/tensor';
import { defineCommand } from '../args.js';
import { command } from '../command.js';
import { CliError, UsageError } from '../errors.js';
import { readText, recoverCheckpointDir, requireDir } from '../data/files.js';
import { loadClassifier } from '../classify/model.js';
import { FINETUNE_FILE, predict, prepareSpamData, printMetrics, spamMetrics, type FinetuneRecord } from '../classify/spam-task.js';

const spec = defineCommand({
  name: 'eval',
  summary: 'Evaluate a fine-tuned spam classifier on the SpamAssassin test split it was held out from.',
  description: 'Reads the split and tokenization settings from the model’s finetune.json, so the test e-mails are exactly those the model never trained on.',
  options: {
    model: { type: 'string', placeholder: '<dir>', help: 'a directory written by tessera finetune (required)' },
    roc: { type: 'string', placeholder: '<file>', help: 'where to write the ROC curve SVG (default: <model>/roc.svg)' },
  },
  examples: ['tessera eval --model checkpoints/spam'],
});

export const evaluate = command(spec, async ({ options: o }, io) => {
  if (o.model === undefined) throw new UsageError('--model <dir> is required (a directory written by tessera finetune)', 'eval');
  await recoverCheckpointDir(o.model);
  await requireDir(o.model, 'cannot read --model');
  const recordPath = join(o.model, FINETUNE_FILE);
  let record: FinetuneRecord;
  try {
    record = JSON.parse(await readText(recordPath, 'cannot read')) as FinetuneRecord;
  } catch (e) {
    if (e instanceof CliError) throw new CliError(`${e.message} (is ${o.model} a tessera finetune output?)`);
    throw new CliError(`${recordPath} is not valid JSON: ${(e as Error).message}`);
  }
  if (record.format !== 'tessera-finetune' || record.version !== 1 || record.task !== 'spam-assassin') {
    throw new CliError(`${recordPath} is not a version-1 tessera finetune record for the spam-assassin task`);
  }
  await ready();
  const { classifier, tokenizer } = await loadClassifier(o.model);
  try {
    const data = await prepareSpamData(record.data, tokenizer);
    io.stdout.write(`${o.model}: ${record.training.architecture} classifier, test split of ${data.test.n} e-mails (split seed ${record.data.splitSeed}, ${record.data.maxTokens} tokens each)\n`);
    const { scores, predictions } = predict(classifier, data.test);
    const rocPath = o.roc ?? join(o.model, 'roc.svg');
    const metrics = await spamMetrics(data.test.labels, scores, predictions, rocPath);
    printMetrics(metrics, io, rocPath);
  } finally {
    classifier.dispose();
  }
  return 0;
});
