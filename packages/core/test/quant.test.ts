// The weight-only quantization format (src/quant.ts): per-element error within half a step
// of its group, the value ranges, symmetry, the byte and nibble layout, the 'kn' layout,
// all-zero groups and the typed errors.
import { describe, expect, it } from 'vitest';
import { ArgumentError, ShapeError } from '../src/errors.js';
import { QUANT_GROUP_SIZES, checkQuantFormat, dequantizeMatrix, quantMax, quantizeMatrix, quantizedElements, quantizedValue, roundToF16 } from '../src/quant.js';
import { randF32, rng } from './helpers.js';

describe('quantizeMatrix / dequantizeMatrix', () => {
  it('every dequantized weight is within half a step (scale / 2) of its group; q stays in range', () => {
    const r = rng(3);
    for (const bits of [8, 4] as const) {
      for (const groupSize of QUANT_GROUP_SIZES) {
        const [n, k] = [7, 384];
        const w = randF32(r, n * k).map((v, i) => v * 10 ** ((i % 5) - 2));
        const qm = quantizeMatrix(w, n, k, { bits, groupSize });
        expect(qm.q.length).toBe(quantizedElements(n, k, bits));
        const wd = dequantizeMatrix(qm);
        const groups = k / groupSize;
        for (let j = 0; j < n; j++) {
          for (let l = 0; l < k; l++) {
            const s = qm.scales[j * groups + Math.floor(l / groupSize)];
            const q = quantizedValue(qm.q, 0, bits, k, j, l);
            expect(q).toBeGreaterThanOrEqual(bits === 8 ? -127 : -8);
            expect(q).toBeLessThanOrEqual(quantMax(bits));
            // Half a step, plus the f32 rounding of q * scale (2^-24 relative).
            const err = Math.abs(wd[j * k + l] - w[j * k + l]);
            if (!(err <= s / 2 + 2 ** -23 * Math.abs(w[j * k + l]))) expect.fail(`int${bits} g${groupSize} [${j}, ${l}]: error ${err} over half a step ${s / 2}`);
          }
        }
      }
    }
  });

  it('scale = max|w| / 127 or / 7, the extreme weight maps to +-qmax, and w and -w give q and -q', () => {
    const w = new Float32Array(32).map((_, i) => (i - 10) / 8);
    for (const bits of [8, 4] as const) {
      const qm = quantizeMatrix(w, 1, 32, { bits, groupSize: 32 });
      expect(qm.scales[0]).toBe(Math.fround(Math.max(...w.map(Math.abs)) / quantMax(bits)));
      expect(quantizedValue(qm.q, 0, bits, 32, 0, 31)).toBe(quantMax(bits));
      const neg = quantizeMatrix(w.map((v) => -v), 1, 32, { bits, groupSize: 32 });
      for (let l = 0; l < 32; l++) expect(quantizedValue(neg.q, 0, bits, 32, 0, l)).toBe(-quantizedValue(qm.q, 0, bits, 32, 0, l) || 0);
    }
  });

  it('int8: one byte per value, little-endian in the words; int4: Q4_0 nibble order (value t low, t + 16 high, stored as q + 8)', () => {
    // One row of 32 values: w = l - 16 for l < 32 with a max of 16 -> int8 q = round((l - 16) * 127 / 16).
    const w = Float32Array.from({ length: 32 }, (_, l) => l - 16);
    const q8 = quantizeMatrix(w, 1, 32, { bits: 8, groupSize: 32 });
    const bytes8 = new Int8Array(new Int32Array(q8.q).buffer);
    const s8 = q8.scales[0];
    for (let l = 0; l < 32; l++) expect(bytes8[l]).toBe(Math.sign(w[l]) * Math.floor(Math.abs(w[l] / s8) + 0.5));
    // int4 with w = l - 16 (max 16, scale 16 / 7): value t in the low nibble of byte t.
    const q4 = quantizeMatrix(w, 1, 32, { bits: 4, groupSize: 32 });
    const bytes4 = new Uint8Array(new Int32Array(q4.q).buffer);
    const s4 = q4.scales[0];
    const q = (l: number) => Math.max(-8, Math.min(7, Math.sign(w[l]) * Math.floor(Math.abs(w[l] / s4) + 0.5)));
    for (let t = 0; t < 16; t++) {
      expect(bytes4[t] & 0xf).toBe(q(t) + 8);
      expect(bytes4[t] >> 4).toBe(q(t + 16) + 8);
    }
  });

  it("'kn' layout reads a [k, n] weight transposed: same result as the [n, k] transpose", () => {
    const r = rng(5);
    const [n, k] = [21, 64]; // n past the 16-column blocks the transposed read uses
    const wkn = randF32(r, k * n);
    const wnk = new Float32Array(n * k);
    for (let l = 0; l < k; l++) for (let j = 0; j < n; j++) wnk[j * k + l] = wkn[l * n + j];
    for (const bits of [8, 4] as const) {
      const a = quantizeMatrix(wkn, n, k, { bits, groupSize: 32, layout: 'kn' });
      const b = quantizeMatrix(wnk, n, k, { bits, groupSize: 32 });
      expect(a.q).toEqual(b.q);
      expect(a.scales).toEqual(b.scales);
      expect(dequantizeMatrix(a, 'kn')).toEqual(Float32Array.from({ length: k * n }, (_, i) => dequantizeMatrix(b)[(i % n) * k + Math.floor(i / n)]));
    }
  });

  it('an all-zero group has scale 0 and dequantizes to zeros', () => {
    const w = new Float32Array(64);
    w[40] = 3;
    const qm = quantizeMatrix(w, 1, 64, { bits: 4, groupSize: 32 });
    expect(qm.scales[0]).toBe(0);
    expect(Array.from(dequantizeMatrix(qm).subarray(0, 32))).toEqual(new Array(32).fill(0));
    expect(dequantizeMatrix(qm)[40]).toBeCloseTo(3, 6);
  });

  it('throws typed errors naming the bad value', () => {
    expect(() => quantizeMatrix(new Float32Array(96), 1, 96, { bits: 8, groupSize: 64 })).toThrow(ShapeError);
    expect(() => quantizeMatrix(new Float32Array(96), 1, 96, { bits: 8, groupSize: 64 })).toThrow(/k = 96 .* multiple of groupSize 64/);
    expect(() => quantizeMatrix(new Float32Array(32), 1, 32, { bits: 2 as 8, groupSize: 32 })).toThrow(ArgumentError);
    expect(() => quantizeMatrix(new Float32Array(32), 1, 32, { bits: 8, groupSize: 16 as 32 })).toThrow(/groupSize must be one of 32, 64, 128, got 16/);
    expect(() => quantizeMatrix(new Float32Array(31), 1, 32, { bits: 8, groupSize: 32 })).toThrow(/31 weights given for \[n, k\] = \[1, 32\]/);
    const bad = new Float32Array(64);
    bad[37] = NaN;
    expect(() => quantizeMatrix(bad, 2, 32, { bits: 8, groupSize: 32 })).toThrow(/weight \[1, 5\] .* is NaN/);
    expect(() => checkQuantFormat(8, 32, 33, 'x')).toThrow(ShapeError);
  });
});

/** IEEE binary16 bits of x (round to nearest even) decoded back, through f32 bit manipulation: an independent oracle. */
function viaF16Bits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = u >>> 31 ? -1 : 1;
  const exp = (u >>> 23) & 0xff;
  const mant = u & 0x7fffff;
  if (exp === 0xff) return mant ? NaN : sign * Infinity;
  // The f32 value is exact in float64; scale to units of the f16 ulp at its exponent and round half to even.
  const v = Math.abs(f[0]);
  if (v === 0) return f[0];
  const e = Math.max(exp - 127, -14);
  const ulp = 2 ** (e - 10);
  const m = v / ulp;
  const fl = Math.floor(m);
  const r = m - fl > 0.5 || (m - fl === 0.5 && fl % 2 === 1) ? fl + 1 : fl;
  const out = r * ulp;
  return sign * (out > 65504 ? Infinity : out);
}

describe('roundToF16 / f16Scales', () => {
  it('rounds to the nearest f16 (ties to even, subnormals, overflow) like a bit-level conversion', () => {
    const r = rng(3);
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((r() - 0.5) * 2 ** Math.floor(r() * 44 - 28));
      expect(Object.is(roundToF16(x), viaF16Bits(x)), `${x}`).toBe(true);
    }
    expect(roundToF16(1 + 2 ** -11)).toBe(1); // a tie goes to the even mantissa
    expect(roundToF16(1 + 3 * 2 ** -11)).toBe(1 + 2 ** -9);
    expect(roundToF16(2 ** -25)).toBe(0); // half the smallest subnormal: ties to even (0)
    expect(roundToF16(3 * 2 ** -25)).toBe(2 ** -23);
    expect(roundToF16(65519)).toBe(65504);
    expect(roundToF16(65520)).toBe(Infinity);
    expect(roundToF16(-0)).toBe(-0);
  });

  it('f16Scales: every scale is an f16 value and q is round(w / scale) with that scale (clamped)', () => {
    const r = rng(9);
    for (const bits of [8, 4] as const) {
      const [n, k] = [5, 96];
      const w = randF32(r, n * k).map((v, i) => v * (0.01 + (i % 7)));
      const m = quantizeMatrix(w, n, k, { bits, groupSize: 32, f16Scales: true });
      const qmax = quantMax(bits);
      for (let j = 0; j < n; j++) {
        for (let l = 0; l < k; l++) {
          const s = m.scales[j * 3 + (l >> 5)];
          expect(roundToF16(s)).toBe(s);
          const v = w[j * k + l] / s;
          const want = Math.max(bits === 8 ? -127 : -8, Math.min(qmax, v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5)));
          expect(quantizedValue(m.q, 0, bits, k, j, l)).toBe(want || 0);
        }
      }
    }
    expect(() => quantizeMatrix(new Float32Array(32).fill(1e7), 1, 32, { bits: 8, groupSize: 32, f16Scales: true })).toThrow(/beyond f16's range/);
  });
});
