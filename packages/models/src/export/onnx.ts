/**
 * ONNX export of GPT-2 (language model, optionally with a KV cache), GPT-2 sequence
 * classification and the Transformer encoder classifier, f32 or f16, or with quantized
 * weights kept quantized (onnx-quant.ts), as the bytes of one `.onnx` file.
 * Browser-safe: nothing here touches the file system (see `exportOnnx` in onnx-node.ts).
 */

import { TransformerEncoderClassifier } from '../classifiers/transformer-encoder-classifier.js';
import { GPT2 } from '../gpt2/model.js';
import { GPT2ForSequenceClassification } from '../gpt2/sequence-classification.js';
import type { Module } from '../nn/module.js';
import { OnnxExportError } from './errors.js';
import { encoderClassifierGraph } from './onnx-encoder.js';
import { gpt2ClassifierGraph, gpt2LMGraph } from './onnx-gpt2.js';
import { OnnxNet, type OnnxDType } from './onnx-layers.js';
import { encodeOnnxModel, type ModelInfo, type OnnxGraph } from './onnx-proto.js';
import { QUANT_FORMATS, type OnnxQuantFormat } from './onnx-quant.js';
import { quantizedWeights } from '../quant/quantize.js';

export type { OnnxDType } from './onnx-layers.js';
export type { OnnxQuantFormat } from './onnx-quant.js';

/** Options of `exportOnnx` / `exportOnnxBytes`. */
export interface OnnxExportOptions {
  /** GPT-2 language model only: past_key_values.* inputs and present.* outputs (default false). */
  kvCache?: boolean;
  /** Default-domain opset, ONNX_OPSETS.min..max (default 17, the first with LayerNormalization). */
  opset?: number;
  /** Weight and compute precision (default 'f32'); inputs and outputs are float32 either way. */
  dtype?: OnnxDType;
  /**
   * How a quantized model's weights are written (they stay int8 / int4 either way):
   * 'matmulnbits' (default) uses onnxruntime's com.microsoft MatMulNBits and
   * GatherBlockQuantized contrib ops, 'qdq' standard DequantizeLinear (opset 21+, the
   * default opset then). Only for a model with quantized weights.
   */
  quantized?: OnnxQuantFormat;
}

/** Opsets the exporter writes; each is loaded by onnxruntime in the tests. */
export const ONNX_OPSETS = { min: 17, max: 25, default: 17 } as const;

/** The first opset with blocked DequantizeLinear and int4: what the 'qdq' format needs, and its default opset. */
export const ONNX_QDQ_MIN_OPSET = 21;

/** ONNX IR version that goes with each opset (the ONNX release that introduced it). */
const IR_VERSION: Record<number, number> = { 17: 8, 18: 8, 19: 9, 20: 9, 21: 10, 22: 10, 23: 11, 24: 11, 25: 12 };

const DTYPES: readonly OnnxDType[] = ['f32', 'f16'];
const OPTION_KEYS = new Set(['kvCache', 'opset', 'dtype', 'quantized']);

/** The model types the exporter knows, with their export names. */
function modelKind(model: Module): 'gpt2-lm' | 'gpt2-classifier' | 'encoder-classifier' {
  if (model instanceof GPT2) return 'gpt2-lm';
  if (model instanceof GPT2ForSequenceClassification) return 'gpt2-classifier';
  if (model instanceof TransformerEncoderClassifier) return 'encoder-classifier';
  const name = (model as { typeName?: unknown } | null)?.typeName ?? (model as object | null)?.constructor?.name ?? String(model);
  throw new OnnxExportError(`exportOnnx: cannot export a ${String(name)}; supported: GPT2 (GPT2LMHeadModel), GPT2ForSequenceClassification, TransformerEncoderClassifier`);
}

/** Checked options with defaults filled in; `quantized` is null for a model without quantized weights. */
interface ResolvedOptions {
  kvCache: boolean;
  opset: number;
  dtype: OnnxDType;
  quantized: OnnxQuantFormat | null;
}

/** Options with defaults filled in, each checked (OnnxExportError naming the option and value). */
function resolveOnnxOptions(options: OnnxExportOptions, model: Module): ResolvedOptions {
  if (options === null || typeof options !== 'object') throw new OnnxExportError(`exportOnnx: options must be an object, got ${String(options)}`);
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) {
      const hint = key === 'externalData' ? ' (externalData is an option of exportOnnx, which writes files)' : '';
      throw new OnnxExportError(`exportOnnx: unknown option ${JSON.stringify(key)}${hint}; known: ${[...OPTION_KEYS].join(', ')}`);
    }
  }
  const firstQuantized = quantizedWeights(model).entries().next().value;
  if (options.quantized !== undefined && !QUANT_FORMATS.includes(options.quantized)) {
    throw new OnnxExportError(`exportOnnx: quantized ${JSON.stringify(options.quantized)} is not a format; use ${QUANT_FORMATS.map((f) => `'${f}'`).join(' or ')}`);
  }
  if (options.quantized !== undefined && !firstQuantized) {
    throw new OnnxExportError(`exportOnnx: quantized: '${options.quantized}' is for a quantized model, and this ${model.typeName} has no quantized weights (quantize(model, { bits }) first)`);
  }
  const quantized = firstQuantized ? (options.quantized ?? 'matmulnbits') : null;
  const { kvCache = false, opset = quantized === 'qdq' ? ONNX_QDQ_MIN_OPSET : ONNX_OPSETS.default, dtype = 'f32' } = options;
  if (quantized && dtype !== 'f32') {
    throw new OnnxExportError(`exportOnnx: dtype '${dtype}' with quantized weights (${firstQuantized![0]} is int${firstQuantized![1].weight.bits}); a quantized model exports with f32 activations and scales`);
  }
  if (quantized === 'qdq' && opset < ONNX_QDQ_MIN_OPSET) {
    throw new OnnxExportError(`exportOnnx: quantized: 'qdq' needs opset ${ONNX_QDQ_MIN_OPSET} or later (blocked DequantizeLinear, int4), got opset ${opset}`);
  }
  if (typeof kvCache !== 'boolean') throw new OnnxExportError(`exportOnnx: kvCache must be true or false, got ${JSON.stringify(kvCache)}`);
  if (!Number.isInteger(opset) || opset < ONNX_OPSETS.min || opset > ONNX_OPSETS.max) {
    throw new OnnxExportError(`exportOnnx: opset ${JSON.stringify(opset)} is not supported; use an integer from ${ONNX_OPSETS.min} to ${ONNX_OPSETS.max}`);
  }
  if (!DTYPES.includes(dtype)) throw new OnnxExportError(`exportOnnx: dtype ${JSON.stringify(dtype)} is not supported; use ${DTYPES.map((d) => `'${d}'`).join(' or ')}`);
  return { kvCache, opset, dtype, quantized };
}

/** A model's graph, name and header, built from checked options. */
export interface BuiltOnnx {
  readonly graph: OnnxGraph;
  readonly name: string;
  readonly info: ModelInfo;
}

/** Builds the graph of `model` (see exportOnnxBytes); no weight is read yet. */
export function buildOnnx(model: Module, options: OnnxExportOptions): BuiltOnnx {
  const kind = modelKind(model);
  const { kvCache, opset, dtype, quantized } = resolveOnnxOptions(options, model);
  if (kvCache && kind !== 'gpt2-lm') throw new OnnxExportError(`exportOnnx: kvCache is for the GPT-2 language model; a ${model.typeName} has no KV cache`);
  const net = new OnnxNet(dtype, quantized);
  if (kind === 'gpt2-lm') gpt2LMGraph(net, model as GPT2, kvCache);
  else if (kind === 'gpt2-classifier') gpt2ClassifierGraph(net, model as GPT2ForSequenceClassification);
  else encoderClassifierGraph(net, model as TransformerEncoderClassifier);
  return {
    graph: net.g,
    name: model.typeName,
    info: {
      irVersion: IR_VERSION[opset],
      opset,
      producerName: 'tessera',
      producerVersion: '',
      docString: `${model.typeName} exported by Tessera (${dtype}${kvCache ? ', KV cache' : ''}${quantized ? `, quantized weights as ${quantized}` : ''})`,
      metadata: {
        'tessera.model': model.typeName,
        'tessera.dtype': dtype,
        'tessera.kv_cache': String(kvCache),
        ...(quantized ? { 'tessera.quantized': quantized } : {}),
      },
      domains: net.g.domains,
    },
  };
}

/**
 * The `.onnx` bytes of `model` in eval mode (no dropout). GPT-2's language model has
 * inputs `input_ids`, `attention_mask`, `position_ids` (int64) and output `logits`; with
 * `kvCache`, also `past_key_values.{i}.key` / `.value` inputs and `present.{i}.key` /
 * `.value` outputs, [batch, n_head, length, head_dim] float32, as Optimum names them.
 * Classifiers take `input_ids`, `attention_mask` and give `logits` [batch, numLabels].
 * A quantized model's int8 / int4 weights stay quantized (see OnnxExportOptions.quantized).
 * Parameters are read synchronously (wasm or reference backend). One buffer holds the
 * whole file, so it is limited to protobuf's 2 GiB (exportOnnx can write external data).
 * @example const bytes = exportOnnxBytes(model, { kvCache: true }); await ort.InferenceSession.create(bytes)
 */
export function exportOnnxBytes(model: Module, options: OnnxExportOptions = {}): Uint8Array {
  const { graph, name, info } = buildOnnx(model, options);
  return encodeOnnxModel(graph, name, info);
}
