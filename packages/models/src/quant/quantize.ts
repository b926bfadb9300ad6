/**
 * Weight-only quantization of a model: every Linear / Conv1D weight (and GPT-2's tied LM
 * head) gets an int8 or int4 copy with per-group f32 scales (`@tessera/core`'s quant.ts
 * format) that the layer's forward multiplies by through the `qmatmul` kernel. Activations,
 * biases, layer norms, embeddings and attention stay f32. Inference only: a quantized
 * layer throws an AutogradError when its input requires grad.
 */

import { ArgumentError, ShapeError, TesseraError, fmtShape, type QuantBits, type QuantGroupSize } from '@tessera/core';
import { dequantizeWeight, noGrad, quantizeWeight, type QuantizedWeight, type Tensor } from '@tessera/tensor';
import { GPT2 } from '../gpt2/model.js';
import { Conv1D } from '../nn/conv1d.js';
import { Linear } from '../nn/linear.js';
import type { Module } from '../nn/module.js';

/** Options of quantize(). */
export interface QuantizeOptions {
  /** 8: int8 in [-127, 127]; 4: int4 in [-8, 7], two per byte. */
  bits: QuantBits;
  /** Input values per f32 scale: 32 (default), 64 or 128. Every quantized weight's input dimension must be a multiple of it. */
  groupSize?: QuantGroupSize;
}

/** One weight quantize() replaces: where it lives, its f32 tensor, how it is multiplied, and its quantized copy. */
interface Site {
  name: string;
  weight: Tensor;
  transposed: boolean;
  get(): QuantizedWeight | null;
  set(q: QuantizedWeight | null): void;
}

/** The quantizable weights of `model`: Linear (x @ W^T), Conv1D (x @ W) and a GPT-2's tied head. */
function sites(model: Module): Site[] {
  const out: Site[] = [];
  for (const [name, m] of model.namedModules()) {
    if (m instanceof Linear || m instanceof Conv1D) {
      out.push({
        name: `${name ? `${name}.` : ''}weight`,
        weight: m.weight,
        transposed: m instanceof Linear,
        get: () => m.quantizedWeight,
        set: (q) => {
          m.quantizedWeight = q;
        },
      });
    }
    if (m instanceof GPT2) {
      out.push({
        name: `${name ? `${name}.` : ''}lm_head (tied to transformer.wte.weight)`,
        weight: m.transformer.wte.weight,
        transposed: true,
        get: () => m.quantizedHead,
        set: (q) => {
          m.quantizedHead = q;
        },
      });
    }
  }
  return out;
}

/**
 * Quantizes `model`'s Linear and Conv1D weights, and a GPT-2's LM head (its own quantized
 * copy of the token embedding; the embedding lookup stays f32), in place, and returns the
 * model: its forward, `generate`, `stream` and `loss` (without gradients) then run through
 * the quantized weights. The f32 parameters stay allocated (the state dict, optimizers and
 * `dequantize` still see them); `quantizedBytes` reports what the quantized copies take.
 * Quantizing a quantized model re-quantizes from the f32 weights with the new options.
 *
 * Throws a ShapeError naming the weight when its input dimension is not a multiple of the
 * group size (nothing is changed then), an UnsupportedError from the first forward on a
 * backend without the `qmatmul` kernel.
 * @example const q = await quantize(model, { bits: 8 }); await q.generate(ids, { maxNewTokens: 20 })
 */
export async function quantize<M extends Module>(model: M, options: QuantizeOptions): Promise<M> {
  const { bits } = options;
  const groupSize = options.groupSize ?? 32;
  if (bits !== 8 && bits !== 4) throw new ArgumentError(`quantize: bits must be 8 or 4, got ${String(bits)}`);
  const all = sites(model);
  if (all.length === 0) throw new ArgumentError(`quantize: ${model.typeName} has no Linear or Conv1D weights to quantize`);
  for (const s of all) {
    const k = s.transposed ? s.weight.shape[1] : s.weight.shape[0];
    if (k % groupSize !== 0) {
      throw new ShapeError(`quantize: ${s.name} ${fmtShape(s.weight.shape)} has input dimension ${k}, not a multiple of groupSize ${groupSize}; pick a group size that divides it`);
    }
  }
  const made: QuantizedWeight[] = [];
  try {
    for (const s of all) made.push(await quantizeWeight(s.weight, { bits, groupSize, transposed: s.transposed }));
  } catch (e) {
    for (const q of made) q.dispose();
    if (e instanceof TesseraError) e.message = `quantize: ${all[made.length].name}: ${e.message}`;
    throw e;
  }
  all.forEach((s, i) => {
    s.get()?.dispose();
    s.set(made[i]);
  });
  return model;
}

/**
 * Makes a quantized model f32 again, in place: every quantized weight's values (q * scale)
 * are written into its f32 parameter and the quantized copy is freed, so the model then
 * computes with exactly the weights the quantized model stood for (a tied GPT-2 head's
 * copy is freed without a write: the embedding table it came from stays as it was). A
 * model without quantized weights is returned unchanged.
 * @example const f = await dequantize(await quantize(model, { bits: 4 })) // weights within half a step
 */
export async function dequantize<M extends Module>(model: M): Promise<M> {
  for (const s of sites(model)) {
    const q = s.get();
    if (!q) continue;
    if (!(model instanceof GPT2 && s.weight === model.transformer.wte.weight)) {
      const w = await dequantizeWeight(q, { transposed: s.transposed });
      try {
        noGrad(() => s.weight.assign(w));
      } finally {
        w.dispose();
      }
    }
    q.dispose();
    s.set(null);
  }
  return model;
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
  for (const s of sites(model)) {
    const q = s.get();
    if (!q) continue;
    out.weights++;
    out.quantized += q.bytes;
    out.f32 += q.n * q.k * 4;
  }
  return out;
}
