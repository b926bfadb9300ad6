/**
 * IEEE 754 binary16 (F16) and bfloat16 (BF16) <-> float32 conversions, bit-exact.
 *
 * Widening (16 -> 32 bits) is exact for every input: subnormal halves become normal floats,
 * infinities stay infinite and NaNs keep their sign and payload (shifted into the wider mantissa).
 * Narrowing (32 -> 16 bits) rounds to nearest, ties to even, as numpy and PyTorch do: values past
 * the largest finite half become infinity, tiny values become subnormals or signed zero, and NaN
 * stays a (quiet) NaN.
 */

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 bit pattern of the binary16 value with bits `h` (0..0xffff). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf / NaN
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // normal: rebias 15 -> 127
  if (mant === 0) return sign >>> 0; // signed zero
  // Subnormal m * 2^-24: normalise so the leading 1 becomes the implicit bit.
  let e = 113; // biased float32 exponent of 2^-14
  let m = mant;
  while ((m & 0x400) === 0) {
    m <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((m & 0x3ff) << 13)) >>> 0;
}

/** The binary16 value with bits `h` as a number. */
export function f16ToNumber(h: number): number {
  u32Scratch[0] = f16BitsToF32Bits(h);
  return f32Scratch[0];
}

/** Bits of `x` rounded to binary16 (round to nearest, ties to even). */
export function numberToF16(x: number): number {
  f32Scratch[0] = x;
  return f32BitsToF16Bits(u32Scratch[0]);
}

/**
 * binary16 bits of the float32 with bits `x`.
 * Note: a number is first rounded to float32 by the caller (`numberToF16`); double rounding
 * f64 -> f32 -> f16 can differ from a direct f64 -> f16 rounding only in ties created by the first
 * step, which is what PyTorch's `tensor.float().half()` also does.
 */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13); // inf / quiet NaN
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // Subnormal half (or zero): value / 2^-24 = m24 * 2^(e - 14), m24 = 1.mant as a 24-bit integer.
    const shift = 14 - e;
    if (shift > 24) return sign; // below half of the smallest subnormal (or f32 subnormal)
    const m24 = mant | 0x800000;
    let h = m24 >>> shift;
    const rem = m24 & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1) === 1)) h++;
    return sign | h; // h may carry into 0x400, the smallest normal: still the right encoding
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry may roll into the exponent (-> inf): correct
  return sign | h;
}

/** bfloat16 bits of `x` (round to nearest, ties to even; NaN stays a quiet NaN). */
export function numberToBf16(x: number): number {
  f32Scratch[0] = x;
  const b = u32Scratch[0];
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The bfloat16 value with bits `h` as a number (exact). */
export function bf16ToNumber(h: number): number {
  u32Scratch[0] = (h << 16) >>> 0;
  return f32Scratch[0];
}

let f16Table: Uint32Array | undefined;

/** float32 bits of all 65536 halves; 256 KiB, built on first use. */
function f16ToF32Table(): Uint32Array {
  if (f16Table === undefined) {
    const t = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) t[h] = f16BitsToF32Bits(h);
    f16Table = t;
  }
  return f16Table;
}

/** Widens binary16 bits `src` into `dst` (same length). */
export function decodeF16(src: Uint16Array, dst: Float32Array): void {
  const t = f16ToF32Table();
  const d = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) d[i] = t[src[i]];
}

/** Widens bfloat16 bits `src` into `dst` (same length). */
export function decodeBf16(src: Uint16Array, dst: Float32Array): void {
  const d = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) d[i] = src[i] << 16;
}
