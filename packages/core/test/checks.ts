// Backend-independent test utilities shared by the wasm (core) and WebGPU kernel suites:
// a seeded RNG, random arrays, closeness/bit checks that name the worst element, and the
// odd sizes every kernel test covers.

/** Deterministic PRNG (mulberry32): uniform floats in [0, 1). */
export { mulberry32 as rng } from '@tessera/testing';

/** n uniform f32 values in [lo, hi). */
export function randF32(r: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/** n integers in [lo, hi). */
export function randI32(r: () => number, n: number, lo: number, hi: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + Math.floor((hi - lo) * r());
  return out;
}

/** A readable description of a float, keeping -0 and NaN. */
function fmt(v: number): string {
  return Object.is(v, -0) ? '-0' : String(v);
}

/**
 * Throws unless |got[i] - ref[i]| <= atol + rtol * |ref[i]| for every i (NaN matches NaN,
 * infinities must be equal). The message names the worst index and both values.
 */
export function expectClose(got: ArrayLike<number>, ref: ArrayLike<number>, rtol: number, atol: number, what = 'values'): void {
  if (got.length !== ref.length) throw new Error(`${what}: length ${got.length} != reference length ${ref.length}`);
  let worst = -1;
  let worstExcess = 0;
  let bad = 0;
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const r = ref[i];
    let excess: number;
    if (Number.isNaN(r) || Number.isNaN(g)) excess = Number.isNaN(r) && Number.isNaN(g) ? 0 : Infinity;
    else if (!Number.isFinite(r) || !Number.isFinite(g)) excess = g === r ? 0 : Infinity;
    else excess = Math.abs(g - r) - (atol + rtol * Math.abs(r));
    if (excess > 0) {
      bad++;
      if (excess > worstExcess) {
        worstExcess = excess;
        worst = i;
      }
    }
  }
  if (bad > 0) {
    const g = got[worst];
    const r = ref[worst];
    throw new Error(
      `${what}: ${bad} of ${got.length} elements differ beyond rtol ${rtol}, atol ${atol}; worst at [${worst}]: got ${fmt(g)}, reference ${fmt(r)} (|diff| ${Math.abs(g - r)})`,
    );
  }
}

/** Throws unless both arrays hold the same bits (so -0 vs 0 and NaN payloads count). */
export function expectBitsEqual(got: Float32Array | Int32Array, ref: Float32Array | Int32Array, what = 'values'): void {
  const a = new Int32Array(got.buffer, got.byteOffset, got.length);
  const b = new Int32Array(ref.buffer, ref.byteOffset, ref.length);
  if (a.length !== b.length) throw new Error(`${what}: length ${a.length} != reference length ${b.length}`);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      const fa = new Float32Array(a.buffer, a.byteOffset, a.length);
      const fb = new Float32Array(b.buffer, b.byteOffset, b.length);
      throw new Error(`${what}: element [${i}] differs: got bits 0x${(a[i] >>> 0).toString(16)} (${fmt(fa[i])} / ${a[i]}), reference 0x${(b[i] >>> 0).toString(16)} (${fmt(fb[i])} / ${b[i]})`);
    }
  }
}

/** Throws unless every element is the same value (Object.is, so -0 differs from 0), NaN matching any NaN. */
export function expectSameValues(got: ArrayLike<number>, ref: ArrayLike<number>, what = 'values'): void {
  if (got.length !== ref.length) throw new Error(`${what}: length ${got.length} != reference length ${ref.length}`);
  for (let i = 0; i < got.length; i++) {
    const g = got[i];
    const r = ref[i];
    if (!Object.is(g, r) && !(Number.isNaN(g) && Number.isNaN(r))) {
      throw new Error(`${what}: element [${i}] differs: got ${fmt(g)}, reference ${fmt(r)}`);
    }
  }
}

/**
 * Largest relative error of `got` against float64 values `exact`, counting only elements
 * where |exact| >= floor (below it an absolute error is the meaningful measure).
 */
export function maxRelError(got: ArrayLike<number>, exact: ArrayLike<number>, floor = 0): { rel: number; at: number } {
  let rel = 0;
  let at = -1;
  for (let i = 0; i < got.length; i++) {
    const e = exact[i];
    if (!Number.isFinite(e) || Math.abs(e) < floor || e === 0) continue;
    const r = Math.abs(got[i] - e) / Math.abs(e);
    if (r > rel) {
      rel = r;
      at = i;
    }
  }
  return { rel, at };
}

/** Largest finite |value| (the scale for absolute tolerance floors). */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) if (Number.isFinite(a[i])) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** The odd sizes every kernel test covers (1 and values that miss the SIMD/vec4 width and the 64-wide GPU tiles). */
export const ODD_SIZES = [1, 3, 17, 63, 129] as const;
