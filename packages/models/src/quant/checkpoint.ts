/**
 * Quantized checkpoints in the Hugging Face directory layout: `model.safetensors` holds each
 * quantized weight under its f32 parameter's name with its packed values, plus an F32 scale
 * tensor under the same name with `_scale` appended, and config.json a
 * `quantization_config` naming the method, format and weights, and the activations the
 * products accept (`activations`: "f32", or "int8" where a backend finds that faster; a
 * config without the key is "f32"). The f32 parameters left
 * (biases, norms, position embedding) are stored as usual.
 *
 * - `<name>`: int8 as I8 [n, k]; int4 as U8 [n, k / 2] (two values per byte, llama.cpp's
 *   Q4_0 order: in each 32-value block, byte t holds value t in its low nibble and value
 *   t + 16 in its high one, each stored as q + 8). Always output-major: a Conv1D weight,
 *   [in, out] in f32, is stored [out, in] (rows are the groups' axis).
 * - `<name>_scale`: F32 [n, k / group_size], one scale per group; w = q * scale.
 *
 * `_scale` follows the `weight_scale` naming of the FP8 / compressed-tensors checkpoints
 * that transformers reads, so the pair sorts together and a dotted path never suggests a
 * submodule named `scales`; the format id keeps a reader from taking these for theirs.
 */

import { ArgumentError, QUANT_ACTIVATIONS, QUANT_GROUP_SIZES, quantizedElements, type QuantActivations, type QuantBits, type QuantGroupSize, type QuantizedMatrix } from '@tessera/core';
import { quantizedWeightFromHost, quantizedWeightToHost, type QuantizedWeight } from '@tessera/tensor';
import { FormatError } from '../io/errors.js';
import type { SafetensorsReader, TensorToSave } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import { quantizedWeights } from './quantize.js';

/** `quantization_config.quant_method` of a Tessera checkpoint. */
export const QUANT_METHOD = 'tessera';
/** `quantization_config.format`: symmetric per-group int8 / Q4_0-packed int4, output-major, f32 scales. */
export const QUANT_FORMAT = 'tessera-symmetric-groupwise-v1';
/** The suffix of a quantized weight's scale tensor. */
export const SCALE_SUFFIX = '_scale';

/** A checkpoint's `quantization_config`, as Tessera reads and writes it. */
export interface QuantizationConfig {
  quant_method: typeof QUANT_METHOD;
  format: typeof QUANT_FORMAT;
  bits: QuantBits;
  group_size: QuantGroupSize;
  symmetric: true;
  /** The activations products may use (QuantizeOptions.activations); absent in older checkpoints, read as 'f32'. */
  activations: QuantActivations;
  /** The quantized weights' names (their f32 parameters' dotted names). */
  quantized_weights: string[];
}

/**
 * The `quantization_config` of a quantized model, or null when it has no quantized weight.
 * Every weight must share bits, group size and activations (what `quantize` makes): an ArgumentError otherwise.
 */
export function quantizationConfigOf(model: Module): QuantizationConfig | null {
  const q = quantizedWeights(model);
  if (q.size === 0) return null;
  const [first] = q.values();
  for (const [name, { weight }] of q) {
    const [w, f] = [weight, first.weight];
    if (w.bits !== f.bits || w.groupSize !== f.groupSize || w.activations !== f.activations) {
      throw new ArgumentError(
        `savePretrained: ${name} is int${w.bits} group ${w.groupSize} ${w.activations} activations but other weights are int${f.bits} group ${f.groupSize} ${f.activations} activations; a checkpoint holds one quantization`,
      );
    }
  }
  const f = first.weight;
  return { quant_method: QUANT_METHOD, format: QUANT_FORMAT, bits: f.bits, group_size: f.groupSize, symmetric: true, activations: f.activations, quantized_weights: [...q.keys()] };
}

/** The bytes of packed words (little-endian elements; see core's quant.ts). */
function wordBytes(q: Int32Array): Uint8Array {
  return new Uint8Array(q.buffer, q.byteOffset, q.byteLength);
}

/** The safetensors tensors of a model's quantized weights: values and scales, by name. */
export async function quantizedTensorsToSave(model: Module): Promise<Record<string, TensorToSave>> {
  const out: Record<string, TensorToSave> = {};
  for (const [name, { weight }] of quantizedWeights(model)) {
    const m = await quantizedWeightToHost(weight);
    const bytes = wordBytes(m.q);
    out[name] = m.bits === 8 ? { dtype: 'I8', shape: [m.n, m.k], data: new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) } : { dtype: 'U8', shape: [m.n, m.k / 2], data: bytes };
    out[`${name}${SCALE_SUFFIX}`] = { dtype: 'F32', shape: [m.n, m.k / m.groupSize], data: m.scales };
  }
  return out;
}

/**
 * Checks config.json's `quantization_config` (null when there is none): a FormatError naming
 * the key and value Tessera cannot read (another method or format, bits, group size or
 * activations outside the format, no weight list). `where` names the file for messages.
 * A config without `activations` (written before the key existed) reads as 'f32'.
 */
export function parseQuantizationConfig(config: Record<string, unknown>, where: string): QuantizationConfig | null {
  const qc = config.quantization_config;
  if (qc === undefined || qc === null) return null;
  const bad = (key: string, why: string): never => {
    throw new FormatError(`${where}: quantization_config.${key} ${why}`);
  };
  if (typeof qc !== 'object' || Array.isArray(qc)) throw new FormatError(`${where}: quantization_config must be an object, got ${JSON.stringify(qc)}`);
  const c = qc as Record<string, unknown>;
  if (c.quant_method !== QUANT_METHOD) bad('quant_method', `is ${JSON.stringify(c.quant_method)}; Tessera reads only its own ("${QUANT_METHOD}") quantized checkpoints (GGUF files load with loadGguf)`);
  if (c.format !== QUANT_FORMAT) bad('format', `is ${JSON.stringify(c.format)}, expected "${QUANT_FORMAT}"`);
  if (c.bits !== 8 && c.bits !== 4) bad('bits', `is ${JSON.stringify(c.bits)}; the format has 8 and 4`);
  if (!(QUANT_GROUP_SIZES as readonly unknown[]).includes(c.group_size)) bad('group_size', `is ${JSON.stringify(c.group_size)}; the format has ${QUANT_GROUP_SIZES.join(', ')}`);
  if (c.symmetric !== true) bad('symmetric', `is ${JSON.stringify(c.symmetric)}; the format is symmetric (zero point 0)`);
  const activations = c.activations ?? 'f32';
  if (!(QUANT_ACTIVATIONS as readonly unknown[]).includes(activations)) bad('activations', `is ${JSON.stringify(c.activations)}; Tessera has ${QUANT_ACTIVATIONS.map((a) => `"${a}"`).join(' and ')}`);
  const names = c.quantized_weights;
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string')) bad('quantized_weights', 'must be a non-empty array of tensor names');
  if (new Set(names as string[]).size !== (names as string[]).length) bad('quantized_weights', 'names a weight twice');
  return { ...(c as unknown as QuantizationConfig), activations: activations as QuantActivations };
}

/** The names of a quantized checkpoint's tensors that are not f32 parameters (values and scales). */
export function quantizedTensorNames(qc: QuantizationConfig): Set<string> {
  return new Set(qc.quantized_weights.flatMap((n) => [n, `${n}${SCALE_SUFFIX}`]));
}

/**
 * Reads the quantized weights `qc` names from an opened model.safetensors into host
 * matrices, checking every tensor against the format: a FormatError naming the tensor when
 * one is missing, has another dtype, or a shape that does not fit (values [n, k] / [n, k / 2],
 * scales [n, k / group_size]), or a scale is not finite. `where` names the file.
 */
export function readQuantizedMatrices(weights: SafetensorsReader, qc: QuantizationConfig, where: string): Map<string, QuantizedMatrix> {
  const out = new Map<string, QuantizedMatrix>();
  const { bits, group_size: groupSize } = qc;
  for (const name of qc.quantized_weights) {
    const scaleName = `${name}${SCALE_SUFFIX}`;
    for (const n of [name, scaleName]) if (!weights.has(n)) throw new FormatError(`${where}: quantization_config lists ${JSON.stringify(name)} but the file has no tensor ${JSON.stringify(n)}`);
    const v = weights.entry(name);
    const want = bits === 8 ? 'I8' : 'U8';
    if (v.dtype !== want) throw new FormatError(`${where}: ${JSON.stringify(name)} is ${v.dtype}; int${bits} values are stored as ${want}`);
    if (v.shape.length !== 2) throw new FormatError(`${where}: ${JSON.stringify(name)} has shape [${v.shape.join(', ')}]; quantized values are 2-D [n, ${bits === 8 ? 'k' : 'k / 2'}]`);
    const n = v.shape[0];
    const k = bits === 8 ? v.shape[1] : v.shape[1] * 2;
    if (k % groupSize !== 0) throw new FormatError(`${where}: ${JSON.stringify(name)} has ${k} values per row, not a multiple of group_size ${groupSize}`);
    const s = weights.entry(scaleName);
    if (s.dtype !== 'F32' || s.shape.length !== 2 || s.shape[0] !== n || s.shape[1] !== k / groupSize) {
      throw new FormatError(`${where}: ${JSON.stringify(scaleName)} is ${s.dtype} [${s.shape.join(', ')}]; the scales of ${JSON.stringify(name)} (${n} rows of ${k} values in groups of ${groupSize}) are F32 [${n}, ${k / groupSize}]`);
    }
    const raw = weights.rawBytes(name);
    const q = new Int32Array(quantizedElements(n, k, bits));
    new Uint8Array(q.buffer).set(raw);
    const scales = Float32Array.from(weights.get(scaleName).data);
    const badScale = scales.findIndex((x) => !Number.isFinite(x) || x < 0);
    if (badScale >= 0) throw new FormatError(`${where}: ${JSON.stringify(scaleName)} element ${badScale} is ${scales[badScale]}; scales are finite and >= 0`);
    out.set(name, { bits, groupSize, n, k, q, scales });
  }
  return out;
}

/**
 * Uploads host matrices as the model's quantized weights (allowing `activations`, default
 * 'f32'), freeing all of them if one upload fails.
 */
export function uploadQuantized(matrices: ReadonlyMap<string, QuantizedMatrix>, activations: QuantActivations = 'f32'): Map<string, QuantizedWeight> {
  const out = new Map<string, QuantizedWeight>();
  try {
    for (const [name, m] of matrices) out.set(name, quantizedWeightFromHost(m, { activations }));
  } catch (e) {
    for (const q of out.values()) q.dispose();
    throw e;
  }
  return out;
}
