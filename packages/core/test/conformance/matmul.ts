// matmul conformance: the device under test against the float64 reference on odd shapes
// that miss the SIMD / vec4 width and the register / workgroup tiles, all four transpose
// combinations, accumulate, element offsets, batches with gaps and broadcast (stride 0)
// operands, and the GEMV paths (m = 1 decoding steps, n = 1).
//
// Tolerance: |got - ref| <= 1e-5 * mag + 1e-7 with mag = sum_l |a_il * b_lj| (+ |out_ij|
// before the call when accumulating), i.e. relative to the magnitude of the terms, not of
// their (possibly cancelling) sum. Why 1e-5: f32 has unit roundoff u = 2^-24 ~ 6e-8; a k-term
// f32 sum errs by at most k*u*mag and, with the random-sign roundings of these inputs, by
// about sqrt(k)*u*mag <= 1.4e-6*mag for k <= 520. The kernels' summation orders (wasm:
// 4-lane partial sums, k blocks of 256 added into C, fused or separate multiply-add; WebGPU:
// 16-wide k slices) differ from the reference's sequential float64 loop, so a tighter bound
// would test rounding luck; 1e-5 still catches any missing or doubled product (each is
// ~mag/k >= 2e-3*mag here).
import { it } from 'vitest';
import type { Backend, MatmulParams } from '../../src/backend.js';
import { ReferenceBackend } from '../../src/reference/backend.js';
import { randF32, rng } from '../checks.js';
import type { Twin } from './twin.js';

/** One matmul call: shapes, flags, batch strides and element offsets of a, b, out. */
export type MatmulCase = Pick<MatmulParams, 'm' | 'n' | 'k' | 'transA' | 'transB' | 'batch' | 'strideA' | 'strideB' | 'accumulate'> & {
  offA?: number;
  offB?: number;
  offOut?: number;
};

/** Written around the output so a write outside [offOut, offOut + batch*m*n) is caught. */
const SENTINEL = 1234.5;
const PAD = 7;

export const describeMatmulCase = (c: MatmulCase) =>
  `m=${c.m} n=${c.n} k=${c.k}${c.transA ? ' transA' : ''}${c.transB ? ' transB' : ''}` +
  `${(c.batch ?? 1) > 1 ? ` batch=${c.batch} sA=${c.strideA ?? 'dense'} sB=${c.strideB ?? 'dense'}` : ''}` +
  `${c.accumulate ? ' accumulate' : ''}${c.offA || c.offB || c.offOut ? ` offsets=${c.offA ?? 0},${c.offB ?? 0},${c.offOut ?? 0}` : ''}`;

/**
 * Runs `c` on the device under test and on the float64 reference with inputs drawn from
 * `seed`, and compares every output element (and the sentinels around the output).
 */
export async function checkMatmul(t: Twin, c: MatmulCase, seed: number): Promise<void> {
  const { m, n, k } = c;
  const batch = c.batch ?? 1;
  const sa = c.strideA ?? m * k;
  const sb = c.strideB ?? k * n;
  const lenA = sa * (batch - 1) + m * k;
  const lenB = sb * (batch - 1) + k * n;
  const lenOut = batch * m * n;
  const offA = c.offA ?? 0;
  const offB = c.offB ?? 0;
  const offOut = c.offOut ?? 0;
  const r = rng(seed);
  const A = randF32(r, lenA);
  const B = randF32(r, lenB);
  const out0 = new Float32Array(offOut + lenOut + PAD).fill(SENTINEL);
  if (c.accumulate) out0.set(randF32(r, lenOut), offOut);

  const ref = new ReferenceBackend({ float64: true });
  const run = (target: Backend, a: Float32Array | Float64Array, b: Float32Array | Float64Array, o: Float32Array | Float64Array, accumulate: boolean) => {
    const sA = target.alloc((offA + lenA + PAD) * 4);
    const sB = target.alloc((offB + lenB + PAD) * 4);
    const sO = target.alloc(o.length * 4);
    target.write(sA, a as Float32Array, offA);
    target.write(sB, b as Float32Array, offB);
    target.write(sO, o as Float32Array, 0);
    const p: MatmulParams = {
      a: { storage: sA, offset: offA },
      b: { storage: sB, offset: offB },
      out: { storage: sO, offset: offOut },
      m, n, k, transA: c.transA, transB: c.transB, batch, strideA: c.strideA, strideB: c.strideB, accumulate,
    };
    target.matmul(p);
    return { sA, sB, sO };
  };
  const g = run(t.dev, A, B, out0, c.accumulate ?? false);
  const got = await t.readDev(g.sO, 'f32');
  for (const s of [g.sA, g.sB, g.sO]) t.dev.free(s);
  const want = ref.readF64(run(ref, A, B, out0, c.accumulate ?? false).sO);
  const abs = (x: Float32Array) => Float64Array.from(x, Math.abs);
  const magOut = new Float64Array(out0.length);
  if (c.accumulate) for (let i = offOut; i < offOut + lenOut; i++) magOut[i] = Math.abs(out0[i]);
  const mag = ref.readF64(run(ref, abs(A), abs(B), magOut, true).sO);

  for (let i = 0; i < out0.length; i++) {
    if (i < offOut || i >= offOut + lenOut) {
      if (got[i] !== SENTINEL) throw new Error(`${describeMatmulCase(c)}: element ${i} outside the output was overwritten (${got[i]})`);
      continue;
    }
    const tol = 1e-5 * mag[i] + 1e-7;
    if (!(Math.abs(got[i] - want[i]) <= tol)) {
      const j = i - offOut;
      const [bi, row, col] = [Math.floor(j / (m * n)), Math.floor((j % (m * n)) / n), j % n];
      throw new Error(`${describeMatmulCase(c)}: out[${bi}][${row}][${col}] = ${got[i]}, reference ${want[i]} (tolerance ${tol})`);
    }
  }
}

export const TRANS: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

/**
 * Odd sizes around the SIMD / vec4 width, the wasm 4 x 8 register tile and the 64-wide GPU
 * tile, plus sizes once drawn at random (uniform in [1, 140]) and kept as they came out.
 */
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [3, 3, 3], [17, 17, 17], [63, 63, 63], [3, 17, 63], [129, 3, 17],
  [1, 129, 63], [129, 1, 17], [17, 63, 1], [63, 129, 129], [129, 129, 3], [4, 8, 5], [8, 16, 4],
  [65, 129, 33], [4, 8, 20], [64, 64, 16],
  // random
  [39, 37, 85], [47, 51, 91], [3, 48, 122], [38, 101, 75], [46, 17, 86], [93, 122, 115], [133, 62, 132], [37, 106, 49],
  [89, 1, 45], [78, 88, 35], [73, 54, 104], [58, 47, 137], [37, 113, 76], [97, 1, 115], [2, 15, 56], [94, 52, 10],
];

/** The shared matmul tests; call inside the backend's describe. */
export function matmulConformance(twin: () => Twin): void {
  it.each(TRANS)('matches the reference on odd and random shapes (transA=%s, transB=%s)', async (transA, transB) => {
    let seed = 1;
    for (const [m, n, k] of SHAPES) await checkMatmul(twin(), { m, n, k, transA, transB }, seed++);
  });

  it('k = 0 writes zeros, or leaves out unchanged when accumulating', async () => {
    for (const [m, n] of [[1, 1], [3, 17], [1, 63], [17, 1], [9, 12]]) {
      for (const accumulate of [false, true]) await checkMatmul(twin(), { m, n, k: 0, accumulate }, m * 31 + n);
    }
  });

  it('adds into out when accumulating (edges, GEMV paths, several k blocks and slices)', async () => {
    let seed = 50;
    for (const [m, n, k] of [[3, 17, 63], [17, 9, 300], [1, 63, 17], [63, 1, 17], [129, 65, 257], [129, 65, 40]] as const) {
      for (const [transA, transB] of TRANS) await checkMatmul(twin(), { m, n, k, transA, transB, accumulate: true }, seed++);
    }
  });

  it('honours element offsets of a, b and out (scalar paths) and aligned ones (vec4 paths)', async () => {
    const t = twin();
    await checkMatmul(t, { m: 17, n: 63, k: 3, offA: 5, offB: 3, offOut: 1 }, 7);
    await checkMatmul(t, { m: 1, n: 63, k: 17, offA: 2, offB: 1, offOut: 3, transB: true }, 8);
    await checkMatmul(t, { m: 63, n: 1, k: 17, offA: 1, offB: 2, offOut: 5, transA: true, accumulate: true }, 9);
    for (const [transA, transB] of TRANS) await checkMatmul(t, { m: 68, n: 72, k: 36, offA: 4, offB: 8, offOut: 12, transA, transB, accumulate: true }, 10);
  });

  it('loops over batches with gaps between matrices and with broadcast (stride 0) operands', async () => {
    const t = twin();
    let seed = 100;
    for (const [transA, transB] of TRANS) {
      const [m, n, k] = [9, 13, 21];
      await checkMatmul(t, { m, n, k, transA, transB, batch: 3, strideA: m * k + 5, strideB: k * n + 7 }, seed++);
      await checkMatmul(t, { m, n, k, transA, transB, batch: 3, strideA: 0 }, seed++);
      await checkMatmul(t, { m, n, k, transA, transB, batch: 4, strideB: 0, accumulate: true }, seed++);
      await checkMatmul(t, { m: 1, n, k, transA, transB, batch: 5, strideB: 0 }, seed++);
      await checkMatmul(t, { m, n: 1, k, transA, transB, batch: 2, strideA: 0, offOut: 3 }, seed++);
      await checkMatmul(t, { m: 8, n: 12, k: 16, transA, transB, batch: 3, strideA: 0, strideB: 192 + 4 }, seed++);
    }
  });

  it('GEMV paths (m = 1 decoding step, n = 1): aligned and unaligned, k over several chunks, tails, accumulate, batches', async () => {
    const t = twin();
    let seed = 200;
    for (const [transA, transB] of TRANS) {
      await checkMatmul(t, { m: 1, n: 770, k: 257, transA, transB }, seed++);
      await checkMatmul(t, { m: 1, n: 3, k: 1030, transA, transB }, seed++);
      await checkMatmul(t, { m: 259, n: 1, k: 131, transA, transB }, seed++);
      await checkMatmul(t, { m: 1, n: 1, k: 1001, transA, transB, accumulate: true }, seed++);
    }
    seed = 300;
    for (const [transA, transB] of TRANS) {
      for (const [n, k] of [[1, 1], [3, 17], [129, 63], [260, 513], [768, 768], [64, 1027]] as const) {
        await checkMatmul(t, { m: 1, n, k, transA, transB }, seed++);
      }
      await checkMatmul(t, { m: 1, n: 132, k: 300, transA, transB, accumulate: true }, seed++);
      await checkMatmul(t, { m: 1, n: 131, k: 301, transA, transB, offA: 1, offB: 3, offOut: 2 }, seed++);
      await checkMatmul(t, { m: 1, n: 40, k: 260, transA, transB, batch: 3, strideB: 260 * 40 + 4 }, seed++);
    }
  });
}
