/**
 * Weight-only quantization of a model: every Linear / Conv1D weight, and a GPT-2 body's
 * token embedding (for GPT2LMHeadModel also its tied LM head), is replaced by an int8 or
 * int4 copy with per-group f32 scales (`@tessera/core`'s quant.ts format) and its f32
 * tensor is freed. Linear / Conv1D multiply through the `qmatmul` kernel, the embedding
 * lookup gathers dequantized rows with `qembedding`, and the tied head multiplies by the
 * same table. Activations, biases, layer norms and the position embedding stay f32.
 *
 * A quantized model's `parameters()` and `stateDict()` hold only its f32 parameters; the
 * quantized weights are `quantizedWeights(model)` (by the f32 parameter's name), which is
 * what a quantized checkpoint stores. Inference only: a forward pass that would need a
 * gradient through a quantized weight throws a QuantizedModelError naming it.
 */

import { ArgumentError, ShapeError, TesseraError, fmtShape, type QuantActivations, type QuantBits, type QuantGroupSize } from '@tessera/core';
import { checkQuantActivations, dequantizeWeight, quantizeWeight, type QuantizedWeight, type Tensor } from '@tessera/tensor';
import { GPT2Model } from '../gpt2/transformer.js';
import { Conv1D } from '../nn/conv1d.js';
import { Embedding } from '../nn/embedding.js';
import { QuantizedModelError } from '../nn/errors.js';
import { Linear } from '../nn/linear.js';
import type { Module } from '../nn/module.js';
import { hasFlatParameters, repackParameters } from '../nn/parameters.js';

/** Options of quantize(). */
export interface QuantizeOptions {
  /** 8: int8 in [-127, 127]; 4: int4 in [-8, 7], two per byte. */
  bits: QuantBits;
  /**
   * Input values per f32 scale: 32, 64 or 128. Every quantized weight's input dimension must
   * be a multiple of it. Default (defaultGroupSize): 32 for int4, where the group's largest
   * value sets a coarse step for 15 levels; for int8 the largest of 128 / 64 / 32 that
   * divides every input dimension, since 255 levels make the group size nearly free in
   * accuracy while the f32 scale costs 4 / groupSize bytes a weight (12.5% at 32, 3.1% at 128).
   */
  groupSize?: QuantGroupSize;
  /**
   * Round every scale to f16 and quantize with the rounded scale, so that with group size 32
   * the weights are exactly GGUF Q8_0 / Q4_0 blocks (what writing a GGUF file does).
   */
  f16Scales?: boolean;
  /**
   * The least accuracy the model's products accept (onnxruntime's MatMulNBits
   * `accuracy_level` is the precedent): 'f32' (default) multiplies the f32 activations as
   * given; 'int8' lets a backend quantize each row of activations to int8 per group (one
   * scale per groupSize values) and sum exact integer products, where it declares that
   * faster — on wasm the decode steps (up to 2 rows), never on WebGPU; prompts keep f32
   * activations. Each product then differs from 'f32' by at most half an activation step
   * per term. Stored on every quantized weight and in a saved checkpoint.
   */
  activations?: QuantActivations;
}

/**
 * How a quantized weight relates to its f32 parameter: 'nk' when the parameter is [n, k]
 * (nn.Linear, an embedding table: rows are the quantized rows), 'kn' when it is [k, n]
 * (Conv1D, x @ W: quantized transposed). The quantized copy is always [n, k].
 */
export type QuantLayout = 'nk' | 'kn';

/** A quantizable weight of a model: its layer, dotted name, f32 shape and layout. */
export interface QuantSite {
  /** The f32 parameter's dotted name (`transformer.h.0.attn.c_attn.weight`). */
  name: string;
  layer: Linear | Conv1D | Embedding;
  layout: QuantLayout;
  /** The f32 parameter's shape. */
  shape: readonly [number, number];
}

/** The quantizable weights of `model`: Linear (x @ W^T), Conv1D (x @ W) and a GPT-2 body's token embedding. */
export function quantSites(model: Module): QuantSite[] {
  const out: QuantSite[] = [];
  for (const [path, m] of model.namedModules()) {
    const name = `${path ? `${path}.` : ''}weight`;
    if (m instanceof Linear) out.push({ name, layer: m, layout: 'nk', shape: [m.outFeatures, m.inFeatures] });
    else if (m instanceof Conv1D) out.push({ name, layer: m, layout: 'kn', shape: [m.inFeatures, m.outFeatures] });
    else if (m instanceof GPT2Model) {
      const wte = m.wte;
      out.push({ name: `${path ? `${path}.` : ''}wte.weight`, layer: wte, layout: 'nk', shape: [wte.numEmbeddings, wte.embeddingDim] });
    }
  }
  return out;
}

/** The quantized copy's [n, k] for a site. */
function nk(s: QuantSite): [number, number] {
  return s.layout === 'nk' ? [s.shape[0], s.shape[1]] : [s.shape[1], s.shape[0]];
}

/**
 * Puts quantized weights in place of f32 ones: each named site's layer computes with its
 * quantized copy and its f32 parameter is released (disposed; a model with a parameter
 * block gets a new, smaller block for what is left). `weights` maps site names to copies
 * of the site's [n, k]; the model takes ownership of them. Throws an ArgumentError naming
 * a name that is no quantizable weight, a ShapeError naming a copy of the wrong shape
 * (nothing changed then).
 */
export function installQuantized(model: Module, weights: ReadonlyMap<string, QuantizedWeight>): void {
  const byName = new Map(quantSites(model).map((s) => [s.name, s]));
  for (const [name, q] of weights) {
    const s = byName.get(name);
    if (!s) throw new ArgumentError(`${model.typeName}: '${name}' is not a quantizable weight of this model (those are Linear / Conv1D weights and a GPT-2 token embedding)`);
    const [n, k] = nk(s);
    if (q.n !== n || q.k !== k) throw new ShapeError(`${model.typeName}: quantized ${name} is [${q.n}, ${q.k}] (output-major), the layer needs [${n}, ${k}] (f32 ${fmtShape(s.shape)})`);
  }
  // Packed copies of the f32 weights (prepackWeights, an eval-mode forward) would outlive them:
  // once a layer is quantized it lists nothing to pack, so release them while they are listed.
  model.releasePackedWeights();
  for (const [name, q] of weights) {
    const s = byName.get(name)!;
    if (s.layer.quantizedWeight && s.layer.quantizedWeight !== q) s.layer.quantizedWeight.dispose();
    s.layer.quantizedWeight = q;
    if (!(s.layer instanceof Embedding)) s.layer.quantizedName = name;
    const old = s.layer._swapParameter('weight', null);
    if (old && !(hasFlatParameters(model) && model.flat.offsetOf(old) !== undefined)) old.dispose();
  }
  if (hasFlatParameters(model)) repackParameters(model);
}

/**
 * The quantized weights of a model by their f32 parameter's name, with their layout (the
 * copies are the model's: read them, don't dispose them).
 * @example for (const [name, { weight }] of quantizedWeights(model)) console.log(name, weight.bits);
 */
export function quantizedWeights(model: Module): Map<string, { weight: QuantizedWeight; layout: QuantLayout; shape: readonly [number, number] }> {
  const out = new Map<string, { weight: QuantizedWeight; layout: QuantLayout; shape: readonly [number, number] }>();
  for (const s of quantSites(model)) {
    const q = s.layer.quantizedWeight;
    if (q) out.set(s.name, { weight: q, layout: s.layout, shape: s.shape });
  }
  return out;
}

/**
 * The group size quantize() takes when none is given, for weights with these input
 * dimensions: 32 for int4; for int8 the largest of 128, 64 and 32 that divides every one
 * (32 when none does, which quantize() then refuses naming the weight).
 * @example defaultGroupSize(8, [768, 3072]) // 128
 */
export function defaultGroupSize(bits: QuantBits, inputDims: readonly number[]): QuantGroupSize {
  if (bits === 4) return 32;
  return ([128, 64, 32] as const).find((g) => inputDims.every((k) => k % g === 0)) ?? 32;
}

/**
 * Quantizes `model`'s Linear and Conv1D weights and a GPT-2 body's token embedding (a
 * GPT2LMHeadModel's tied LM head reads the same copy), in place, freeing their f32
 * tensors, and returns the model: its forward, `generate`, `stream` and `loss` (without
 * gradients) then run through the quantized weights. A model with a parameter block
 * (`model.flat`) gets a new block of its f32 parameters left, so optimizers made before
 * hold freed tensors. Quantizing a quantized model re-quantizes the weights it stands for
 * (`dequantize`, then quantize with the new options).
 *
 * Throws a ShapeError naming the weight when its input dimension is not a multiple of the
 * group size (nothing is changed then), an ArgumentError naming bad bits or activations,
 * an UnsupportedError from the first forward on a backend without the `qmatmul` /
 * `qembedding` kernels.
 * @example const q = await quantize(model, { bits: 4, activations: 'int8' }); await q.generate(ids, { maxNewTokens: 20 })
 */
export async function quantize<M extends Module>(model: M, options: QuantizeOptions): Promise<M> {
  const { bits } = options;
  if (bits !== 8 && bits !== 4) throw new ArgumentError(`quantize: bits must be 8 or 4, got ${String(bits)}`);
  const activations = checkQuantActivations(options.activations, 'quantize');
  const all = quantSites(model);
  if (all.length === 0) throw new ArgumentError(`quantize: ${model.typeName} has no Linear or Conv1D weights to quantize`);
  const groupSize = options.groupSize ?? defaultGroupSize(bits, all.map((s) => nk(s)[1]));
  for (const s of all) {
    const k = nk(s)[1];
    if (k % groupSize !== 0) {
      throw new ShapeError(`quantize: ${s.name} ${fmtShape(s.shape)} has input dimension ${k}, not a multiple of groupSize ${groupSize}; pick a group size that divides it`);
    }
  }
  if (all.some((s) => s.layer.quantizedWeight)) await dequantize(model);
  const made = new Map<string, QuantizedWeight>();
  try {
    for (const s of all) made.set(s.name, await quantizeWeight(s.layer.weight, { bits, groupSize, transposed: s.layout === 'nk', f16Scales: options.f16Scales, activations }));
  } catch (e) {
    for (const q of made.values()) q.dispose();
    if (e instanceof TesseraError) e.message = `quantize: ${all[made.size].name}: ${e.message}`;
    throw e;
  }
  installQuantized(model, made);
  return model;
}

/**
 * Makes a quantized model f32 again, in place: every quantized weight's values (q * scale)
 * become a new f32 parameter (a model with a parameter block gets a block of its original
 * layout again) and the quantized copy is freed, so the model then computes with exactly
 * the weights the quantized model stood for and can be trained. A model without quantized
 * weights is returned unchanged.
 * @example const f = await dequantize(await quantize(model, { bits: 4 })) // weights within half a step
 */
export async function dequantize<M extends Module>(model: M): Promise<M> {
  const quantized = quantSites(model).filter((s) => s.layer.quantizedWeight);
  if (quantized.length === 0) return model;
  const restored: [QuantSite, Tensor][] = [];
  try {
    for (const s of quantized) restored.push([s, await dequantizeWeight(s.layer.quantizedWeight!, { transposed: s.layout === 'nk' })]);
  } catch (e) {
    for (const [, t] of restored) t.dispose();
    throw e;
  }
  for (const [s, t] of restored) {
    s.layer._swapParameter('weight', t.requiresGrad_());
    s.layer.quantizedWeight!.dispose();
    s.layer.quantizedWeight = null;
  }
  if (hasFlatParameters(model)) repackParameters(model);
  return model;
}

/** Throws a QuantizedModelError naming the first quantized weight of `model` (what a training entry point calls). */
export function assertNotQuantized(model: Module, what: string): void {
  const q = quantSites(model).find((s) => s.layer.quantizedWeight);
  if (q) {
    const w = q.layer.quantizedWeight!;
    throw new QuantizedModelError(`${what}: ${q.name} is quantized (int${w.bits}, group ${w.groupSize}) and has no gradient; dequantize(model) before training`, q.name);
  }
}

/** Memory of a model's quantized weights (see quantizedBytes). */
export interface QuantizedBytes {
  /** Weights with a quantized copy. */
  weights: number;
  /** Bytes of those copies: packed values plus f32 scales. */
  quantized: number;
  /** Bytes the same weights take in f32. */
  f32: number;
}

/**
 * What a model's quantized weights take next to their f32 form: int8 with 32-value groups
 * is (1 + 4/32) / 4 = 28% of f32, int4 (0.5 + 4/32) / 4 = 16%.
 * @example quantizedBytes(await quantize(model, { bits: 4 })) // { weights, quantized, f32 }
 */
export function quantizedBytes(model: Module): QuantizedBytes {
  const out: QuantizedBytes = { weights: 0, quantized: 0, f32: 0 };
  for (const { weight: q } of quantizedWeights(model).values()) {
    out.weights++;
    out.quantized += q.bytes;
    out.f32 += q.n * q.k * 4;
  }
  return out;
}
