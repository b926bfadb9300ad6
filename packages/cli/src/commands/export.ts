/** `tessera export`: write a model directory as an ONNX file. */

import { join } from 'node:path';
import { TesseraError } from '@tessera/core';
import { GPT2, GPT2ForSequenceClassification, ONNX_OPSETS, TransformerEncoderClassifier, exportOnnx, type Module, type OnnxFiles } from '@tessera/models';
import { ready } from '@tessera/tensor';
import { defineCommand } from '../args.js';
import { loadClassifier } from '../classify/model.js';
import { command } from '../command.js';
import { CliError, UsageError } from '../errors.js';
import { describeFsError, readText, recoverCheckpointDir, requireDir } from '../data/files.js';

const spec = defineCommand({
  name: 'export',
  summary: 'Export a model directory (GPT-2, GPT-2 or encoder classifier) to ONNX.',
  description:
    'GPT-2 language models get inputs input_ids, attention_mask, position_ids and output logits, as Hugging Face Optimum names them; --kv-cache adds past_key_values.{i}.key/.value inputs and present.{i}.key/.value outputs. Classifiers get input_ids, attention_mask -> logits. Inputs and outputs are float32 (ids int64) for both dtypes.',
  options: {
    model: { type: 'string', placeholder: '<dir>', help: 'model directory: tessera train / finetune output, or a Hugging Face GPT-2 (required)' },
    format: { type: 'string', choices: ['onnx'], default: 'onnx', help: 'output format' },
    out: { type: 'string', placeholder: '<file>', help: 'the file to write, e.g. model.onnx (required)' },
    kvCache: { type: 'boolean', help: 'GPT-2 language model: past/present key-value inputs and outputs for cached decoding' },
    dtype: { type: 'string', choices: ['f32', 'f16'], default: 'f32', help: 'weight and compute precision' },
    opset: { type: 'int', min: ONNX_OPSETS.min, max: ONNX_OPSETS.max, default: ONNX_OPSETS.default, help: 'ONNX opset of the default domain' },
    externalData: { type: 'boolean', help: 'weights in <out>.data beside the model (ONNX external data; default: only past 2 GiB)' },
  },
  examples: ['tessera export --model checkpoints/gpt2 --out gpt2.onnx --kv-cache', 'tessera export --model checkpoints/spam --out spam.onnx --dtype f16'],
});

/** The model in `dir`, by its config.json's architecture (or model_type). */
async function loadModel(dir: string): Promise<Module> {
  // A checkpoint whose save was killed between its renames is taken back, and debris removed, as every command that opens one does.
  await recoverCheckpointDir(dir);
  const path = join(dir, 'config.json');
  let config: { architectures?: unknown; model_type?: unknown };
  try {
    config = JSON.parse(await readText(path, 'cannot read the model config')) as typeof config;
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  const arch = Array.isArray(config.architectures) ? config.architectures[0] : undefined;
  try {
    if (arch === 'GPT2LMHeadModel' || (arch === undefined && config.model_type === 'gpt2')) return await GPT2.fromPretrained(dir, { tokenizer: false });
    if (arch === 'GPT2ForSequenceClassification') return await GPT2ForSequenceClassification.fromPretrained(dir, { tokenizer: false });
    if (arch === 'TransformerEncoderClassifier' && config.model_type === 'tessera-encoder-classifier') return await TransformerEncoderClassifier.fromPretrained(dir);
  } catch (e) {
    throw new CliError(`cannot load --model ${dir}: ${(e as Error).message}`);
  }
  // A `tessera finetune` encoder directory (its own config keys).
  if (arch === 'TransformerEncoderClassifier') return (await loadClassifier(dir)).classifier.module;
  throw new CliError(
    `${path} names architecture ${JSON.stringify(arch ?? null)}; tessera export reads GPT2LMHeadModel, GPT2ForSequenceClassification and TransformerEncoderClassifier directories`,
  );
}

export const exportModel = command(spec, async ({ options: o, given }, io) => {
  if (o.model === undefined) throw new UsageError('--model <dir> is required (a directory written by tessera train or finetune, or a Hugging Face GPT-2)', 'export');
  if (o.out === undefined) throw new UsageError('--out <file> is required (where to write the .onnx file)', 'export');
  await requireDir(o.model, 'cannot read --model');
  await ready();
  const model = await loadModel(o.model);
  let files: OnnxFiles;
  try {
    model.eval();
    const externalData = given.has('externalData') ? o.externalData : undefined;
    files = await exportOnnx(model, o.out, { kvCache: o.kvCache, dtype: o.dtype as 'f32' | 'f16', opset: o.opset, externalData });
  } catch (e) {
    if (e instanceof TesseraError) throw e;
    throw new CliError(describeFsError(e, `cannot write --out ${o.out}`));
  } finally {
    model.dispose();
  }
  const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const data = files.dataPath ? `, weights in ${files.dataPath} (${mib(files.dataBytes)})` : '';
  io.stdout.write(`${o.out}: ${model.typeName} as ONNX (opset ${o.opset}, ${o.dtype}${o.kvCache ? ', KV cache' : ''}), ${mib(files.bytes)}${data}\n`);
  return 0;
});
