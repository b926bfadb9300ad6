/**
 * Weight-only quantized matrix products: a weight quantized to int8 or int4 with one f32
 * scale per group of 32/64/128 values along its input dimension (the format of
 * `@tessera/core`'s quant.ts), multiplied by f32 activations with the backend's `qmatmul`
 * kernel. A weight may allow int8 activations (`activations: 'int8'`): the least accuracy
 * its user accepts, which the backend takes only where it says that pays (core's
 * `int8ActivationRows`). Inference only: there is no gradient through a quantized weight.
 */

import {
  ArgumentError,
  DTypeError,
  ShapeError,
  dequantizeMatrix,
  fmtShape,
  checkQuantFormat,
  int8ActivationRows,
  QUANT_ACTIVATIONS,
  quantizeMatrix,
  quantizedElements,
  requireFusedKernel,
  type QuantizedMatrix,
  type QuantActivations,
  type QuantBits,
  type QuantGroupSize,
} from '@tessera/core';
import { getBackend } from '../backend.js';
import { AutogradError } from '../errors.js';
import { backendOf, dense, empty, expectDType, withDense, writeHost } from '../kernels.js';
import { isGradEnabled } from '../mode.js';
import { keep } from '../scope.js';
import type { Tensor } from '../tensor.js';

/** Options of quantizeWeight. */
export interface QuantizeWeightOptions {
  /** 8 (int8) or 4 (int4, two per byte). */
  bits: QuantBits;
  /** Values per scale along the input dimension; default 32 (llama.cpp's block size). */
  groupSize?: QuantGroupSize;
  /**
   * How the model multiplies by w: true for `x @ w.T` with w [n, k] (nn.Linear, a tied LM
   * head), false for `x @ w` with w [k, n] (Conv1D). Either way the quantized weight is
   * held output-major, [n, k].
   */
  transposed: boolean;
  /** Round every scale to f16 and quantize with it (see core's quantizeMatrix): what a GGUF Q8_0 / Q4_0 block holds exactly. */
  f16Scales?: boolean;
  /** The activations products with this weight may use (QuantizedWeight.activations); default 'f32'. */
  activations?: QuantActivations;
}

/** `activations` checked (undefined: 'f32'); an ArgumentError naming `op` and the value otherwise. */
export function checkQuantActivations(activations: unknown, op: string): QuantActivations {
  if (activations === undefined) return 'f32';
  if (!(QUANT_ACTIVATIONS as readonly unknown[]).includes(activations)) {
    throw new ArgumentError(`${op}: activations must be ${QUANT_ACTIVATIONS.map((a) => `'${a}'`).join(' or ')}, got ${typeof activations === 'string' ? `'${activations}'` : String(activations)}`);
  }
  return activations as QuantActivations;
}

/**
 * A quantized [n, k] weight on one backend: `q` holds the packed values (i32 elements,
 * n * k * bits / 32 of them), `scales` the [n, k / groupSize] f32 scales. Both are kept
 * (outside every tidy scope) until `dispose()`. `activations` is the least accuracy its
 * products accept: 'f32' (the default) keeps x as given; 'int8' lets a backend quantize x
 * per row and group to int8 where it declares that faster (see quantizedMatmul).
 */
export class QuantizedWeight {
  constructor(
    readonly q: Tensor,
    readonly scales: Tensor,
    /** Output features. */
    readonly n: number,
    /** Input features (the dimension the groups run along). */
    readonly k: number,
    readonly bits: QuantBits,
    readonly groupSize: QuantGroupSize,
    readonly activations: QuantActivations = 'f32',
  ) {}

  /** Bytes the weight takes on its backend: packed values plus scales. */
  get bytes(): number {
    return (this.q.size + this.scales.size) * 4;
  }

  get isDisposed(): boolean {
    return this.q.isDisposed;
  }

  dispose(): void {
    if (this.q.isDisposed) return;
    this.q.dispose();
    this.scales.dispose();
  }
}

/**
 * Quantizes a 2-D f32 weight (read back from its backend) into a QuantizedWeight on the
 * same backend. Throws a ShapeError when the input dimension is not a multiple of the
 * group size, an ArgumentError for a non-finite weight.
 * @example const qw = await quantizeWeight(linear.weight, { bits: 8, transposed: true }); quantizedMatmul(x, qw)
 */
export async function quantizeWeight(w: Tensor, options: QuantizeWeightOptions): Promise<QuantizedWeight> {
  const be = backendOf('quantizeWeight', w);
  expectDType('quantizeWeight', w, 'f32');
  if (w.rank !== 2) throw new ShapeError(`quantizeWeight: expected a 2-D weight, got ${fmtShape(w.shape)}`);
  const { bits, transposed } = options;
  const groupSize = options.groupSize ?? 32;
  const activations = checkQuantActivations(options.activations, 'quantizeWeight');
  const [n, k] = transposed ? w.shape : [w.shape[1], w.shape[0]];
  const values = await w.data();
  const m = quantizeMatrix(values, n, k, { bits, groupSize, layout: transposed ? 'nk' : 'kn', f16Scales: options.f16Scales });
  const q = keep(empty(be, [m.q.length], 'i32', false));
  const scales = keep(empty(be, [n, k / groupSize], 'f32', false));
  writeHost(q, m.q);
  writeHost(scales, m.scales);
  return new QuantizedWeight(q, scales, n, k, bits, groupSize, activations);
}

/**
 * A QuantizedWeight on the current backend from host data in core's quant.ts layout (a
 * quantized checkpoint's tensors): no f32 weight is ever made. Throws an ArgumentError /
 * ShapeError naming the mismatch when the arrays do not fit [n, k] at `bits` / `groupSize`.
 * `options.activations` as in quantizeWeight (default 'f32').
 * @example const qw = quantizedWeightFromHost({ bits: 8, groupSize: 32, n, k, q, scales }, { activations: 'int8' })
 */
export function quantizedWeightFromHost(m: QuantizedMatrix, options: { activations?: QuantActivations } = {}): QuantizedWeight {
  const { bits, groupSize, n, k } = m;
  const activations = checkQuantActivations(options.activations, 'quantizedWeightFromHost');
  checkQuantFormat(bits, groupSize, k, 'quantizedWeightFromHost');
  if (!Number.isSafeInteger(n) || n < 0) throw new ArgumentError(`quantizedWeightFromHost: n must be a non-negative integer, got ${n}`);
  if (m.q.length !== quantizedElements(n, k, bits)) {
    throw new ShapeError(`quantizedWeightFromHost: ${m.q.length} packed words given for int${bits} [${n}, ${k}], which takes ${quantizedElements(n, k, bits)}`);
  }
  if (m.scales.length !== (n * k) / groupSize) {
    throw new ShapeError(`quantizedWeightFromHost: ${m.scales.length} scales given for [${n}, ${k}] in groups of ${groupSize}, which takes ${(n * k) / groupSize}`);
  }
  const be = getBackend();
  const q = keep(empty(be, [m.q.length], 'i32', false));
  const scales = keep(empty(be, [n, k / groupSize], 'f32', false));
  writeHost(q, m.q);
  writeHost(scales, m.scales);
  return new QuantizedWeight(q, scales, n, k, bits, groupSize, activations);
}

/** A QuantizedWeight's values read back to the host (core's quant.ts layout), e.g. to save them. */
export async function quantizedWeightToHost(qw: QuantizedWeight): Promise<QuantizedMatrix> {
  if (qw.isDisposed) throw new ArgumentError('quantizedWeightToHost: the quantized weight was disposed');
  const [q, scales] = await Promise.all([qw.q.data(), qw.scales.data()]);
  return { bits: qw.bits, groupSize: qw.groupSize, n: qw.n, k: qw.k, q: Int32Array.from(q), scales: Float32Array.from(scales) };
}

/**
 * The f32 weight a QuantizedWeight stands for (each value q * scale), in the layout it was
 * quantized from: [n, k] when `transposed`, else [k, n]. A new tensor on the same backend.
 */
export async function dequantizeWeight(qw: QuantizedWeight, options: { transposed: boolean }): Promise<Tensor> {
  if (qw.isDisposed) throw new ArgumentError('dequantizeWeight: the quantized weight was disposed');
  const [q, scales] = await Promise.all([qw.q.data(), qw.scales.data()]);
  const w = dequantizeMatrix({ bits: qw.bits, groupSize: qw.groupSize, n: qw.n, k: qw.k, q: q as Int32Array, scales: Float32Array.from(scales) }, options.transposed ? 'nk' : 'kn');
  const out = empty(qw.q.backend, options.transposed ? [qw.n, qw.k] : [qw.k, qw.n], 'f32');
  writeHost(out, w);
  return out;
}

/**
 * x [..., k] @ dequant(qw)^T -> [..., n] (f32) with the backend's `qmatmul` kernel (an
 * UnsupportedError naming it on a backend without one). No gradient: an AutogradError when
 * x requires grad while gradients are on. A weight with `activations: 'int8'` runs the
 * kernel's int8-activation mode when x has at most `int8ActivationRows(backend)` rows (the
 * rows where the backend declares it faster: decode steps on wasm, never on WebGPU) and f32
 * activations otherwise, so a prompt and a decode step of the same model may differ in
 * mode; the result is then the kernel's for that mode bit for bit.
 * @example const y = quantizedMatmul(x, qw) // x [B, T, 768], qw 3072 x 768 -> [B, T, 3072]
 */
export function quantizedMatmul(x: Tensor, qw: QuantizedWeight): Tensor {
  const be = backendOf('quantizedMatmul', x, qw.q, qw.scales);
  expectDType('quantizedMatmul', x, 'f32');
  if (isGradEnabled() && x.requiresGrad) {
    throw new AutogradError(`quantizedMatmul: x ${fmtShape(x.shape)} requires grad, and a quantized weight has no gradient path; run inference under noGrad()`);
  }
  if (x.rank < 1 || x.shape[x.rank - 1] !== qw.k) {
    throw new ShapeError(`quantizedMatmul: x ${fmtShape(x.shape)} does not end in the weight's input dimension ${qw.k} (weight [${qw.n}, ${qw.k}])`);
  }
  const kernel = requireFusedKernel(be, 'qmatmul', 'quantizedMatmul');
  const outShape = [...x.shape.slice(0, -1), qw.n];
  const m = outShape.slice(0, -1).reduce((a, b) => a * b, 1);
  const out = empty(be, outShape, 'f32');
  if (out.size === 0) return out;
  const activations = qw.activations === 'int8' && m <= int8ActivationRows(be) ? 'int8' : 'f32';
  withDense([x], (xd) => kernel({ x: xd, q: dense(qw.q), scales: dense(qw.scales), out: dense(out), m, n: qw.n, k: qw.k, bits: qw.bits, groupSize: qw.groupSize, activations }));
  return out;
}

/**
 * Rows of a quantized table for i32 ids of any shape: [...] -> [..., k], each value
 * q * scale (bit for bit what dequantizeWeight holds), through the backend's `qembedding`
 * kernel (an UnsupportedError naming it on a backend without one). The embedding lookup of
 * a quantized embedding: `qw` is the [vocab, dim] table held output-major (quantizeWeight
 * with `transposed: true`), so a tied embedding / LM head shares one quantized copy with
 * quantizedMatmul. An id outside [0, n) is an IndexError. No gradient.
 * @example const h = quantizedEmbedding(qwte, ids) // ids [B, T] -> [B, T, 768]
 */
export function quantizedEmbedding(qw: QuantizedWeight, ids: Tensor): Tensor {
  const be = backendOf('quantizedEmbedding', ids, qw.q, qw.scales);
  if (ids.dtype !== 'i32') throw new DTypeError(`quantizedEmbedding: ids ${fmtShape(ids.shape)} must be i32, got ${ids.dtype}`);
  const kernel = requireFusedKernel(be, 'qembedding', 'quantizedEmbedding');
  const out = empty(be, [...ids.shape, qw.k], 'f32');
  if (out.size === 0) return out;
  withDense([ids], (id) => kernel({ q: dense(qw.q), scales: dense(qw.scales), indices: id, out: dense(out), count: ids.size, n: qw.n, k: qw.k, bits: qw.bits, groupSize: qw.groupSize }));
  return out;
}
