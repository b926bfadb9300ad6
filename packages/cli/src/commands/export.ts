/** `tessera export`: write a model directory as an ONNX file. */

import { join } from 'node:path';
import { TesseraError } from '@tessera/core';
import {
  GPT2,
  GPT2ForSequenceClassification,
  ONNX_OPSETS,
  ONNX_QDQ_MIN_OPSET,
  TransformerEncoderClassifier,
  exportOnnx,
  quantizedWeights,
  type Module,
  type OnnxFiles,
  type OnnxQuantFormat,
} from '@tessera/models';
import { ready } from '@tessera/tensor';
import { defineCommand } from '../args.js';
import { loadClassifier } from '../classify/model.js';
import { command } from '../command.js';
import { CliError, UsageError } from '../errors.js';
import { describeFsError, readText, recoverCheckpointDir, requireDir } from '../data/files.js';
import { loadGgufModel } from '../load-model.js';

const spec = defineCommand({
  name: 'export',
  summary: 'Export a model directory (GPT-2, GPT-2 or encoder classifier; quantized or not) or a gpt2 GGUF file to ONNX.',
  description:
    'GPT-2 language models get inputs input_ids, attention_mask, position_ids and output logits, as Hugging Face Optimum names them; --kv-cache adds past_key_values.{i}.key/.value inputs and present.{i}.key/.value outputs. Classifiers get input_ids, attention_mask -> logits. Inputs and outputs are float32 (ids int64) for both dtypes. ' +
    'A quantized model (a `tessera quantize` directory, a Q8_0 / Q4_0 GGUF file) keeps its int8 / int4 weights: --quantized matmulnbits (default) writes onnxruntime\'s com.microsoft MatMulNBits and GatherBlockQuantized ops, --quantized qdq standard DequantizeLinear (opset 21 or later, the default opset then).',
  options: {
    model: { type: 'string', placeholder: '<dir|file.gguf>', help: 'model directory (tessera train / finetune / quantize output, or a Hugging Face GPT-2) or a gpt2 GGUF file (required)' },
    format: { type: 'string', choices: ['onnx'], default: 'onnx', help: 'output format' },
    out: { type: 'string', placeholder: '<file>', help: 'the file to write, e.g. model.onnx (required)' },
    kvCache: { type: 'boolean', help: 'GPT-2 language model: past/present key-value inputs and outputs for cached decoding' },
    dtype: { type: 'string', choices: ['f32', 'f16'], default: 'f32', help: 'weight and compute precision' },
    opset: { type: 'int', min: ONNX_OPSETS.min, max: ONNX_OPSETS.max, placeholder: '<n>', help: `ONNX opset of the default domain (default ${ONNX_OPSETS.default}; ${ONNX_QDQ_MIN_OPSET} with --quantized qdq)` },
    quantized: { type: 'string', choices: ['matmulnbits', 'qdq'], help: 'how a quantized model\'s weights are written (default matmulnbits)' },
    externalData: { type: 'boolean', help: 'weights in <out>.data beside the model (ONNX external data; default: only past 2 GiB)' },
  },
  examples: [
    'tessera export --model checkpoints/gpt2 --out gpt2.onnx --kv-cache',
    'tessera export --model checkpoints/spam --out spam.onnx --dtype f16',
    'tessera export --model gpt2-int4 --out gpt2-int4.onnx --kv-cache',
  ],
});

/** The model in `dir`, by its config.json's architecture (or model_type), or the GPT-2 of a GGUF file. */
async function loadModel(dir: string): Promise<Module> {
  const gguf = await loadGgufModel(dir, { tokenizer: false });
  if (gguf) return gguf;
  // A checkpoint whose save was killed between its renames is taken back, and debris removed, as every command that opens one does.
  await recoverCheckpointDir(dir);
  await requireDir(dir, 'cannot read --model');
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
  if (o.model === undefined) throw new UsageError('--model <dir|file.gguf> is required (a directory written by tessera train, finetune or quantize, a Hugging Face GPT-2, or a gpt2 GGUF file)', 'export');
  if (o.out === undefined) throw new UsageError('--out <file> is required (where to write the .onnx file)', 'export');
  await ready();
  const model = await loadModel(o.model);
  const quantized = (o.quantized as OnnxQuantFormat | undefined) ?? (quantizedWeights(model).size > 0 ? 'matmulnbits' : undefined);
  const opset = o.opset ?? (quantized === 'qdq' ? ONNX_QDQ_MIN_OPSET : ONNX_OPSETS.default);
  let files: OnnxFiles;
  try {
    model.eval();
    const externalData = given.has('externalData') ? o.externalData : undefined;
    files = await exportOnnx(model, o.out, { kvCache: o.kvCache, dtype: o.dtype as 'f32' | 'f16', opset, externalData, quantized });
  } catch (e) {
    if (e instanceof TesseraError) throw e;
    throw new CliError(describeFsError(e, `cannot write --out ${o.out}`));
  } finally {
    model.dispose();
  }
  const mib = (n: number): string => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const data = files.dataPath ? `, weights in ${files.dataPath} (${mib(files.dataBytes)})` : '';
  const weights = quantized ? `, quantized weights as ${quantized}` : '';
  io.stdout.write(`${o.out}: ${model.typeName} as ONNX (opset ${opset}, ${o.dtype}${o.kvCache ? ', KV cache' : ''}${weights}), ${mib(files.bytes)}${data}\n`);
  return 0;
});
