/**
 * The 8-bit float formats safetensors declares (F8_E5M2, F8_E4M3), widened to f32.
 * Both are exact: every FP8 value is a float32.
 */

import { f16BitsToF32Bits } from './half.js';

/** OCP FP8 E5M2 bytes -> f32 in `out`. E5M2 is the top byte of a binary16, so the F16 widening applies. */
export function decodeF8E5M2(bytes: Uint8Array, out: Float32Array): void {
  const u = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < out.length; i++) u[i] = f16BitsToF32Bits(bytes[i] << 8);
}

/** OCP FP8 E4M3FN bytes -> f32 in `out`. */
export function decodeF8E4M3(bytes: Uint8Array, out: Float32Array): void {
  for (let i = 0; i < out.length; i++) out[i] = e4m3fnToNumber(bytes[i]);
}

/** OCP FP8 E4M3FN: bias 7, no infinities, S.1111.111 is NaN. */
export function e4m3fnToNumber(byte: number): number {
  const sign = byte & 0x80 ? -1 : 1;
  const exp = (byte >>> 3) & 0xf;
  const mant = byte & 7;
  if (exp === 0xf && mant === 7) return NaN;
  if (exp === 0) return sign * mant * 2 ** -9;
  return sign * (1 + mant / 8) * 2 ** (exp - 7);
}
