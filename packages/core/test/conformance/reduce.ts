// Reductions and (log-)softmax conformance: the device under test against the reference.
// Tolerances: max/min/argmax/argmin are exact (same value, same first index, -0 vs 0 and NaN
// as the reference). sum/mean: |error| <= 1e-6 * sum|x| of the reduced elements (the
// reference accumulates in float64; wasm adds f32 block partials in float64, WebGPU combines
// Kahan-compensated f32 partials by a tree). softmax / log-softmax: 1e-5 relative (f32 exp of
// an f32 x - max). softmaxBackward: 1e-5 relative plus 1e-6 * max|dy| absolute, since
// dy - sum(dy y) may cancel.
import { expect, it } from 'vitest';
import type { ReduceOp } from '../../src/backend.js';
import { ODD_SIZES, expectClose, expectSameValues, randF32, rng } from '../checks.js';
import type { Twin, TwinBuf } from './twin.js';

export type Dims = [outer: number, axisLen: number, inner: number];

export interface ReduceOptions {
  /** [outer, axisLen, inner] shapes beyond the shared ones that reach the backend's own kernel choices. */
  shapes: Dims[];
  /** A wide softmax row beyond ODD_SIZES (e.g. 1000, or 1500 for the 256-wide workgroups). */
  softmaxWide: number;
  /** What softmaxWide exercises, appended to the test names (e.g. ' (64- and 256-wide workgroups)'). */
  softmaxLabel?: string;
}

const OPS: readonly ReduceOp[] = ['sum', 'mean', 'max', 'min', 'argmax', 'argmin'];

/** [outer, axisLen, inner] shapes: contiguous axes, columns, > 64-row and odd cases. */
const SHAPES: Dims[] = [
  ...ODD_SIZES.map((n) => [1, n, 1] as Dims),
  [3, 17, 1],
  [2, 63, 5],
  [1, 129, 3],
  [4, 3, 17],
  [2, 70, 129],
  [1, 1, 63],
  [5, 1, 1],
];

async function runReduce(t: Twin, op: ReduceOp, x: TwinBuf, outer: number, axisLen: number, inner: number) {
  const out = t.empty(outer * inner, 2);
  t.run((be, s) => be.reduce({ op, x: t.d(x, s), out: t.d(out, s), outer, axisLen, inner }));
  const res = await t.readAll(out, op.startsWith('arg') ? 'i32' : 'f32');
  t.free(out);
  return res;
}

/** Largest sum of |x| over the elements of any one output. */
function maxAbsSum(data: Float32Array, outer: number, axisLen: number, inner: number): number {
  let m = 0;
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      let s = 0;
      for (let a = 0; a < axisLen; a++) s += Math.abs(data[(o * axisLen + a) * inner + i]);
      m = Math.max(m, s);
    }
  return m;
}

function checkReduce(op: ReduceOp, res: { ref: ArrayLike<number>; dev: ArrayLike<number> }, data: Float32Array, dims: Dims, what: string) {
  if (op === 'sum' || op === 'mean') {
    const scale = maxAbsSum(data, ...dims) / (op === 'mean' ? Math.max(dims[1], 1) : 1);
    expectClose(res.dev, res.ref, 1e-7, 1e-6 * scale, what);
  } else {
    expectSameValues(res.dev, res.ref, what);
  }
}

/** The shared reduce tests; call inside the backend's describe. */
export function reduceConformance(twin: () => Twin, opts: ReduceOptions): void {
  for (const op of OPS) {
    it(`${op} over [outer, axisLen, inner] shapes with offsets, ties on a coarse grid`, async () => {
      const t = twin();
      const r = rng(71);
      for (const dims of [...SHAPES, ...opts.shapes]) {
        const [outer, axisLen, inner] = dims;
        // Values on a 1/8 grid so that equal extremes occur (the first index must win).
        const data = Float32Array.from(randF32(r, outer * axisLen * inner, -4, 4), (v) => Math.round(v * 8) / 8);
        const x = t.upload(data, 5);
        checkReduce(op, await runReduce(t, op, x, outer, axisLen, inner), data, dims, `${op} [${dims}]`);
        t.free(x);
      }
    });
  }

  it('NaN, +-inf and signed zeros follow the reference (first NaN wins, first of equal extremes kept)', async () => {
    const t = twin();
    const r = rng(72);
    for (const dims of [[1, 37, 1], [3, 21, 6], [2, 9, 1], [1, 130, 1]] as Dims[]) {
      const n = dims[0] * dims[1] * dims[2];
      const specials = [NaN, Infinity, -Infinity, 0, -0];
      for (let trial = 0; trial < 6; trial++) {
        const data = Float32Array.from(randF32(r, n, -2, 2), (v) => (r() < 0.15 ? specials[Math.floor(r() * specials.length)] : v));
        if (trial === 0) data.fill(-0).fill(0, Math.floor(n / 2));
        if (trial === 1) data.fill(-Infinity);
        const x = t.upload(data, 1);
        for (const op of OPS) {
          const res = await runReduce(t, op, x, ...dims);
          if (op === 'sum' || op === 'mean') expectClose(res.dev, res.ref, 1e-6, 1e-5, `${op} specials [${dims}] trial ${trial}`);
          else expectSameValues(res.dev, res.ref, `${op} specials [${dims}] trial ${trial}`);
        }
        t.free(x);
      }
    }
  });

  it('sum over an empty axis is 0 and mean is NaN', async () => {
    const t = twin();
    const x = t.upload(new Float32Array(1));
    for (const inner of [1, 5]) {
      for (const op of ['sum', 'mean'] as const) {
        const res = await runReduce(t, op, x, 2, 0, inner);
        expectSameValues(res.dev, res.ref, `${op} empty axis inner ${inner}`);
      }
    }
    t.free(x);
  });

  it('sums 10^5 elements to 1e-6 relative (contiguous axis and across rows)', async () => {
    const t = twin();
    const r = rng(73);
    const n = 100_000;
    for (const [lo, hi] of [[0, 1], [-1, 1]]) {
      const data = randF32(r, n, lo, hi);
      const exact = data.reduce((s, v) => s + v, 0);
      const absSum = data.reduce((s, v) => s + Math.abs(v), 0);
      const x = t.upload(data);
      const full = await runReduce(t, 'sum', x, 1, n, 1);
      expect(Math.abs(full.dev[2] - exact), `full sum of U(${lo}, ${hi})`).toBeLessThan(1e-6 * absSum);
      // [12500, 8] summed over rows: 8 columns of 12500 elements.
      const cols = await runReduce(t, 'sum', x, 1, n / 8, 8);
      for (let c = 0; c < 8; c++) {
        let e = 0;
        let a = 0;
        for (let k = c; k < n; k += 8) {
          e += data[k];
          a += Math.abs(data[k]);
        }
        expect(Math.abs(cols.dev[2 + c] - e), `column ${c} of U(${lo}, ${hi})`).toBeLessThan(1e-6 * a);
      }
      t.free(x);
    }
  });
}

/** Runs (log-)softmax on both sides; the whole output storage of both. */
export async function runSoftmax(t: Twin, x: TwinBuf, rows: number, cols: number, log: boolean) {
  const out = t.empty(rows * cols, 3);
  t.run((be, s) => be.softmax({ x: t.d(x, s), out: t.d(out, s), rows, cols, log }));
  const res = await t.readAll(out, 'f32');
  t.free(out);
  return res;
}

/** The shared softmax tests; call inside the backend's describe. */
export function softmaxConformance(twin: () => Twin, opts: ReduceOptions): void {
  for (const log of [false, true]) {
    const name = log ? 'log-softmax' : 'softmax';
    it(`${name} rows at odd widths with offsets${opts.softmaxLabel ?? ''}`, async () => {
      const t = twin();
      const r = rng(81);
      for (const cols of [...ODD_SIZES, opts.softmaxWide]) {
        for (const rows of [1, 3]) {
          const x = t.upload(randF32(r, rows * cols, -10, 10), 7);
          const res = await runSoftmax(t, x, rows, cols, log);
          expectClose(res.dev, res.ref, 1e-5, 1e-30, `${name} ${rows}x${cols}`);
          t.free(x);
        }
      }
    });

    it(`${name} of large, -inf, +inf, NaN and all -inf rows`, async () => {
      const t = twin();
      const cols = 19;
      const rowsData = [
        Array.from({ length: cols }, (_, i) => 1e4 + i),
        Array.from({ length: cols }, (_, i) => (i % 3 === 0 ? -Infinity : i)),
        Array.from({ length: cols }, () => -Infinity),
        Array.from({ length: cols }, (_, i) => (i === 5 ? Infinity : i)),
        Array.from({ length: cols }, (_, i) => (i === 7 ? NaN : i)),
        Array.from({ length: cols }, (_, i) => (i === 0 ? 100 : -100)),
      ];
      const x = t.upload(Float32Array.from(rowsData.flat()), 1);
      const res = await runSoftmax(t, x, rowsData.length, cols, log);
      expectClose(res.dev, res.ref, 1e-5, 1e-30, `${name} special rows`);
      t.free(x);
    });

    it(`${name} backward at odd widths`, async () => {
      const t = twin();
      const r = rng(82);
      for (const cols of [...ODD_SIZES, 500]) {
        const rows = 3;
        // The same y on both sides: the reference's (log-)softmax of random logits.
        const x = t.upload(randF32(r, rows * cols, -4, 4));
        const yRef = (await runSoftmax(t, x, rows, cols, log)).ref.subarray(3, 3 + rows * cols);
        const y = t.upload(yRef, 2);
        const dy = t.upload(randF32(r, rows * cols, -1, 1), 4);
        const dx = t.empty(rows * cols, 1);
        t.run((be, s) => be.softmaxBackward({ y: t.d(y, s), dy: t.d(dy, s), dx: t.d(dx, s), rows, cols, log }));
        const res = await t.readAll(dx, 'f32');
        expectClose(res.dev, res.ref, 1e-5, 1e-6, `${name} backward ${rows}x${cols}`);
        t.free(x, y, dy, dx);
      }
    });
  }
}
