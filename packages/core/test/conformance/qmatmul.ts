// qmatmul conformance: the device under test against the float64 reference and against an
// f32 matmul of the dequantized weights, for int8 and int4 at every group size, on shapes
// that miss the 4-row tile and the 4-lane vectors (m = 1, 3, 17, 64, 65; k = 32 * odd,
// 96, 160; odd n) and the wasm GEMM path's blocks (MR 4, NR 8 with a partial half panel,
// KC 256, MC 48, NC 2048: m = 5, 50; n = 13, 21, 2051; k = 288, 384), with element offsets
// on every operand and sentinels around the output.
//
// Tolerance: |got - want| <= 1e-5 * mag + 1e-7 with mag = sum_l |x_il| * |w_jl| (w the
// dequantized weight), i.e. relative to the magnitude of the terms, not of their possibly
// cancelling sum (the same bound and reasoning as the matmul suite: an f32 sum of k terms
// errs by about sqrt(k) * 2^-24 * mag with random-sign roundings, under 1e-6 * mag for
// k <= 224, while a missing or doubled product moves the result by about mag / k).
import { expect, it } from 'vitest';
import type { Backend } from '../../src/backend.js';
import { dequantizeMatrix, quantizeActivations, quantizeMatrix, type QuantBits, type QuantGroupSize } from '../../src/quant.js';
import { ReferenceBackend } from '../../src/reference/backend.js';
import { randF32, rng } from '../checks.js';
import type { Twin } from './twin.js';

export interface QMatmulCase {
  m: number;
  n: number;
  k: number;
  bits: QuantBits;
  groupSize: QuantGroupSize;
  /** The kernel's activations mode (default 'f32'). */
  activations?: 'f32' | 'int8';
}

export const describeQMatmulCase = (c: QMatmulCase) =>
  `int${c.bits} g${c.groupSize} m=${c.m} n=${c.n} k=${c.k}${c.activations === 'int8' ? ' (int8 activations)' : ''}`;

/** Shapes [m, n, k] of the suite (each run at every group size dividing k). */
export const QMATMUL_SHAPES: readonly (readonly [number, number, number])[] = [
  [1, 1, 32],
  [1, 33, 96],
  [3, 5, 160],
  [17, 7, 96],
  [64, 9, 128],
  [65, 3, 224],
  [1, 17, 384],
  [4, 6, 64],
  [5, 13, 288],
  [50, 21, 384],
  [6, 2051, 32],
  [5, 2, 0],
];

/** Every case of the suite: each shape with both bit widths and every group size dividing k. */
export function qmatmulCases(): QMatmulCase[] {
  const out: QMatmulCase[] = [];
  for (const [m, n, k] of QMATMUL_SHAPES) {
    for (const bits of [8, 4] as const) {
      for (const groupSize of [32, 64, 128] as const) if (k % groupSize === 0) out.push({ m, n, k, bits, groupSize });
    }
  }
  return out;
}

const PAD = 5;
const SENTINEL = 1234.5;

/** Runs one case on the twin; inputs from `seed`, operands at element offsets 1-4. */
export async function checkQMatmul(t: Twin, c: QMatmulCase, seed: number): Promise<void> {
  const { m, n, k, bits, groupSize } = c;
  const r = rng(seed);
  const x = randF32(r, m * k);
  // Weights of a spread of magnitudes per group, so the scales differ.
  const w = randF32(r, n * k).map((v, i) => v * (0.25 + ((i >> 5) % 7)));
  const qm = quantizeMatrix(w, n, k, { bits, groupSize });
  const wd = dequantizeMatrix(qm);
  const X = t.upload(x, 1);
  const Q = t.upload(qm.q, 2);
  const S = t.upload(qm.scales, 3);
  const O = t.upload(new Float32Array(m * n).fill(SENTINEL), 4, PAD);
  const activations = c.activations ?? 'f32';
  t.run((be, side) => be.qmatmul!({ x: t.d(X, side), q: t.d(Q, side), scales: t.d(S, side), out: t.d(O, side), m, n, k, bits, groupSize, activations }));
  const { ref, dev } = await t.readAll(O, 'f32');

  // f32 matmul of the dequantized weights (x @ wd^T) on a float64 reference.
  const f = new ReferenceBackend({ float64: true });
  const buf = (a: Float32Array) => {
    const s = f.alloc(Math.max(a.length, 1) * 4);
    f.write(s, a);
    return { storage: s, offset: 0 };
  };
  const fo = buf(new Float32Array(m * n));
  f.matmul({ a: buf(x), b: buf(wd), out: fo, m, n, k, transB: true });
  const mm = f.readSync(fo.storage, 'f32');

  const what = describeQMatmulCase(c);
  // int8 activations: the device and the reference use the same integers (the magnitude of
  // the terms is then that of xq * sx), and the distance to the f32 product is bounded by
  // half an activation step per term: sum_g sx[i, g] / 2 * sum_{l in g} |w[j, l]|.
  const xa = activations === 'int8' ? quantizeActivations(x, m, k, groupSize) : null;
  const groups = k / groupSize;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let mag = 0;
      let magQ = 0;
      let step = 0;
      for (let l = 0; l < k; l++) {
        const w = Math.abs(wd[j * k + l]);
        mag += Math.abs(x[i * k + l]) * w;
        if (xa) {
          const sx = xa.scales[i * groups + Math.floor(l / groupSize)];
          magQ += Math.abs(xa.xq[i * k + l] * sx) * w;
          step += (sx / 2) * w;
        }
      }
      const tol = 1e-5 * mag + 1e-7;
      const tolRef = xa ? 1e-5 * magQ + 1e-7 : tol;
      const tolF32 = xa ? step * (1 + 1e-6) + tol : tol;
      const at = 4 + i * n + j;
      const d = dev[at];
      if (!(Math.abs(d - ref[at]) <= tolRef) || !(Math.abs(d - mm[i * n + j]) <= tolF32)) {
        expect.fail(`${what}: out[${i}, ${j}] = ${d}, reference ${ref[at]} (tolerance ${tolRef}), f32 matmul of the dequantized weights ${mm[i * n + j]} (tolerance ${tolF32})`);
      }
    }
  }
  for (const side of [ref, dev]) {
    for (const at of [0, 1, 2, 3, 4 + m * n, 4 + m * n + PAD - 1]) expect(side[at], `${what}: sentinel at ${at}`).toBe(-777.5);
  }
  t.free(X, Q, S, O);
}

/** The qmatmul tests every backend with the kernel runs. */
export function qmatmulConformance(twin: () => Twin): void {
  it('matches the float64 reference and an f32 matmul of the dequantized weights (int8, int4; every group size; odd shapes)', async () => {
    let seed = 1;
    for (const c of qmatmulCases()) await checkQMatmul(twin(), c, seed++);
  });

  it('throws typed errors naming the bad value before touching memory', () => {
    const t = twin();
    const { ArgumentError, BoundsError, ShapeError } = t.errors;
    const X = t.upload(new Float32Array(2 * 64));
    const Q = t.upload(new Int32Array((3 * 64) / 4));
    const S = t.upload(new Float32Array(3 * 2));
    const O = t.upload(new Float32Array(2 * 3).fill(SENTINEL), 0, 0);
    const call = (be: Backend, side: 'ref' | 'dev', over: Record<string, unknown>) => () =>
      be.qmatmul!({ x: t.d(X, side), q: t.d(Q, side), scales: t.d(S, side), out: t.d(O, side), m: 2, n: 3, k: 64, bits: 8, groupSize: 32, ...over } as Parameters<NonNullable<Backend['qmatmul']>>[0]);
    for (const side of ['ref', 'dev'] as const) {
      const be = side === 'ref' ? t.ref : t.dev;
      expect(call(be, side, {})).not.toThrow();
      expect(call(be, side, { bits: 5 })).toThrow(ArgumentError);
      expect(call(be, side, { bits: 5 })).toThrow(/bits must be 8 or 4, got 5/);
      expect(call(be, side, { groupSize: 48 })).toThrow(/groupSize must be one of 32, 64, 128, got 48/);
      expect(call(be, side, { groupSize: 128 })).toThrow(ShapeError);
      expect(call(be, side, { groupSize: 128 })).toThrow(/k = 64 .* must be a multiple of groupSize 128/);
      expect(call(be, side, { n: 4 })).toThrow(BoundsError);
      expect(call(be, side, { n: 4 })).toThrow(/qmatmul q \(int8 \[4, 64\]\)/);
      expect(call(be, side, { m: 3 })).toThrow(/qmatmul x \[3, 64\]/);
      expect(call(be, side, { out: t.d(X, side) })).toThrow(ArgumentError);
      expect(call(be, side, { activations: 'int9' })).toThrow(/activations must be 'f32' or 'int8', got int9/);
    }
    t.free(X, Q, S, O);
  });
}
