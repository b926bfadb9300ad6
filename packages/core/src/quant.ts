/**
 * Weight-only quantization: the format the `qmatmul` kernel reads, and host-side
 * quantize / dequantize over plain arrays.
 *
 * Format. A weight used as `x @ W^T` with W: [n, k] (nn.Linear, a tied LM head) or as
 * `x @ W` with W: [k, n] (GPT-2's Conv1D) is stored output-major, as n rows of k values
 * (a [k, n] weight is transposed when it is quantized, so one kernel serves both uses and
 * each row's values are contiguous along k). Every row is cut into k / groupSize groups of
 * `groupSize` (32, 64 or 128) consecutive values with one f32 scale each; k must be a
 * multiple of groupSize (no tail group: the layers this is for have k a multiple of 32).
 *
 * Symmetric, zero point 0: scale = max|w| / 127 (int8) or max|w| / 7 (int4), q =
 * round(w / scale) (half away from zero) clamped to [-127, 127] / [-8, 7], w ~ q * scale.
 * Trained weights are centred on 0, so an offset buys little range, and without a
 * zero-point term the integer dot product of a group is one multiply-add per value, scaled
 * once per group. An all-zero group has scale 0 and q 0.
 *
 * Bytes. Values are held in 4-byte elements (the storages' unit), little-endian: value i of
 * the byte stream is byte i % 4 of element i / 4.
 * - int8: row j is bytes [j * k, (j + 1) * k), one two's-complement int8 per value.
 * - int4: row j is bytes [j * k / 2, (j + 1) * k / 2). Each block of 32 values (l = 32b + t)
 *   is 16 bytes: byte 16b + t holds value t in its low nibble and value t + 16 in its high
 *   nibble, each stored as q + 8 (0..15). That is llama.cpp's Q4_0 block order and nibble
 *   encoding (its blocks are 32 values with an f16 scale; int8 rows are Q8_0's value
 *   order), so importing those blocks is a byte copy plus an f16 -> f32 scale per block
 *   (one per group here when groupSize is 32).
 * Rows are whole elements: groupSize >= 32 divides k, so a row is k / 4 (int8) or k / 8
 * (int4) elements, and a matrix n * k / 4 or n * k / 8.
 */

import { ArgumentError, ShapeError } from './errors.js';

/** Bits per quantized value. */
export type QuantBits = 8 | 4;

/** The group sizes the format allows (values per scale). */
export const QUANT_GROUP_SIZES = [32, 64, 128] as const;
export type QuantGroupSize = (typeof QUANT_GROUP_SIZES)[number];

/**
 * How qmatmul may treat its f32 activations: 'f32' as given, 'int8' quantized per row and
 * group first (`quantizeActivations`; QMatmulParams.activations says the arithmetic).
 */
export type QuantActivations = 'f32' | 'int8';
/** Every QuantActivations, in order (for checking a value read from a file or a flag). */
export const QUANT_ACTIVATIONS: readonly QuantActivations[] = ['f32', 'int8'];

/**
 * Up to how many rows the wasm backend's qmatmul is faster with int8 activations than with
 * f32 ones (KernelPolicy.qmatmulInt8Rows). Measured at GPT-2 124M shapes on one thread
 * (docs/benchmarks.md, "int8 activations: where they pay"): the integer kernel wins at 1
 * and 2 rows for int8 and int4 on both wasm builds; at 4 rows it still wins for int8 but
 * loses for int4 on the relaxed-SIMD build, and from 8 rows the f32 path's packed GEMM over
 * dequantized panels wins everywhere, since the integer kernel re-widens each weight for
 * every row. The reference backend declares the same number, so both pick the same mode
 * for a product and agree on its integers.
 */
export const QMATMUL_INT8_ROWS = 2;

/** Largest |q| a scale maps max|w| to: 127 (int8), 7 (int4). */
export function quantMax(bits: QuantBits): number {
  return bits === 8 ? 127 : 7;
}

/** Throws unless bits is 8 or 4, groupSize one of QUANT_GROUP_SIZES, and k a multiple of it. */
export function checkQuantFormat(bits: number, groupSize: number, k: number, what: string): void {
  if (bits !== 8 && bits !== 4) throw new ArgumentError(`${what}: bits must be 8 or 4, got ${bits}`);
  if (!(QUANT_GROUP_SIZES as readonly number[]).includes(groupSize)) {
    throw new ArgumentError(`${what}: groupSize must be one of ${QUANT_GROUP_SIZES.join(', ')}, got ${groupSize}`);
  }
  if (!Number.isSafeInteger(k) || k < 0 || k % groupSize !== 0) {
    throw new ShapeError(`${what}: k = ${k} (the input dimension) must be a multiple of groupSize ${groupSize}`);
  }
}

/** 4-byte elements holding n rows of k values of `bits` bits. */
export function quantizedElements(n: number, k: number, bits: QuantBits): number {
  return (n * k * bits) / 32;
}

/** A quantized [n, k] matrix on the host (see the file comment for the layout). */
export interface QuantizedMatrix {
  bits: QuantBits;
  groupSize: QuantGroupSize;
  /** Output rows. */
  n: number;
  /** Values per row (the input dimension). */
  k: number;
  /** quantizedElements(n, k, bits) elements of packed values. */
  q: Int32Array;
  /** [n, k / groupSize] scales. */
  scales: Float32Array;
}

/** Options of quantizeMatrix. */
export interface QuantizeMatrixOptions {
  bits: QuantBits;
  groupSize: QuantGroupSize;
  /**
   * 'nk' (default): w is [n, k] row-major (nn.Linear's weight). 'kn': w is [k, n]
   * (Conv1D's), read transposed.
   */
  layout?: 'nk' | 'kn';
  /**
   * Round each scale to the nearest f16 first and quantize with the rounded scale (values
   * that then exceed the range are clamped), so the matrix is exactly representable with
   * f16 scales: with groupSize 32, llama.cpp's Q8_0 / Q4_0 blocks hold it bit for bit.
   */
  f16Scales?: boolean;
}

/**
 * x rounded to the nearest IEEE binary16 value (ties to even; subnormals kept; beyond the
 * largest finite f16, 65504, to infinity), returned as a number.
 */
export function roundToF16(x: number): number {
  const a = Math.abs(x);
  if (!Number.isFinite(a) || a === 0) return x;
  if (a >= 65520) return x > 0 ? Infinity : -Infinity;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  const ulp = 2 ** (Math.max(e, -14) - 10);
  const m = a / ulp;
  let r = Math.round(m);
  if (r - m === 0.5 && r % 2 === 1) r--; // Math.round rounds .5 up: ties go to even
  return Math.sign(x) * r * ulp;
}

/** Round half away from zero, so a weight and its negation quantize to q and -q. */
function roundHalfAway(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

/** Quantizes w (n * k values; `layout` says which index runs fastest) to the format above. */
export function quantizeMatrix(w: ArrayLike<number>, n: number, k: number, opts: QuantizeMatrixOptions): QuantizedMatrix {
  const { bits, groupSize } = opts;
  checkQuantFormat(bits, groupSize, k, 'quantize');
  if (!Number.isSafeInteger(n) || n < 0) throw new ArgumentError(`quantize: n must be a non-negative integer, got ${n}`);
  if (w.length !== n * k) throw new ShapeError(`quantize: ${w.length} weights given for [n, k] = [${n}, ${k}]`);
  const kn = opts.layout === 'kn';
  const qmax = quantMax(bits);
  const qmin = bits === 8 ? -127 : -8;
  const groups = k / groupSize;
  const scales = new Float32Array(n * groups);
  const q = new Int32Array(quantizedElements(n, k, bits));
  const vals = new Int8Array(groupSize);
  /** Quantizes output row j, whose k values are src[off + l]. */
  const row = (src: ArrayLike<number>, off: number, j: number) => {
    for (let g = 0; g < groups; g++) {
      const o = off + g * groupSize;
      let amax = 0;
      for (let t = 0; t < groupSize; t++) {
        const v = src[o + t];
        if (!Number.isFinite(v)) throw new ArgumentError(`quantize: weight [${j}, ${g * groupSize + t}] (output row, input index) is ${v}; only finite weights can be quantized`);
        amax = Math.max(amax, Math.abs(v));
      }
      const scale = opts.f16Scales ? roundToF16(amax / qmax) : Math.fround(amax / qmax);
      if (!Number.isFinite(scale)) throw new ArgumentError(`quantize: weights of row ${j} group ${g} reach ${amax}; their scale ${amax / qmax} is beyond f16's range`);
      scales[j * groups + g] = scale;
      for (let t = 0; t < groupSize; t++) vals[t] = scale === 0 ? 0 : Math.max(qmin, Math.min(qmax, roundHalfAway(src[o + t] / scale)));
      for (let t = 0; t < groupSize; t++) {
        const l = g * groupSize + t;
        if (bits === 8) {
          const byte = j * k + l;
          q[byte >> 2] |= (vals[t] & 0xff) << (8 * (byte & 3));
        } else {
          const u = l & 31;
          const byte = (j * k) / 2 + 16 * (l >> 5) + (u & 15);
          q[byte >> 2] |= ((vals[t] + 8) & 0xf) << (8 * (byte & 3) + (u >= 16 ? 4 : 0));
        }
      }
    }
  };
  if (!kn) {
    for (let j = 0; j < n; j++) row(w, j * k, j);
  } else {
    // Columns of a [k, n] weight, 16 at a time through a row-major buffer: each read of w
    // then takes 16 neighbours from one cache line instead of one value per line.
    const B = 16;
    const buf = new Float64Array(B * k);
    for (let j0 = 0; j0 < n; j0 += B) {
      const nb = Math.min(B, n - j0);
      for (let l = 0; l < k; l++) {
        const o = l * n + j0;
        for (let c = 0; c < nb; c++) buf[c * k + l] = w[o + c];
      }
      for (let c = 0; c < nb; c++) row(buf, c * k, j0 + c);
    }
  }
  return { bits, groupSize, n, k, q, scales };
}

/**
 * Quantized value (j, l) of packed words `q` (n rows of k values of `bits` bits): an
 * integer in [-128, 127] / [-8, 7]. `base` is the element where the matrix starts.
 */
export function quantizedValue(q: ArrayLike<number>, base: number, bits: QuantBits, k: number, j: number, l: number): number {
  if (bits === 8) {
    const byte = j * k + l;
    return (q[base + (byte >> 2)] << (24 - 8 * (byte & 3))) >> 24;
  }
  const u = l & 31;
  const byte = (j * k) / 2 + 16 * (l >> 5) + (u & 15);
  const shift = 8 * (byte & 3) + (u >= 16 ? 4 : 0);
  return ((q[base + (byte >> 2)] >>> shift) & 0xf) - 8;
}

/** The f32 weights a quantized matrix stands for, [n, k] row-major ('kn': [k, n]): fround(q * scale). */
export function dequantizeMatrix(m: QuantizedMatrix, layout: 'nk' | 'kn' = 'nk'): Float32Array {
  const { n, k, bits, groupSize } = m;
  const groups = k / groupSize;
  const out = new Float32Array(n * k);
  for (let j = 0; j < n; j++) {
    for (let l = 0; l < k; l++) {
      const v = quantizedValue(m.q, 0, bits, k, j, l) * m.scales[j * groups + Math.floor(l / groupSize)];
      out[layout === 'kn' ? l * n + j : j * k + l] = v;
    }
  }
  return out;
}

/** Round half to even (f32x4.nearest's rule), on a value that is already an f32. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Activations quantized per row and group (quantizeActivations). */
export interface QuantizedActivations {
  /** [m, k] int8 values in [-127, 127]. */
  xq: Int8Array;
  /** [m, k / groupSize] f32 scales. */
  scales: Float32Array;
}

/**
 * The int8 activations of qmatmul's `activations: 'int8'` mode, as every backend computes
 * them: per row i and group g of groupSize values, sx = fround(max|x| / 127) and xq =
 * nearest-even(fround(x / sx)) clamped to [-127, 127] (an all-zero group: sx 0, xq 0). f32
 * arithmetic throughout (an f64 quotient rounded to f32 is the f32 quotient), so the wasm
 * kernel's integers equal these bit for bit. Ties go to even because that is one wasm
 * instruction; weights (quantizeMatrix) round half away from zero, which is offline.
 */
export function quantizeActivations(x: ArrayLike<number>, m: number, k: number, groupSize: number): QuantizedActivations {
  const groups = k / groupSize;
  const xq = new Int8Array(m * k);
  const scales = new Float32Array(m * groups);
  for (let i = 0; i < m; i++) {
    for (let g = 0; g < groups; g++) {
      const o = i * k + g * groupSize;
      let amax = 0;
      for (let t = 0; t < groupSize; t++) amax = Math.max(amax, Math.abs(Math.fround(x[o + t])));
      const sx = Math.fround(amax / 127);
      scales[i * groups + g] = sx;
      if (sx === 0) continue;
      for (let t = 0; t < groupSize; t++) xq[o + t] = Math.max(-127, Math.min(127, roundHalfEven(Math.fround(Math.fround(x[o + t]) / sx))));
    }
  }
  return { xq, scales };
}
