// matmul on WebGPU against the float64 reference: odd shapes that miss the vec4 width and
// the 64 x 64 tile, all four transpose combinations, accumulate, element offsets (which
// switch the vec4 paths off), batches with gaps and broadcast (stride 0) operands.
//
// Tolerance (as the wasm tests): |got - ref| <= 1e-5 * mag + 1e-7 with mag = sum_l |a_il b_lj|
// (+ |out_ij| when accumulating), i.e. relative to the magnitude of the terms, not of their
// possibly cancelling sum. f32 has unit roundoff 2^-24 ~ 6e-8; a k-term f32 sum errs by about
// sqrt(k) * u * mag (<= 1.4e-6 mag for k <= 520) and the kernel sums in 16-wide k slices,
// not in the reference's order, so 1e-5 leaves room for rounding while any missing or
// doubled product (~mag / k >= 2e-3 mag here) still fails.
import type { MatmulParams } from '@tessera/core';
import { ReferenceBackend } from '@tessera/core';
import { it } from 'vitest';
import type { WebGPUBackend } from '../src/index.js';
import { describeGPU, rng, randF32 } from './helpers.js';

interface Case {
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  batch?: number;
  strideA?: number;
  strideB?: number;
  accumulate?: boolean;
  offA?: number;
  offB?: number;
  offOut?: number;
}

const SENTINEL = 1234.5;
const PAD = 7;

const label = (c: Case) =>
  `m=${c.m} n=${c.n} k=${c.k}${c.transA ? ' transA' : ''}${c.transB ? ' transB' : ''}` +
  `${(c.batch ?? 1) > 1 ? ` batch=${c.batch} sA=${c.strideA ?? 'dense'} sB=${c.strideB ?? 'dense'}` : ''}` +
  `${c.accumulate ? ' accumulate' : ''}${c.offA || c.offB || c.offOut ? ` offsets=${c.offA ?? 0},${c.offB ?? 0},${c.offOut ?? 0}` : ''}`;

async function check(be: WebGPUBackend, c: Case, seed: number): Promise<void> {
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
  const run = (target: WebGPUBackend | ReferenceBackend, a: Float32Array | Float64Array, b: Float32Array | Float64Array, o: Float32Array | Float64Array, accumulate: boolean) => {
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
  const g = run(be, A, B, out0, c.accumulate ?? false);
  const got = await be.read(g.sO, 'f32');
  for (const s of [g.sA, g.sB, g.sO]) be.free(s);
  const want = ref.readF64(run(ref, A, B, out0, c.accumulate ?? false).sO);
  const abs = (x: Float32Array) => Float64Array.from(x, Math.abs);
  const magOut = new Float64Array(out0.length);
  if (c.accumulate) for (let i = offOut; i < offOut + lenOut; i++) magOut[i] = Math.abs(out0[i]);
  const mag = ref.readF64(run(ref, abs(A), abs(B), magOut, true).sO);

  for (let i = 0; i < out0.length; i++) {
    if (i < offOut || i >= offOut + lenOut) {
      if (got[i] !== SENTINEL) throw new Error(`${label(c)}: element ${i} outside the output was overwritten (${got[i]})`);
      continue;
    }
    const tol = 1e-5 * mag[i] + 1e-7;
    if (!(Math.abs(got[i] - want[i]) <= tol)) {
      const j = i - offOut;
      const [bi, row, col] = [Math.floor(j / (m * n)), Math.floor((j % (m * n)) / n), j % n];
      throw new Error(`${label(c)}: out[${bi}][${row}][${col}] = ${got[i]}, reference ${want[i]} (tolerance ${tol})`);
    }
  }
}

const TRANS: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

/** Odd sizes around the vec4 width and the 64-wide tile, plus a few random ones. */
function shapes(): [number, number, number][] {
  const fixed: [number, number, number][] = [
    [1, 1, 1], [3, 3, 3], [17, 17, 17], [63, 63, 63], [3, 17, 63], [129, 3, 17],
    [1, 129, 63], [129, 1, 17], [17, 63, 1], [65, 129, 33], [4, 8, 20], [64, 64, 16],
  ];
  const r = rng(99);
  for (let i = 0; i < 4; i++) fixed.push([1 + Math.floor(r() * 140), 1 + Math.floor(r() * 140), 1 + Math.floor(r() * 140)]);
  return fixed;
}

describeGPU('matmul', (twin) => {
  it.each(TRANS)('matches the reference on odd and random shapes (transA=%s, transB=%s)', async (transA, transB) => {
    let seed = 1;
    for (const [m, n, k] of shapes()) await check(twin().gpu, { m, n, k, transA, transB }, seed++);
  });

  it('k = 0 writes zeros, or leaves out unchanged when accumulating', async () => {
    for (const [m, n] of [[1, 1], [3, 17], [17, 1], [9, 12]]) {
      for (const accumulate of [false, true]) await check(twin().gpu, { m, n, k: 0, accumulate }, m * 31 + n);
    }
  });

  it('adds into out when accumulating (edges, several k slices)', async () => {
    let seed = 50;
    for (const [m, n, k] of [[3, 17, 63], [17, 9, 300], [1, 63, 17], [63, 1, 17], [129, 65, 40]] as const) {
      for (const [transA, transB] of TRANS) await check(twin().gpu, { m, n, k, transA, transB, accumulate: true }, seed++);
    }
  });

  it('honours element offsets of a, b and out (scalar paths) and aligned ones (vec4 paths)', async () => {
    const be = twin().gpu;
    await check(be, { m: 17, n: 63, k: 3, offA: 5, offB: 3, offOut: 1 }, 7);
    await check(be, { m: 1, n: 63, k: 17, offA: 2, offB: 1, offOut: 3, transB: true }, 8);
    await check(be, { m: 63, n: 1, k: 17, offA: 1, offB: 2, offOut: 5, transA: true, accumulate: true }, 9);
    for (const [transA, transB] of TRANS) await check(be, { m: 68, n: 72, k: 36, offA: 4, offB: 8, offOut: 12, transA, transB, accumulate: true }, 10);
  });

  it('loops over batches with gaps between matrices and with broadcast (stride 0) operands', async () => {
    const be = twin().gpu;
    let seed = 100;
    for (const [transA, transB] of TRANS) {
      const [m, n, k] = [9, 13, 21];
      await check(be, { m, n, k, transA, transB, batch: 3, strideA: m * k + 5, strideB: k * n + 7 }, seed++);
      await check(be, { m, n, k, transA, transB, batch: 3, strideA: 0 }, seed++);
      await check(be, { m, n, k, transA, transB, batch: 4, strideB: 0, accumulate: true }, seed++);
      await check(be, { m: 1, n, k, transA, transB, batch: 5, strideB: 0 }, seed++);
      await check(be, { m, n: 1, k, transA, transB, batch: 2, strideA: 0, offOut: 3 }, seed++);
      await check(be, { m: 8, n: 12, k: 16, transA, transB, batch: 3, strideA: 0, strideB: 192 + 4 }, seed++);
    }
  });

  it('GEMV path (m = 1, one decoding step): aligned and unaligned, k over several staged chunks, tails, accumulate, batches', async () => {
    const be = twin().gpu;
    let seed = 300;
    for (const [transA, transB] of TRANS) {
      for (const [n, k] of [[1, 1], [3, 17], [129, 63], [260, 513], [768, 768], [64, 1027]] as const) {
        await check(be, { m: 1, n, k, transA, transB }, seed++);
      }
      await check(be, { m: 1, n: 132, k: 300, transA, transB, accumulate: true }, seed++);
      await check(be, { m: 1, n: 131, k: 301, transA, transB, offA: 1, offB: 3, offOut: 2 }, seed++);
      await check(be, { m: 1, n: 40, k: 260, transA, transB, batch: 3, strideB: 260 * 40 + 4 }, seed++);
    }
  });

  it('a and b in the same storage, and out beside them (one shared binding)', async () => {
    const t = twin();
    const r = rng(5);
    const [m, n, k] = [17, 9, 13];
    const A = randF32(r, m * k);
    const B = randF32(r, k * n);
    const data = new Float32Array(m * k + k * n + m * n);
    data.set(A, 0);
    data.set(B, m * k);
    const buf = t.upload(data);
    t.run((be, s) =>
      be.matmul({ a: t.d(buf, s, 0), b: t.d(buf, s, m * k), out: t.d(buf, s, m * k + k * n), m, n, k }),
    );
    const res = await t.readAll(buf, 'f32');
    const { expectClose } = await import('./helpers.js');
    expectClose(res.gpu, res.ref, 1e-5, 1e-6, 'matmul within one storage');
    t.free(buf);
  });
});
