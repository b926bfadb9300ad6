// Elementwise kernels of the WebGPU backend against the reference backend: the shared
// conformance suites (core/test/conformance/elementwise.ts: unary, binary, where, copy, cast,
// fill, GELU backward and random strided views) with the WebGPU tolerances below; plus
// aliasing cases, the accuracy of this package's WGSL transcendentals and the random kernel
// (core/test/conformance/random.ts).
//
// Tolerances. WGSL makes +, -, * correctly rounded, so ops built from them and from
// comparisons / bit operations (neg, abs, relu, sign, step, square, add, sub, mul, max, min,
// eq..ge, where, copy, cast, fill) must equal the reference value for value (-0 distinct
// from 0). Division and sqrt are not: WGSL allows x / y an error of 2.5 ulp and sqrt that of
// 1 / inverseSqrt (~4.5 ulp), so div, reciprocal, sqrt and rsqrt get rtol 1e-6 (~8 ulp).
// exp, log, tanh, sigmoid and pow are this package's own WGSL (Cody-Waite reduction +
// Cephes minimax polynomials): rtol 2e-6 against the float64 reference (the accuracy test
// below reports the measured worst errors on dense grids). gelu and gelu' get rtol 1e-5:
// they evaluate sigmoid(2u) with 2u = 2k(x + 0.044715 x^3) computed in f32, whose rounding
// (a few ulp of |2u|) is amplified by exp into a relative error of ~|2u| * 2e-7, i.e. up to
// ~1.6e-5 at x = -10 where |gelu| < 1e-36; an absolute floor of 1e-20 covers that tail.
import { KERNEL_NAMES, type UnaryOp } from '@tessera/core';
import { expect, it } from 'vitest';
import { elementwiseSuites, type ElementwiseOptions, type Tol } from '../../core/test/conformance/elementwise.js';
import { randomConformance } from '../../core/test/conformance/random.js';
import type { WebGPUBackend } from '../src/index.js';
import { describeGPU, expectClose, expectSameValues, randF32, rng } from './helpers.js';

const TRANSCENDENTAL: ReadonlySet<string> = new Set(['exp', 'log', 'tanh', 'sigmoid', 'gelu', 'silu', 'pow']);
const ROUNDED: ReadonlySet<string> = new Set(['sqrt', 'rsqrt', 'reciprocal', 'div']);
const RTOL_TRANSCENDENTAL = 2e-6;
const RTOL_GELU = 1e-5;
const RTOL_ROUNDED = 1e-6;

function tol(op: string): Tol {
  // gelu: the reference's 0.5 x (1 + tanh(u)) in float64 is 0 where tanh(u) rounds to -1
  // (x < -5.4), while the exact value (and ours) is ~1e-17 or smaller: covered by the floor.
  if (op === 'gelu') return { rtol: RTOL_GELU, atol: 1e-20 };
  if (TRANSCENDENTAL.has(op)) return { rtol: RTOL_TRANSCENDENTAL, atol: 1e-30 };
  if (ROUNDED.has(op)) return { rtol: RTOL_ROUNDED, atol: 0 };
  return null;
}

const OPTS: ElementwiseOptions = {
  unaryTol: tol,
  binaryTol: tol,
  geluBackwardRtol: RTOL_GELU,
  // Subnormal inputs and results are left out of the edge values: WGSL lets devices flush them
  // to zero. sqrt(-0) / 1/sqrt(-0): the sign of zero is the device's.
  edgeSkip: ['sqrt', 'rsqrt'],
  // x / 0 and 0 / 0: WGSL leaves division outside [2^-126, 2^126] to the device.
  divByZeroUndefined: true,
  // Parallel writes to one element land in no defined order.
  copyToBroadcastViews: false,
};

describeGPU('backend coverage', (twin) => {
  // The kernels are installed per instance from the backend's kernel table (bindKernels).
  it('every kernel named in KERNEL_NAMES is a method of WebGPUBackend', () => {
    const be: WebGPUBackend = twin().dev;
    const missing = KERNEL_NAMES.filter((k) => typeof (be as unknown as Record<string, unknown>)[k] !== 'function');
    expect(missing).toEqual([]);
  });
});

// The shared suites; the aliasing cases of unary and binary (one binding for x and out, or
// for a and out) are WebGPU's own.
elementwiseSuites(describeGPU, OPTS, {
  unary: (twin) => {
    it('in place (out = x) and out overlapping a shifted x (x is read before any write)', async () => {
      const t = twin();
      const r = rng(14);
      const buf = t.upload(randF32(r, 70, -2, 2), 4);
      t.run((be, s) => be.unary({ op: 'tanh', x: { ...t.d(buf, s), strides: [1] }, out: t.d(buf, s), shape: [63] }));
      let res = await t.readAll(buf, 'f32');
      expectClose(res.dev, res.ref, RTOL_TRANSCENDENTAL, 0, 'tanh in place');
      // out one element after x: on the reference, a sequential loop reads x[i] before writing
      // out[i] = x[i + 1]; the snapshot makes the GPU agree.
      t.run((be, s) => be.unary({ op: 'neg', x: { ...t.d(buf, s, 5), strides: [1] }, out: t.d(buf, s, 4), shape: [60] }));
      res = await t.readAll(buf, 'f32');
      expectClose(res.dev, res.ref, RTOL_TRANSCENDENTAL, 0, 'neg shifted by one');
      t.free(buf);
    });
  },
  binary: (twin) => {
    it('in place: out = a + b with out aliasing a (one binding for both)', async () => {
      const t = twin();
      const r = rng(22);
      const a = t.upload(randF32(r, 129), 2);
      const b = t.upload(randF32(r, 129), 1);
      t.run((be, s) => be.binary({ op: 'add', a: { ...t.d(a, s), strides: [1] }, b: { ...t.d(b, s), strides: [1] }, out: t.d(a, s), shape: [129] }));
      const res = await t.readAll(a, 'f32');
      expectSameValues(res.dev, res.ref, 'a += b');
      t.free(a, b);
    });
  },
});

describeGPU('transcendental accuracy against float64', (twin) => {
  function linspace(lo: number, hi: number, n: number): number[] {
    return Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
  }
  async function worst(op: UnaryOp, xs: number[], exact: (x: number) => number, floor = 0) {
    const t = twin();
    const x32 = Float32Array.from(xs);
    const x = t.upload(x32);
    const out = t.empty(xs.length);
    t.dev.unary({ op, x: { ...t.d(x, 'dev'), strides: [1] }, out: t.d(out, 'dev'), shape: [xs.length] });
    const got = await t.dev.read(out.dev, 'f32', 0, xs.length);
    t.free(x, out);
    let rel = 0;
    let at = 0;
    for (let i = 0; i < got.length; i++) {
      const e = exact(x32[i]);
      if (!Number.isFinite(e) || Math.abs(e) <= floor) continue;
      const err = Math.abs(got[i] - e) / Math.abs(e);
      if (err > rel) [rel, at] = [err, x32[i]];
    }
    return { rel, at };
  }
  const gelu64 = (x: number) => x / (1 + Math.exp(-2 * Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  const cases: [UnaryOp, number[], (x: number) => number, number, number][] = [
    ['exp', linspace(-87, 88, 20001), Math.exp, 0, RTOL_TRANSCENDENTAL],
    ['log', [...linspace(1e-30, 1, 10001), ...linspace(0.5, 2, 4001), ...linspace(1, 3e38, 10001)], Math.log, 0, RTOL_TRANSCENDENTAL],
    ['tanh', [...linspace(-20, 20, 20001), ...linspace(-1e-3, 1e-3, 2001)], Math.tanh, 0, RTOL_TRANSCENDENTAL],
    ['sigmoid', linspace(-80, 80, 20001), (x) => 1 / (1 + Math.exp(-x)), 0, RTOL_TRANSCENDENTAL],
    ['silu', linspace(-80, 80, 20001), (x) => x / (1 + Math.exp(-x)), 0, RTOL_TRANSCENDENTAL],
    ['gelu', linspace(-9.9, 8, 20001), gelu64, 1e-20, RTOL_GELU],
  ];
  for (const [op, xs, exact, floor, rtol] of cases) {
    it(`${op}: worst relative error on a dense grid is below ${rtol}`, async () => {
      const { rel, at } = await worst(op, xs, exact, floor);
      console.log(`webgpu ${op}: worst relative error ${rel.toExponential(2)} at x = ${at}`);
      expect(rel).toBeLessThan(rtol);
    });
  }
});

// Box-Muller: sqrt(-2 log u1) cos(2 pi u2) with this package's log and a quadrant-folded cos.
describeGPU('random', (twin) => {
  randomConformance(twin);
});
