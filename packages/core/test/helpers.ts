// Shared utilities of the kernel tests: a seeded RNG, random arrays, twin storage on the
// reference and wasm backends, and expectClose reporting the worst element.
import { beforeAll, describe } from 'vitest';
import type { Backend, Dense, Storage } from '../src/backend.js';
import { ReferenceBackend } from '../src/reference/backend.js';
import { createWasmBackend, relaxedSimdSupported, type WasmBackend } from '../src/wasm/backend.js';

/** Deterministic PRNG (mulberry32): uniform floats in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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

/** The two wasm builds; `supported` false means the runtime cannot validate it (tests skip visibly). */
export const BUILDS = [
  { name: 'simd128', simd: 'simd128' as const, supported: true },
  { name: 'relaxed-simd', simd: 'relaxed' as const, supported: relaxedSimdSupported() },
];

/**
 * Declares `body` once per wasm build (SIMD128 and relaxed-SIMD). The relaxed suite is
 * declared with describe.skip, so it shows up as skipped where the runtime lacks it.
 */
export function describeBuilds(title: string, body: (get: () => Twin) => void): void {
  for (const b of BUILDS) {
    const d = b.supported ? describe : describe.skip;
    d(`${title} [${b.name}${b.supported ? '' : ': relaxed-SIMD not supported by this runtime'}]`, () => {
      let twin: Twin | undefined;
      body(() => {
        if (!twin) throw new Error('twin not ready: call twin() inside a test');
        return twin;
      });
      // Created in beforeAll so that a skipped build never instantiates its module.
      beforeAll(async () => {
        twin = new Twin(new ReferenceBackend(), await createWasmBackend({ simd: b.simd }));
      });
    });
  }
}

/** One operand living in both backends: same contents, same element offset. */
export interface TwinBuf {
  ref: Storage;
  wasm: Storage;
  offset: number;
  length: number;
}

/** Which side a params builder is asked for. */
export type Side = 'ref' | 'wasm';

/**
 * Mirrored storage on the reference and wasm backends, so that one params builder can
 * run a kernel on both and the results can be compared.
 */
export class Twin {
  constructor(
    readonly ref: ReferenceBackend,
    readonly wasm: WasmBackend,
  ) {}

  /**
   * Uploads `data` at element `offset` of a fresh storage with `pad` spare elements after
   * it; the spare and leading elements are filled with a sentinel so stray writes show.
   */
  upload(data: Float32Array | Int32Array, offset = 0, pad = 3): TwinBuf {
    const total = offset + data.length + pad;
    const buf: TwinBuf = { ref: this.ref.alloc(total * 4), wasm: this.wasm.alloc(total * 4), offset, length: data.length };
    const fillV = data instanceof Int32Array ? new Int32Array(total).fill(-777) : new Float32Array(total).fill(-777.5);
    for (const [be, s] of [[this.ref, buf.ref], [this.wasm, buf.wasm]] as const) {
      be.write(s, fillV);
      be.write(s, data, offset);
    }
    return buf;
  }

  /** An f32 buffer of n elements filled with a sentinel (for outputs). */
  empty(n: number, offset = 0, pad = 3): TwinBuf {
    return this.upload(new Float32Array(n).fill(-999.25), offset, pad);
  }

  /** The Dense operand of `b` on `side`. */
  d(b: TwinBuf, side: Side, offset = b.offset): Dense {
    return { storage: side === 'ref' ? b.ref : b.wasm, offset };
  }

  /** Runs the same call on both backends; `call` builds the params for the side it is given. */
  run(call: (be: Backend, side: Side) => void): void {
    call(this.ref, 'ref');
    call(this.wasm, 'wasm');
  }

  /** Reads a whole storage (including padding) from both sides. */
  readAll<D extends 'f32' | 'i32'>(b: TwinBuf, dtype: D): { ref: D extends 'f32' ? Float32Array : Int32Array; wasm: D extends 'f32' ? Float32Array : Int32Array } {
    return {
      ref: this.ref.readSync(b.ref, dtype) as never,
      wasm: this.wasm.readSync(b.wasm, dtype) as never,
    };
  }

  /** Frees both sides. */
  free(...bufs: TwinBuf[]): void {
    for (const b of bufs) {
      this.ref.free(b.ref);
      this.wasm.free(b.wasm);
    }
  }
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

/** The odd sizes every kernel test covers (1 and values that miss the SIMD width). */
export const ODD_SIZES = [1, 3, 17, 63, 129] as const;
