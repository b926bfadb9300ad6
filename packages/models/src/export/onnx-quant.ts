/**
 * Quantized weights in an ONNX export, stored quantized (never as f32 initializers), in one
 * of two encodings:
 *
 * - 'matmulnbits' (the default): onnxruntime's contrib ops in the `com.microsoft` domain.
 *   `MatMulNBits` multiplies A [..., K] by a weight B stored as uint8 [N, K / block,
 *   block * bits / 8] with f32 scales [N, K / block] and no zero-point input, so the zero
 *   point is its default 2^(bits-1): Tessera's symmetric int q is stored as q + 8 (int4) or
 *   q + 128 (int8). Its int4 blobs pack values 2i and 2i+1 into byte i (low nibble first),
 *   while Tessera keeps llama.cpp's Q4_0 order (byte t of a 32-value block holds values t
 *   and t + 16), so the nibbles are repacked. `accuracy_level` says the activations the
 *   weight allows: none written (0, f32 activations) for a weight quantized with
 *   activations 'f32', 4 (int8 activations, onnxruntime's blocked int8 GEMM) for one
 *   quantized with activations 'int8' — the same least-accuracy contract as Tessera's.
 *   `GatherBlockQuantized` reads the same bytes for the
 *   token embedding (viewed as [V, C * bits / 8]), so GPT-2's tied table is stored once for
 *   the lookup and the LM head.
 * - 'qdq': standard ONNX only (opset 21+): an int8 / int4 initializer holding the weight
 *   transposed, [K, N], with scales [K / block, N], dequantized by `DequantizeLinear` with
 *   blocked quantization along axis 0 and fed straight to MatMul as its B, the pattern
 *   onnxruntime fuses into MatMulNBits (with accuracy_level 4, int8 activations, unless the
 *   session sets `session.qdq_matmulnbits_accuracy_level`). The tied embedding gathers
 *   columns of the same dequantized table.
 */

import { UnsupportedError, quantizedValue } from '@tessera/core';
import type { QuantizedWeight, Tensor } from '@tessera/tensor';
import { DataType, type OnnxGraph } from './onnx-proto.js';

/** A tensor's values, read synchronously while the file is written (one weight at a time, so a model is not held twice). */
export function hostData(name: string, t: Tensor): Float32Array | Int32Array {
  try {
    return t.dataSync() as Float32Array | Int32Array;
  } catch (e) {
    if (e instanceof UnsupportedError) {
      throw new UnsupportedError(`ONNX export: parameter ${name} cannot be read synchronously (${e.message}); export from the wasm or reference backend`);
    }
    throw e;
  }
}

/** How a quantized model's weights are written (see the module comment). */
export type OnnxQuantFormat = 'matmulnbits' | 'qdq';

export const QUANT_FORMATS: readonly OnnxQuantFormat[] = ['matmulnbits', 'qdq'];

/** The contrib-op domain and its version. */
const MS_DOMAIN = 'com.microsoft';
const MS_VERSION = 1;

/** Tessera's packed words of `qw` (quant.ts layout), read synchronously. */
function packedWords(name: string, qw: QuantizedWeight): Int32Array {
  return hostData(`${name} (quantized)`, qw.q) as Int32Array;
}

/**
 * The weight [n, k] as MatMulNBits / GatherBlockQuantized bytes: unsigned with zero point
 * 2^(bits-1), row-major, int4 two to a byte with value 2i in the low nibble.
 */
function writeUnsigned(name: string, qw: QuantizedWeight, dst: Uint8Array): void {
  const words = packedWords(name, qw);
  const { n, k, bits } = qw;
  if (bits === 8) {
    // int8 rows are plain bytes in value order: two's complement q -> q + 128.
    const src = new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
    for (let i = 0; i < src.length; i++) dst[i] = src[i] ^ 0x80;
    return;
  }
  for (let j = 0; j < n; j++) {
    for (let l = 0; l < k; l += 2) {
      dst[(j * k + l) >> 1] = (quantizedValue(words, 0, 4, k, j, l) + 8) | ((quantizedValue(words, 0, 4, k, j, l + 1) + 8) << 4);
    }
  }
}

/**
 * The weight transposed to [k, n] as signed ONNX int8, or int4 (two's complement nibbles,
 * element 2i low): the layout of a MatMul's B input, which onnxruntime fuses with its
 * DequantizeLinear into MatMulNBits.
 */
function writeSignedKN(name: string, qw: QuantizedWeight, dst: Uint8Array): void {
  const words = packedWords(name, qw);
  const { n, k, bits } = qw;
  if (bits === 8) {
    for (let j = 0; j < n; j++) for (let l = 0; l < k; l++) dst[l * n + j] = quantizedValue(words, 0, 8, k, j, l) & 0xff;
    return;
  }
  dst.fill(0);
  for (let j = 0; j < n; j++) {
    for (let l = 0; l < k; l++) {
      const e = l * n + j;
      dst[e >> 1] |= (quantizedValue(words, 0, 4, k, j, l) & 15) << ((e & 1) * 4);
    }
  }
}

/** The scales [n, k / g] transposed to [k / g, n]. */
function writeScalesKN(name: string, qw: QuantizedWeight, dst: Uint8Array): void {
  const s = hostData(`${name} (scales)`, qw.scales) as Float32Array;
  const { n } = qw;
  const blocks = qw.k / qw.groupSize;
  const t = new Float32Array(s.length);
  for (let j = 0; j < n; j++) for (let b = 0; b < blocks; b++) t[b * n + j] = s[j * blocks + b];
  dst.set(new Uint8Array(t.buffer));
}

/** MatMulNBits' `accuracy_level` for int8 activations (onnxruntime: 1 f32, 2 f16, 3 bf16, 4 int8; 0 unset = f32). */
export const ACCURACY_INT8 = 4;

/** One quantized weight [n, k] of a model in the graph, written in `format`. */
export class QuantizedInitializers {
  readonly #made = new Map<string, string[]>();

  constructor(
    readonly g: OnnxGraph,
    readonly format: OnnxQuantFormat,
  ) {}

  /** Initializer names of weight `name`: [values, scales], added once. */
  #tensors(name: string, qw: QuantizedWeight): string[] {
    const known = this.#made.get(name);
    if (known) return known;
    const { n, k, bits, groupSize } = qw;
    const blocks = k / groupSize;
    let out: string[];
    if (this.format === 'matmulnbits') {
      out = [
        this.g.initializer(`${name}.quantized`, DataType.UINT8, [n, blocks, (groupSize * bits) / 8], (dst) => writeUnsigned(name, qw, dst)),
        this.g.initializer(`${name}.scales`, DataType.FLOAT, [n, blocks], (dst) => {
          const s = hostData(`${name} (scales)`, qw.scales) as Float32Array;
          dst.set(new Uint8Array(s.buffer, s.byteOffset, s.byteLength));
        }),
      ];
    } else {
      out = [
        this.g.initializer(`${name}.quantized`, bits === 8 ? DataType.INT8 : DataType.INT4, [k, n], (dst) => writeSignedKN(name, qw, dst)),
        this.g.initializer(`${name}.scales`, DataType.FLOAT, [blocks, n], (dst) => writeScalesKN(name, qw, dst)),
      ];
    }
    this.#made.set(name, out);
    return out;
  }

  /** The weight transposed, [k, n], dequantized to f32 (qdq only). */
  #dequantized(name: string, qw: QuantizedWeight): string {
    const [values, scales] = this.#tensors(name, qw);
    return this.g.op('DequantizeLinear', [values, scales], { axis: { int: 0 }, block_size: { int: qw.groupSize } });
  }

  /** x [..., k] times the weight transposed: [..., n]. */
  matmul(x: string, name: string, qw: QuantizedWeight): string {
    if (this.format === 'qdq') return this.g.op('MatMul', [x, this.#dequantized(name, qw)]);
    const [values, scales] = this.#tensors(name, qw);
    return this.g.opIn(MS_DOMAIN, MS_VERSION, 'MatMulNBits', [x, values, scales], {
      K: { int: qw.k },
      N: { int: qw.n },
      bits: { int: qw.bits },
      block_size: { int: qw.groupSize },
      ...(qw.activations === 'int8' ? { accuracy_level: { int: ACCURACY_INT8 } } : {}),
    });
  }

  /** Rows `ids` [B, T] of the table [n, k]: [B, T, k]. */
  gather(name: string, qw: QuantizedWeight, ids: string): string {
    if (this.format === 'qdq') {
      // Columns of the [k, n] table the tied head multiplies by: [k, B, T] -> [B, T, k].
      const columns = this.g.op('Gather', [this.#dequantized(name, qw), ids], { axis: { int: 1 } });
      return this.g.op('Transpose', [columns], { perm: { ints: [1, 2, 0] } });
    }
    const [values, scales] = this.#tensors(name, qw);
    const rows = this.g.op('Reshape', [values, this.g.ints([qw.n, (qw.k * qw.bits) / 8])]);
    return this.g.opIn(MS_DOMAIN, MS_VERSION, 'GatherBlockQuantized', [rows, ids, scales], {
      gather_axis: { int: 0 },
      quantize_axis: { int: 1 },
      block_size: { int: qw.groupSize },
      bits: { int: qw.bits },
    });
  }
}
