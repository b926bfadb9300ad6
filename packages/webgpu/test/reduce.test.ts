// Reductions and (log-)softmax of the WebGPU backend against the reference backend.
// Tolerances: max/min/argmax/argmin are exact (same value, same first index, -0 vs 0 and NaN
// as the reference). sum/mean: |error| <= 1e-6 * sum|x| of the reduced elements (Kahan-
// compensated f32 partials combined by a tree; the reference accumulates in float64).
// softmax / log-softmax: 1e-5 relative (f32 exp of an f32 x - max, compensated f32 sums).
// softmaxBackward: 1e-5 relative plus 1e-6 * max|dy| absolute, since dy - sum(dy y) may cancel.
import type { ReduceOp } from '@tessera/core';
import { BoundsError, DisposedError } from '@tessera/core';
import { expect, it } from 'vitest';
import { ODD_SIZES, describeGPU, expectClose, expectSameValues, randF32, rng, type Twin, type TwinBuf } from './helpers.js';

const OPS: readonly ReduceOp[] = ['sum', 'mean', 'max', 'min', 'argmax', 'argmin'];

/** [outer, axisLen, inner]: contiguous axes below and above 64 (the two kernels), columns, odd cases. */
const SHAPES: [number, number, number][] = [
  ...ODD_SIZES.map((n) => [1, n, 1] as [number, number, number]),
  [1, 1500, 1],
  [3, 17, 1],
  [4, 100, 1],
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

function checkReduce(op: ReduceOp, res: { ref: ArrayLike<number>; gpu: ArrayLike<number> }, data: Float32Array, dims: [number, number, number], what: string) {
  if (op === 'sum' || op === 'mean') {
    const scale = maxAbsSum(data, ...dims) / (op === 'mean' ? Math.max(dims[1], 1) : 1);
    expectClose(res.gpu, res.ref, 1e-7, 1e-6 * scale, what);
  } else {
    expectSameValues(res.gpu, res.ref, what);
  }
}

describeGPU('reduce', (twin) => {
  it('every op over [outer, axisLen, inner] shapes with offsets, ties on a coarse grid', async () => {
    const t = twin();
    const r = rng(71);
    for (const op of OPS) {
      for (const dims of SHAPES) {
        const [outer, axisLen, inner] = dims;
        // Values on a 1/8 grid so that equal extremes occur (the first index must win).
        const data = Float32Array.from(randF32(r, outer * axisLen * inner, -4, 4), (v) => Math.round(v * 8) / 8);
        const x = t.upload(data, 5);
        checkReduce(op, await runReduce(t, op, x, outer, axisLen, inner), data, dims, `${op} [${dims}]`);
        t.free(x);
      }
    }
  });

  it('NaN, +-inf and signed zeros follow the reference (first NaN wins, first of equal extremes kept)', async () => {
    const t = twin();
    const r = rng(72);
    for (const dims of [[1, 37, 1], [3, 21, 6], [2, 9, 1], [1, 130, 1]] as [number, number, number][]) {
      const n = dims[0] * dims[1] * dims[2];
      const specials = [NaN, Infinity, -Infinity, 0, -0];
      for (let trial = 0; trial < 4; trial++) {
        const data = Float32Array.from(randF32(r, n, -2, 2), (v) => (r() < 0.15 ? specials[Math.floor(r() * specials.length)] : v));
        if (trial === 0) data.fill(-0).fill(0, Math.floor(n / 2));
        if (trial === 1) data.fill(-Infinity);
        const x = t.upload(data, 1);
        for (const op of OPS) {
          const res = await runReduce(t, op, x, ...dims);
          if (op === 'sum' || op === 'mean') expectClose(res.gpu, res.ref, 1e-6, 1e-5, `${op} specials [${dims}] trial ${trial}`);
          else expectSameValues(res.gpu, res.ref, `${op} specials [${dims}] trial ${trial}`);
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
        expectSameValues(res.gpu, res.ref, `${op} empty axis inner ${inner}`);
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
      expect(Math.abs(full.gpu[2] - exact), `full sum of U(${lo}, ${hi})`).toBeLessThan(1e-6 * absSum);
      const cols = await runReduce(t, 'sum', x, 1, n / 8, 8);
      for (let c = 0; c < 8; c++) {
        let e = 0;
        let a = 0;
        for (let k = c; k < n; k += 8) {
          e += data[k];
          a += Math.abs(data[k]);
        }
        expect(Math.abs(cols.gpu[2 + c] - e), `column ${c} of U(${lo}, ${hi})`).toBeLessThan(1e-6 * a);
      }
      t.free(x);
    }
  });

  it('BoundsError / DisposedError before anything is enqueued', async () => {
    const be = twin().gpu;
    const x = be.alloc(12 * 4);
    const out = be.alloc(12 * 4);
    be.write(out, new Float32Array(12).fill(5));
    const d = (s: typeof x, offset = 0) => ({ storage: s, offset });
    expect(() => be.reduce({ op: 'sum', x: d(x), out: d(out), outer: 2, axisLen: 7, inner: 1 })).toThrow(BoundsError);
    expect(() => be.softmax({ x: d(x, 1), out: d(out), rows: 3, cols: 4 })).toThrow(BoundsError);
    expect(Array.from(await be.read(out, 'f32'))).toEqual(new Array(12).fill(5));
    be.free(x);
    expect(() => be.reduce({ op: 'max', x: d(x), out: d(out), outer: 1, axisLen: 4, inner: 1 })).toThrow(DisposedError);
    be.free(out);
  });
});

describeGPU('softmax', (twin) => {
  async function runSoftmax(t: Twin, x: TwinBuf, rows: number, cols: number, log: boolean) {
    const out = t.empty(rows * cols, 3);
    t.run((be, s) => be.softmax({ x: t.d(x, s), out: t.d(out, s), rows, cols, log }));
    const res = await t.readAll(out, 'f32');
    t.free(out);
    return res;
  }

  for (const log of [false, true]) {
    const name = log ? 'log-softmax' : 'softmax';
    it(`${name} rows at odd widths with offsets (64- and 256-wide workgroups)`, async () => {
      const t = twin();
      const r = rng(81);
      for (const cols of [...ODD_SIZES, 1500]) {
        for (const rows of [1, 3]) {
          const x = t.upload(randF32(r, rows * cols, -10, 10), 7);
          const res = await runSoftmax(t, x, rows, cols, log);
          expectClose(res.gpu, res.ref, 1e-5, 1e-30, `${name} ${rows}x${cols}`);
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
      expectClose(res.gpu, res.ref, 1e-5, 1e-30, `${name} special rows`);
      t.free(x);
    });

    it(`${name} backward at odd widths`, async () => {
      const t = twin();
      const r = rng(82);
      for (const cols of [...ODD_SIZES, 500]) {
        const rows = 3;
        const x = t.upload(randF32(r, rows * cols, -4, 4));
        const yRef = (await runSoftmax(t, x, rows, cols, log)).ref.subarray(3, 3 + rows * cols);
        const y = t.upload(yRef, 2);
        const dy = t.upload(randF32(r, rows * cols, -1, 1), 4);
        const dx = t.empty(rows * cols, 1);
        t.run((be, s) => be.softmaxBackward({ y: t.d(y, s), dy: t.d(dy, s), dx: t.d(dx, s), rows, cols, log }));
        const res = await t.readAll(dx, 'f32');
        expectClose(res.gpu, res.ref, 1e-5, 1e-6, `${name} backward ${rows}x${cols}`);
        t.free(x, y, dy, dx);
      }
    });
  }

  it('softmax in place (out = x)', async () => {
    const t = twin();
    const x = t.upload(randF32(rng(83), 3 * 63, -5, 5), 1);
    t.run((be, s) => be.softmax({ x: t.d(x, s), out: t.d(x, s), rows: 3, cols: 63 }));
    const res = await t.readAll(x, 'f32');
    expectClose(res.gpu, res.ref, 1e-5, 1e-30, 'softmax in place');
    t.free(x);
  });
});
