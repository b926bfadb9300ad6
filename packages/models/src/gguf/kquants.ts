/**
 * Q4_K encoding (ggml's block_q4_K, the layout reader.ts's decodeQ4K reads): per super-block
 * of 256 values, f16 d and dmin, twelve bytes packing eight 6-bit sub-block scales sc and
 * eight 6-bit mins m, and 128 bytes of nibbles; value = d * sc * q - dmin * m, q in 0..15.
 *
 * Each 32-value sub-block gets an asymmetric 4-bit fit x ~ s * q - m with m >= 0 (m is stored
 * unsigned, so a sub-block whose values are all positive keeps offset 0 and spends its 16
 * levels on [0, max]). The fit is searched the way llama.cpp's make_qkx2_quants does it:
 * several inverse scales around 15 / (max - min) each fix a set of q's, and for those q's the
 * weighted least-squares (s, m) is solved in closed form; the lowest weighted squared error
 * wins, and the plain min/max fit is always a candidate, so the result is never worse than it.
 * The super-block then stores d = max s / 63 and dmin = max m / 63 as f16, sc and m as 6-bit
 * roundings of s / d and m / dmin, and every q is chosen again against the *stored* scale and
 * offset, so the block decodes to the nearest of the 16 levels it can actually express.
 */

import { ArgumentError } from '@tessera/core';
import { f16ToNumber, numberToF16 } from '../io/half.js';

/** Values per Q4_K super-block and bytes per block. */
export const Q4K_BLOCK = 256;
export const Q4K_BYTES = 144;

const SUB = 32;
/** Candidate inverse scales: (15 + RMIN + RDELTA * k) / (max - min) for k = 0..NSTEP. */
const RMIN = -1;
const RDELTA = 0.1;
const NSTEP = 20;

/**
 * The least-squares weight of each value: the super-block's RMS plus |x|. Larger values
 * weigh more (their error matters more in a matrix product), and the RMS term keeps every
 * weight positive, so a sub-block never fits only its largest value.
 */
export function q4kWeights(x: ArrayLike<number>, at: number, out: Float64Array): void {
  let sum2 = 0;
  for (let i = 0; i < Q4K_BLOCK; i++) sum2 += x[at + i] * x[at + i];
  const rms = Math.sqrt(sum2 / Q4K_BLOCK);
  for (let i = 0; i < Q4K_BLOCK; i++) out[i] = rms + Math.abs(x[at + i]);
}

/** Weighted squared error of s * q - m against x over one sub-block for the q's in `q`. */
function sqError(x: ArrayLike<number>, at: number, w: Float64Array, wo: number, q: Uint8Array, s: number, m: number): number {
  let e = 0;
  for (let i = 0; i < SUB; i++) {
    const d = s * q[i] - m - x[at + i];
    e += w[wo + i] * d * d;
  }
  return e;
}

/**
 * The best (s, m) of one 32-value sub-block (s >= 0, m >= 0) by the candidate search above;
 * `q` is scratch.
 */
function fitSubBlock(x: ArrayLike<number>, at: number, w: Float64Array, wo: number, q: Uint8Array): { s: number; m: number } {
  let lo = x[at];
  let hi = x[at];
  for (let i = 1; i < SUB; i++) {
    lo = Math.min(lo, x[at + i]);
    hi = Math.max(hi, x[at + i]);
  }
  lo = Math.min(lo, 0); // the offset -m is <= 0
  if (hi === lo) return { s: 0, m: -lo };
  const quant = (inv: number) => {
    for (let i = 0; i < SUB; i++) q[i] = Math.max(0, Math.min(15, Math.round(inv * (x[at + i] - lo))));
  };
  // The min/max fit: 16 levels spanning [lo, hi] exactly.
  let best = { s: (hi - lo) / 15, m: -lo };
  quant(15 / (hi - lo));
  let bestErr = sqError(x, at, w, wo, q, best.s, best.m);
  for (let k = 0; k <= NSTEP; k++) {
    quant((15 + RMIN + RDELTA * k) / (hi - lo));
    // Minimise sum w (s q + b - x)^2 over (s, b) with b = -m <= 0 (normal equations of a 2x2 system).
    let sw = 0;
    let sq = 0;
    let sqq = 0;
    let sx = 0;
    let sqx = 0;
    for (let i = 0; i < SUB; i++) {
      const wi = w[wo + i];
      const qi = q[i];
      const xi = x[at + i];
      sw += wi;
      sq += wi * qi;
      sqq += wi * qi * qi;
      sx += wi * xi;
      sqx += wi * qi * xi;
    }
    const det = sw * sqq - sq * sq;
    if (!(det > 0)) continue;
    let s = (sw * sqx - sx * sq) / det;
    let b = (sqq * sx - sq * sqx) / det;
    if (b > 0) {
      // The constrained optimum lies on b = 0 when the free one has a positive offset.
      b = 0;
      s = sqq > 0 ? sqx / sqq : 0;
    }
    if (!(s >= 0)) continue;
    const err = sqError(x, at, w, wo, q, s, -b);
    if (err < bestErr) {
      bestErr = err;
      best = { s, m: -b };
    }
  }
  return best;
}

/**
 * `values` (a whole number of 256-value super-blocks, in order) as Q4_K blocks. `what` names
 * the tensor in errors: a length that is not a multiple of 256, a value that is not finite, or
 * values so large that a super-block's scale overflows f16 (an ArgumentError each).
 * @example const bytes = quantizeQ4K(rowsOf768Values, 'blk.0.attn_qkv.weight'); // 3 * 144 bytes
 */
export function quantizeQ4K(values: ArrayLike<number>, what: string): Uint8Array {
  if (values.length % Q4K_BLOCK !== 0) throw new ArgumentError(`Q4_K: ${what} has ${values.length} values, not a multiple of the super-block of ${Q4K_BLOCK}`);
  const nb = values.length / Q4K_BLOCK;
  const out = new Uint8Array(nb * Q4K_BYTES);
  const dv = new DataView(out.buffer);
  const w = new Float64Array(Q4K_BLOCK);
  const q = new Uint8Array(SUB);
  const s = new Float64Array(8);
  const m = new Float64Array(8);
  const sc = new Uint8Array(8);
  const mn = new Uint8Array(8);
  for (let b = 0; b < nb; b++) {
    const at = b * Q4K_BLOCK;
    for (let i = 0; i < Q4K_BLOCK; i++) {
      if (!Number.isFinite(values[at + i])) throw new ArgumentError(`Q4_K: ${what} has the non-finite value ${values[at + i]} at index ${at + i}`);
    }
    q4kWeights(values, at, w);
    let maxS = 0;
    let maxM = 0;
    for (let j = 0; j < 8; j++) {
      const fit = fitSubBlock(values, at + SUB * j, w, SUB * j, q);
      s[j] = fit.s;
      m[j] = fit.m;
      maxS = Math.max(maxS, fit.s);
      maxM = Math.max(maxM, fit.m);
    }
    const dBits = numberToF16(maxS / 63);
    const dminBits = numberToF16(maxM / 63);
    const d = f16ToNumber(dBits);
    const dmin = f16ToNumber(dminBits);
    if (!Number.isFinite(d) || !Number.isFinite(dmin)) {
      throw new ArgumentError(`Q4_K: ${what} super-block ${b} (values ${at}..${at + Q4K_BLOCK - 1}) spans beyond what f16 scales can hold (|value| up to about 6e7)`);
    }
    for (let j = 0; j < 8; j++) {
      sc[j] = d > 0 ? Math.min(63, Math.round(s[j] / d)) : 0;
      mn[j] = dmin > 0 ? Math.min(63, Math.round(m[j] / dmin)) : 0;
    }
    const o = b * Q4K_BYTES;
    dv.setUint16(o, dBits, true);
    dv.setUint16(o + 2, dminBits, true);
    // Sub-blocks 0-3: 6 bits each in bytes 0-3 (scales) and 4-7 (mins); 4-7: low 4 bits in
    // bytes 8-11 (scale low, min high nibble), top 2 bits in bits 6-7 of bytes 0-3 / 4-7.
    for (let j = 0; j < 4; j++) {
      out[o + 4 + j] = sc[j] | ((sc[j + 4] >> 4) << 6);
      out[o + 8 + j] = mn[j] | ((mn[j + 4] >> 4) << 6);
      out[o + 12 + j] = (sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4);
    }
    for (let j = 0; j < 8; j++) {
      // The decoder's f32 arithmetic: level q is fround(fround(d * sc) * q) - fround(dmin * m).
      const step = Math.fround(d * sc[j]);
      const off = Math.fround(dmin * mn[j]);
      const chunk = o + 16 + SUB * (j >> 1);
      const shift = (j & 1) * 4;
      for (let i = 0; i < SUB; i++) {
        const qi = step > 0 ? Math.max(0, Math.min(15, Math.round((values[at + SUB * j + i] + off) / step))) : 0;
        out[chunk + i] |= qi << shift;
      }
    }
  }
  return out;
}
