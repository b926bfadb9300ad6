// Elementwise kernels of the wasm backend (both builds) against the reference backend: the
// shared conformance suites (conformance/elementwise.ts: unary, binary, where, copy, cast,
// fill, GELU backward and random strided views) with the wasm tolerances below; plus the
// accuracy of the SIMD transcendental approximations against float64, the plain-memory
// build and wasm error checks.
//
// Tolerances: ops that are exact in f32 (neg, abs, relu, sign, step, square, sqrt, rsqrt,
// reciprocal, + - * /, max, min, comparisons, where, copy, cast, fill) must match the
// reference value for value (-0 distinct from 0). pow is computed in float64 and must be
// within 1 f32 ulp (rtol 2^-23). exp, log, tanh, sigmoid, silu, gelu and gelu' are
// polynomial approximations: rtol 1e-6 (measured worst errors are listed in the accuracy tests).
import { describe, expect, it } from 'vitest';
import { KERNEL_NAMES, type Storage, type UnaryOp } from '../src/backend.js';
import { BoundsError, DisposedError } from '../src/errors.js';
import { ReferenceBackend } from '../src/reference/backend.js';
import { contiguousStrides } from '../src/shape.js';
import { createWasmBackend } from '../src/wasm/backend.js';
import { elementwiseSuites, type ElementwiseOptions } from './conformance/elementwise.js';
import { describeBuilds, expectClose, expectSameValues, maxRelError, randF32, rng, type WasmTwin } from './helpers.js';

const ULP = 2 ** -23;
const APPROX: ReadonlySet<UnaryOp> = new Set(['exp', 'log', 'tanh', 'sigmoid', 'gelu', 'silu']);

const OPTS: ElementwiseOptions = {
  unaryTol(op, alpha) {
    // The reference's gelu, 0.5 x (1 + tanh(u)) in float64, itself loses ~1e-16 absolute to
    // cancellation where tanh(u) -> -1, hence gelu's absolute floor.
    if (APPROX.has(op)) return { rtol: 1e-6, atol: op === 'gelu' ? 1e-14 : 1e-30 };
    // pow's fast paths (exponents 0, +-1, 2, 0.5) are exact.
    if (op === 'pow' && ![0, 1, 2, -1, 0.5].includes(alpha ?? NaN)) return { rtol: ULP, atol: 0 };
    return null;
  },
  binaryTol: (op) => (op === 'pow' ? { rtol: ULP, atol: 0 } : null),
  geluBackwardRtol: 1e-6,
  // Subnormal inputs (1e-45, 1e-40) and results (exp(-103), exp(-104)).
  extraEdges: { values: [1e-45, -1e-45, 1e-40, -103, -104], label: ', subnormals' },
  copyToBroadcastViews: true,
};

describe('backend coverage', () => {
  it('every kernel named in KERNEL_NAMES is a method of the reference and wasm backends', async () => {
    const backends = [new ReferenceBackend(), await createWasmBackend({ simd: 'simd128' })];
    for (const be of backends) {
      const missing = KERNEL_NAMES.filter((k) => typeof (be as unknown as Record<string, unknown>)[k] !== 'function');
      expect(missing, `${be.name} lacks kernels`).toEqual([]);
    }
  });
});

elementwiseSuites(describeBuilds, OPTS);

describeBuilds('SIMD transcendental accuracy against float64', (twin) => {
  /** Evaluates op on the wasm backend for f32 inputs xs. */
  function wasmUnary(t: WasmTwin, op: UnaryOp, xs: Float32Array): Float32Array {
    const be = t.dev;
    const x = be.alloc(xs.length * 4);
    const out = be.alloc(xs.length * 4);
    be.write(x, xs);
    be.unary({ op, x: { storage: x, offset: 0, strides: [1] }, out: { storage: out, offset: 0 }, shape: [xs.length] });
    const res = be.readSync(out, 'f32');
    be.free(x);
    be.free(out);
    return res;
  }
  function linspace(lo: number, hi: number, n: number): Float32Array {
    return Float32Array.from({ length: n }, (_, i) => lo + ((hi - lo) * i) / (n - 1));
  }
  function logspace(lo: number, hi: number, n: number): Float32Array {
    return Float32Array.from({ length: n }, (_, i) => Math.exp(Math.log(lo) + ((Math.log(hi) - Math.log(lo)) * i) / (n - 1)));
  }
  const sig64 = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
  // GELU (tanh form) in float64 without the 1 + tanh cancellation: x * sigmoid(2u).
  const C = Math.sqrt(2 / Math.PI);
  const gelu64 = (x: number) => x * sig64(2 * C * (x + 0.044715 * x * x * x));
  const report = (name: string, rel: number) => {
    if (process.env.TESSERA_ACCURACY) console.log(`accuracy ${name}: max relative error ${rel.toExponential(2)}`);
  };

  it('exp: < 1e-6 relative over the normal range, correct subnormals, inf, 0 and NaN', () => {
    const xs = Float32Array.from([...linspace(-87.3, 88.7, 40001), ...linspace(-1, 1, 2001)]);
    const got = wasmUnary(twin(), 'exp', xs);
    const { rel, at } = maxRelError(got, Array.from(xs, Math.exp));
    report('exp [-87.3, 88.7]', rel);
    expect(rel, `worst at x=${xs[at]}`).toBeLessThan(1e-6);
    const tiny = linspace(-103.9, -87.4, 2001);
    const gotTiny = wasmUnary(twin(), 'exp', tiny);
    // Subnormal results: within one subnormal ulp (2^-149) plus 1e-6 relative.
    expectClose(gotTiny, Array.from(tiny, Math.exp), 1e-6, 2 ** -149, 'exp subnormal range');
    expectSameValues(wasmUnary(twin(), 'exp', Float32Array.from([89, 1e10, Infinity, -104, -1e10, -Infinity, NaN, 0, -0])), [Infinity, Infinity, Infinity, 0, 0, 0, NaN, 1, 1]);
  });

  it('log: < 1e-6 relative from subnormals to FLT_MAX; log(0) = -inf, log(x < 0) = NaN', () => {
    const xs = Float32Array.from([...logspace(1e-45, 3.4e38, 40001), ...linspace(0.5, 2, 4001)]);
    const got = wasmUnary(twin(), 'log', xs);
    const { rel, at } = maxRelError(got, Array.from(xs, Math.log));
    report('log [1e-45, 3.4e38]', rel);
    expect(rel, `worst at x=${xs[at]}`).toBeLessThan(1e-6);
    expectSameValues(wasmUnary(twin(), 'log', Float32Array.from([0, -0, -1, -Infinity, Infinity, NaN, 1])), [-Infinity, -Infinity, NaN, NaN, Infinity, NaN, 0]);
  });

  it('tanh: < 1e-6 relative on [-20, 20] and near 0, saturating to +-1', () => {
    const xs = Float32Array.from([...linspace(-20, 20, 40001), ...linspace(-1e-3, 1e-3, 2001), ...logspace(1e-30, 1, 2001)]);
    const got = wasmUnary(twin(), 'tanh', xs);
    const { rel, at } = maxRelError(got, Array.from(xs, Math.tanh));
    report('tanh [-20, 20]', rel);
    expect(rel, `worst at x=${xs[at]}`).toBeLessThan(1e-6);
    expectSameValues(wasmUnary(twin(), 'tanh', Float32Array.from([100, -100, Infinity, -Infinity, 1e30, -0, NaN])), [1, -1, 1, -1, 1, -0, NaN]);
  });

  it('sigmoid: < 1e-6 relative on [-87, 100]; no NaN at +-100 or +-inf', () => {
    const xs = linspace(-87, 100, 40001);
    const got = wasmUnary(twin(), 'sigmoid', xs);
    const { rel, at } = maxRelError(got, Array.from(xs, sig64));
    report('sigmoid [-87, 100]', rel);
    expect(rel, `worst at x=${xs[at]}`).toBeLessThan(1e-6);
    const edge = Float32Array.from([100, -100, Infinity, -Infinity, -200]);
    expectClose(wasmUnary(twin(), 'sigmoid', edge), Array.from(edge, sig64), 1e-6, 2 ** -149, 'sigmoid edges');
  });

  it('silu: < 1e-6 relative on [-87, 100]; -inf gives NaN as x * sigmoid(x) does', () => {
    const xs = linspace(-87, 100, 40001);
    const got = wasmUnary(twin(), 'silu', xs);
    const { rel, at } = maxRelError(got, Array.from(xs, (x) => x * sig64(x)));
    report('silu [-87, 100]', rel);
    expect(rel, `worst at x=${xs[at]}`).toBeLessThan(1e-6);
    // Below -87.3 sigmoid(x) is subnormal in f32, so the product keeps |x| subnormal ulps of absolute error.
    const edge = Float32Array.from([100, -100, Infinity, -Infinity, -200, 0, -0, NaN]);
    expectClose(wasmUnary(twin(), 'silu', edge), Array.from(edge, (x) => x * sig64(x)), 1e-6, 200 * 2 ** -149, 'silu edges');
  });

  it('gelu: < 1e-6 relative on [-10, 10] against an exact float64 GELU', () => {
    const xs = Float32Array.from([...linspace(-10, 10, 40001), ...linspace(-1e-3, 1e-3, 1001)]);
    const got = wasmUnary(twin(), 'gelu', xs);
    // The error grows like |2u| * 2^-24 in the far negative tail, where gelu(x) < 1e-20.
    const { rel, at } = maxRelError(got, Array.from(xs, gelu64), 1e-20);
    report('gelu [-10, 10]', rel);
    expect(rel, `worst at x=${xs[at]}`).toBeLessThan(1e-6);
  });

  it("gelu': matches the float64 derivative to 1e-6 (relative, absolute near its root)", () => {
    const t = twin();
    const xs = Float32Array.from([...linspace(-10, 10, 20001), 0, -0]);
    const x = t.dev.alloc(xs.length * 4);
    const dy = t.dev.alloc(xs.length * 4);
    t.dev.write(x, xs);
    t.dev.write(dy, new Float32Array(xs.length).fill(1));
    t.dev.geluBackward({ x: { storage: x, offset: 0 }, dy: { storage: dy, offset: 0 }, dx: { storage: dy, offset: 0 }, n: xs.length });
    const got = t.dev.readSync(dy, 'f32');
    const h = 1e-6;
    // Exact derivative of x * sigmoid(w(x)), w = 2 C (x + 0.044715 x^3).
    const exact = Array.from(xs, (v) => {
      const w = 2 * C * (v + 0.044715 * v ** 3);
      const s = sig64(w);
      return s + v * s * (1 - s) * 2 * C * (1 + 3 * 0.044715 * v * v);
    });
    expect(Math.abs(exact[10000] - (gelu64(h) - gelu64(-h)) / (2 * h))).toBeLessThan(1e-6);
    expectClose(got, exact, 1e-6, 1e-7, "gelu' [-10, 10]");
    // Near the root at x = -0.75 the two terms of gelu' cancel; elsewhere it is relative-accurate.
    const far = maxRelError(got, exact, 0.05).rel;
    report("gelu' [-10, 10] (|g'| > 0.05)", far);
    expect(far).toBeLessThan(1e-6);
    t.dev.free(x);
    t.dev.free(dy);
  });
});

describe('plain (non-shared) memory build', () => {
  it('computes the same results as the reference', async () => {
    const wasm = await createWasmBackend({ simd: 'simd128', shared: false });
    const ref = new ReferenceBackend();
    const r = rng(81);
    const data = randF32(r, 129, -3, 3);
    const outs = [ref, wasm].map((be) => {
      const x = be.alloc(129 * 4);
      const out = be.alloc(129 * 4);
      be.write(x, data);
      be.unary({ op: 'gelu', x: { storage: x, offset: 0, strides: [1] }, out: { storage: out, offset: 0 }, shape: [129] });
      be.softmax({ x: { storage: out, offset: 0 }, out: { storage: out, offset: 0 }, rows: 3, cols: 43 });
      return be.readSync(out, 'f32');
    });
    expectClose(outs[1], outs[0], 1e-5, 1e-30, 'plain-memory gelu + softmax');
  });
});

describe('elementwise errors on the wasm backend', () => {
  it('BoundsError for views past the storage, DisposedError for freed storage; nothing written', async () => {
    const be = await createWasmBackend({ simd: 'simd128' });
    const x = be.alloc(16 * 4);
    const out = be.alloc(16 * 4);
    be.write(out, new Float32Array(16).fill(5));
    const d = (s: Storage, offset = 0) => ({ storage: s, offset });
    expect(() => be.unary({ op: 'exp', x: { ...d(x), strides: [4, 1] }, out: d(out), shape: [4, 5] })).toThrow(BoundsError);
    expect(() => be.binary({ op: 'add', a: { ...d(x), strides: [1] }, b: { ...d(x, 1), strides: [1] }, out: d(out), shape: [16] })).toThrow(BoundsError);
    expect(() => be.copy({ x: { ...d(x), strides: contiguousStrides([4, 4]) }, out: { ...d(out), strides: [8, 1] }, shape: [4, 4] })).toThrow(BoundsError);
    expect(() => be.fill({ out: d(out, 13), n: 4, value: 0, dtype: 'f32' })).toThrow(BoundsError);
    expect(() => be.geluBackward({ x: d(x), dy: d(x), dx: d(out, 1), n: 16 })).toThrow(BoundsError);
    expect(Array.from(be.readSync(out, 'f32'))).toEqual(new Array(16).fill(5));
    be.free(x);
    expect(() => be.unary({ op: 'exp', x: { ...d(x), strides: [1] }, out: d(out), shape: [4] })).toThrow(DisposedError);
    expect(() => be.where({ cond: { ...d(x), strides: [1] }, condDType: 'i32', a: { ...d(out), strides: [1] }, b: { ...d(out), strides: [1] }, out: d(out), shape: [4] })).toThrow(DisposedError);
    expect(() => be.cast({ x: { ...d(out), strides: [1] }, out: d(x), shape: [4], from: 'f32', to: 'i32' })).toThrow(DisposedError);
  });
});
