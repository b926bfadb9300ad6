// Elementwise kernels of the wasm backend (both builds) against the reference backend:
// unary, binary, where, copy, cast, fill and GELU backward, over odd sizes, offsets,
// broadcast / transposed / negative strides and edge values; plus the accuracy of the
// SIMD transcendental approximations against float64.
//
// Tolerances: ops that are exact in f32 (neg, abs, relu, sign, step, square, sqrt, rsqrt,
// reciprocal, + - * /, max, min, comparisons, where, copy, cast, fill) must match the
// reference value for value (-0 distinct from 0). pow is computed in float64 and must be
// within 1 f32 ulp (rtol 2^-23). exp, log, tanh, sigmoid, gelu and gelu' are polynomial
// approximations: rtol 1e-6 (measured worst errors are listed in the accuracy tests).
import { describe, expect, it } from 'vitest';
import { KERNEL_NAMES, type BinaryOp, type Storage, type UnaryOp } from '../src/backend.js';
import { BoundsError, DisposedError } from '../src/errors.js';
import { ReferenceBackend } from '../src/reference/backend.js';
import { contiguousStrides } from '../src/shape.js';
import { createWasmBackend } from '../src/wasm/backend.js';
import { ODD_SIZES, describeBuilds, expectClose, expectSameValues, maxRelError, randF32, randI32, rng, type Twin, type TwinBuf } from './helpers.js';

const ULP = 2 ** -23;
const APPROX: ReadonlySet<UnaryOp> = new Set(['exp', 'log', 'tanh', 'sigmoid', 'gelu']);
const UNARY_OPS: readonly UnaryOp[] = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'sigmoid', 'relu', 'gelu', 'abs', 'pow', 'square', 'reciprocal', 'sign', 'step'];
const BINARY_OPS: readonly BinaryOp[] = ['add', 'sub', 'mul', 'div', 'max', 'min', 'pow', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'];

/** Inputs in each op's natural domain. */
function unaryInput(op: UnaryOp, r: () => number, n: number): Float32Array {
  if (op === 'log' || op === 'sqrt' || op === 'rsqrt') return randF32(r, n, 1e-3, 50);
  if (op === 'exp') return randF32(r, n, -20, 20);
  return randF32(r, n, -6, 6);
}

/** Runs unary on both backends over `shape` with x's strides/offset; returns the outputs. */
function runUnary(t: Twin, op: UnaryOp, x: TwinBuf, strides: readonly number[], shape: number[], alpha?: number, outOffset = 2) {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = t.empty(n, outOffset);
  t.run((be, s) => be.unary({ op, x: { ...t.d(x, s), strides }, out: t.d(out, s), shape, alpha }));
  const res = t.readAll(out, 'f32');
  t.free(out);
  return res;
}

function checkUnary(op: UnaryOp, got: Float32Array, ref: Float32Array, what: string, alpha?: number): void {
  // The reference's gelu, 0.5 x (1 + tanh(u)) in float64, itself loses ~1e-16 absolute to
  // cancellation where tanh(u) -> -1, hence gelu's absolute floor.
  if (APPROX.has(op)) expectClose(got, ref, 1e-6, op === 'gelu' ? 1e-14 : 1e-30, what);
  else if (op === 'pow' && ![0, 1, 2, -1, 0.5].includes(alpha ?? NaN)) expectClose(got, ref, ULP, 0, what);
  else expectSameValues(got, ref, what);
}

describe('backend coverage', () => {
  it('every kernel named in KERNEL_NAMES is a method of the reference and wasm backends', async () => {
    const backends = [new ReferenceBackend(), await createWasmBackend({ simd: 'simd128' })];
    for (const be of backends) {
      const missing = KERNEL_NAMES.filter((k) => typeof (be as unknown as Record<string, unknown>)[k] !== 'function');
      expect(missing, `${be.name} lacks kernels`).toEqual([]);
    }
  });
});

describeBuilds('unary', (twin) => {
  for (const op of UNARY_OPS) {
    it(`${op} matches the reference at odd sizes with offsets`, () => {
      const t = twin();
      const r = rng(11);
      for (const n of [...ODD_SIZES, 1000]) {
        const x = t.upload(op === 'pow' ? randF32(r, n, 0.1, 4) : unaryInput(op, r, n), 5);
        const res = runUnary(t, op, x, [1], [n], 1.7);
        checkUnary(op, res.wasm, res.ref, `${op} n=${n}`, 1.7);
        t.free(x);
      }
    });
  }

  it('pow: every exponent fast path and the general path, negative bases and special values', () => {
    const t = twin();
    const r = rng(12);
    const specials = [0, -0, 1, -1, 2, -2, 0.5, -0.5, Infinity, -Infinity, NaN, 1e-30, 1e30, -3.5];
    for (const alpha of [0, 1, 2, -1, 0.5, 3, -2, 1.7, -0.5, 0.25, 7, -3, 1e-3, 40, -1e5, 1e-30]) {
      const base = Number.isInteger(alpha) ? randF32(r, 61, -3, 3) : randF32(r, 61, 0, 3);
      const x = t.upload(Float32Array.from([...base, ...specials]), 1);
      const res = runUnary(t, 'pow', x, [1], [x.length], alpha);
      checkUnary('pow', res.wasm, res.ref, `pow alpha=${alpha}`, alpha);
      t.free(x);
    }
  });

  it('strided inputs: transposed, broadcast, negative strides, rank 0 and size 0', () => {
    const t = twin();
    const r = rng(13);
    const data = randF32(r, 3 * 17 * 5, -2, 2);
    const x = t.upload(data, 7);
    const cases: [number[], number[], number][] = [
      [[3, 17, 5], [85, 5, 1], 7], // contiguous: one flat row
      [[5, 17, 3], [1, 5, 85], 7], // fully transposed: gathers
      [[17, 3, 5], [5, 85, 1], 7], // permuted outer dims, contiguous rows
      [[3, 4, 17, 5], [85, 0, 5, 1], 7], // broadcast middle dim
      [[3, 17, 5], [85, 5, 0], 7], // broadcast innermost: one value per row
      [[17, 5], [-5, -1], 7 + 84], // negative strides
      [[63], [4], 7], // stride 4 inside the buffer
      [[], [], 9], // rank 0: one element
      [[4, 0, 3], [1, 1, 1], 7], // size 0: nothing written
    ];
    for (const op of ['exp', 'gelu', 'neg', 'rsqrt', 'sign'] as const) {
      for (const [shape, strides, offset] of cases) {
        const res = runUnary(t, op, { ...x, offset }, strides, shape);
        checkUnary(op, res.wasm, res.ref, `${op} shape [${shape}] strides [${strides}]`);
      }
    }
    t.free(x);
  });

  it('edge values: 0, -0, +-inf, NaN, subnormals and huge magnitudes', () => {
    const t = twin();
    const edge = Float32Array.from([0, -0, Infinity, -Infinity, NaN, 1e-45, -1e-45, 1e-40, 3e38, -3e38, 88.7, 88.8, 89, -87.3, -103, -104, 100, -100, 1e20, -1e20, 0.625, -0.625, 1, -1]);
    const x = t.upload(edge, 3);
    for (const op of UNARY_OPS) {
      const res = runUnary(t, op, x, [1], [edge.length], 0.5);
      checkUnary(op, res.wasm, res.ref, `${op} edge values`, 0.5);
    }
    t.free(x);
  });
});

describeBuilds('SIMD transcendental accuracy against float64', (twin) => {
  /** Evaluates op on the wasm backend for f32 inputs xs. */
  function wasmUnary(t: Twin, op: UnaryOp, xs: Float32Array): Float32Array {
    const be = t.wasm;
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
    const x = t.wasm.alloc(xs.length * 4);
    const dy = t.wasm.alloc(xs.length * 4);
    t.wasm.write(x, xs);
    t.wasm.write(dy, new Float32Array(xs.length).fill(1));
    t.wasm.geluBackward({ x: { storage: x, offset: 0 }, dy: { storage: dy, offset: 0 }, dx: { storage: dy, offset: 0 }, n: xs.length });
    const got = t.wasm.readSync(dy, 'f32');
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
    t.wasm.free(x);
    t.wasm.free(dy);
  });
});

describeBuilds('binary', (twin) => {
  /** Values on a coarse grid so that equal pairs (for eq/le/ge) occur. */
  function gridInput(r: () => number, n: number): Float32Array {
    return Float32Array.from(randF32(r, n, -3, 3), (v) => Math.round(v * 4) / 4);
  }
  function runBinary(t: Twin, op: BinaryOp, a: TwinBuf, sa: readonly number[], b: TwinBuf, sb: readonly number[], shape: number[]) {
    const n = shape.reduce((x, y) => x * y, 1);
    const out = t.empty(n, 1);
    t.run((be, s) => be.binary({ op, a: { ...t.d(a, s), strides: sa }, b: { ...t.d(b, s), strides: sb }, out: t.d(out, s), shape }));
    const res = t.readAll(out, 'f32');
    t.free(out);
    return res;
  }
  function check(op: BinaryOp, res: { ref: Float32Array; wasm: Float32Array }, what: string) {
    if (op === 'pow') expectClose(res.wasm, res.ref, ULP, 0, what);
    else expectSameValues(res.wasm, res.ref, what);
  }

  for (const op of BINARY_OPS) {
    it(`${op}: contiguous at odd sizes, scalar broadcast on either side, broadcast grids, transposes`, () => {
      const t = twin();
      const r = rng(21);
      const mk = (n: number) => (op === 'pow' ? randF32(r, n, 0.05, 3) : gridInput(r, n));
      for (const n of ODD_SIZES) {
        const a = t.upload(mk(n), 3);
        const b = t.upload(mk(n), 6);
        check(op, runBinary(t, op, a, [1], b, [1], [n]), `${op} contiguous n=${n}`);
        check(op, runBinary(t, op, a, [1], b, [0], [n]), `${op} a + scalar b n=${n}`);
        check(op, runBinary(t, op, a, [0], b, [1], [n]), `${op} scalar a + b n=${n}`);
        check(op, runBinary(t, op, a, [0], b, [0], [n]), `${op} scalar + scalar n=${n}`);
        t.free(a, b);
      }
      const a = t.upload(mk(4 * 17), 2);
      const b = t.upload(mk(3 * 17), 0);
      // a: [4, 1, 17] and b: [1, 3, 17] broadcast to [4, 3, 17]
      check(op, runBinary(t, op, a, [17, 0, 1], b, [0, 17, 1], [4, 3, 17]), `${op} [4,1,17] x [1,3,17]`);
      // a transposed [17, 4] against b's first 17 * 3 as [17, 3] broadcast columns
      check(op, runBinary(t, op, a, [1, 17], b, [3, 0], [17, 4]), `${op} transposed a, column-broadcast b`);
      // both operands broadcast along the innermost dim, negative outer stride
      check(op, runBinary(t, op, { ...a, offset: a.offset + 16 }, [-1, 0], b, [1, 0], [17, 9]), `${op} inner broadcast, negative stride`);
      t.free(a, b);
    });
  }

  it('max/min propagate NaN and order -0 below +0; comparisons with NaN are false (ne true)', () => {
    const t = twin();
    const av = Float32Array.from([NaN, 1, NaN, -0, 0, Infinity, -Infinity, 2, -0, 0, 5, NaN, 3]);
    const bv = Float32Array.from([1, NaN, NaN, 0, -0, 1, -1, Infinity, -0, 0, -Infinity, 0, 3]);
    const a = t.upload(av, 1);
    const b = t.upload(bv, 2);
    for (const op of BINARY_OPS) check(op, runBinary(t, op, a, [1], b, [1], [av.length]), `${op} specials`);
    t.free(a, b);
  });

  it('pow: negative bases with integer exponents, zero and infinite operands', () => {
    const t = twin();
    const av = Float32Array.from([-2, -2, -2, -0, -0, 0, 0, -Infinity, -Infinity, Infinity, 1, 1, -1, 0.5, 2, NaN, 3, -8]);
    const bv = Float32Array.from([3, 2, 0.5, -3, 3, -1, 0, 3, -2, -0.5, Infinity, NaN, Infinity, -Infinity, 1e3, 0, -200, 1 / 3]);
    const a = t.upload(av, 1);
    const b = t.upload(bv, 2);
    check('pow', runBinary(t, 'pow', a, [1], b, [1], [av.length]), 'pow specials');
    t.free(a, b);
  });
});

describeBuilds('where', (twin) => {
  it('f32 and i32 conditions, broadcast and strided operands, odd sizes', () => {
    const t = twin();
    const r = rng(31);
    for (const n of ODD_SIZES) {
      const condF = Float32Array.from(randF32(r, n), (v, i) => [0, -0, NaN, v][i % 4]);
      const condI = randI32(r, n, -1, 2);
      const a = t.upload(randF32(r, n), 2);
      const b = t.upload(randF32(r, n), 4);
      for (const [cond, dtype] of [[condF, 'f32'], [condI, 'i32']] as const) {
        const c = t.upload(cond, 1);
        for (const [sc, sa, sb] of [[[1], [1], [1]], [[1], [0], [1]], [[0], [1], [1]], [[1], [1], [0]]]) {
          const out = t.empty(n, 3);
          t.run((be, s) => be.where({ cond: { ...t.d(c, s), strides: sc }, condDType: dtype, a: { ...t.d(a, s), strides: sa }, b: { ...t.d(b, s), strides: sb }, out: t.d(out, s), shape: [n] }));
          const res = t.readAll(out, 'f32');
          expectSameValues(res.wasm, res.ref, `where ${dtype} n=${n} strides ${sc}/${sa}/${sb}`);
          t.free(out);
        }
        t.free(c);
      }
      t.free(a, b);
    }
    // 2-D: cond [5, 1] broadcast over columns, a transposed, b a row vector.
    const c = t.upload(Float32Array.from([1, 0, 1, 1, 0]));
    const a = t.upload(randF32(r, 35));
    const b = t.upload(randF32(r, 7));
    const out = t.empty(35);
    t.run((be, s) => be.where({ cond: { ...t.d(c, s), strides: [1, 0] }, condDType: 'f32', a: { ...t.d(a, s), strides: [1, 5] }, b: { ...t.d(b, s), strides: [0, 1] }, out: t.d(out, s), shape: [5, 7] }));
    const res = t.readAll(out, 'f32');
    expectSameValues(res.wasm, res.ref, 'where 2-D broadcast');
    t.free(c, a, b, out);
  });
});

describeBuilds('copy', (twin) => {
  /** Copies on both backends and compares the whole destination storage bit for bit (as i32). */
  function checkCopy(t: Twin, x: TwinBuf, xs: readonly number[], out: TwinBuf, os: readonly number[], shape: number[], what: string, xOff = x.offset, oOff = out.offset) {
    t.run((be, s) => be.copy({ x: { ...t.d(x, s, xOff), strides: xs }, out: { ...t.d(out, s, oOff), strides: os }, shape }));
    const res = t.readAll(out, 'i32');
    expectSameValues(res.wasm, res.ref, what);
  }

  it('contiguous, gather, scatter, broadcast and negative strides at odd sizes', () => {
    const t = twin();
    const r = rng(41);
    for (const n of ODD_SIZES) {
      const x = t.upload(randI32(r, 2 * n, -1e9, 1e9), 3);
      checkCopy(t, x, [1], t.empty(n, 2), [1], [n], `contiguous n=${n}`);
      checkCopy(t, x, [2], t.empty(n, 1), [1], [n], `gather stride 2 n=${n}`);
      checkCopy(t, x, [1], t.empty(3 * n, 1), [3], [n], `scatter stride 3 n=${n}`);
      checkCopy(t, x, [0], t.empty(n, 1), [1], [n], `broadcast n=${n}`);
      checkCopy(t, x, [-1], t.empty(n), [1], [n], `reversed n=${n}`, x.offset + n - 1);
      checkCopy(t, x, [1], t.empty(n), [-1], [n], `reversed out n=${n}`, x.offset, n - 1);
    }
    const x = t.upload(randI32(r, 6 * 17, -5, 5));
    checkCopy(t, x, [1, 6], t.empty(6 * 17, 1), [17, 1], [6, 17], 'transpose');
    checkCopy(t, x, [17, 1], t.empty(6 * 17), [1, 6], [6, 17], 'transposed out');
    checkCopy(t, x, [0, 17, 1], t.empty(2 * 6 * 17), [102, 17, 1], [2, 6, 17], 'broadcast leading dim');
    checkCopy(t, x, [17, 1], t.empty(10 * 17), [34, 2], [3, 17], 'strided out leaves gaps untouched');
    checkCopy(t, x, [], t.empty(3), [], [], 'rank 0');
  });

  it('keeps NaN payloads and -0 bit for bit', () => {
    const t = twin();
    const bits = Int32Array.from([0x7fc00001, 0xffc00000 | 0, 0x80000000 | 0, 0x7f800001, 1, -1, 0x7fffffff]);
    const x = t.upload(bits, 1);
    checkCopy(t, x, [1], t.empty(bits.length), [1], [bits.length], 'bit patterns');
  });

  it('overlapping source and destination behave as if x were read before out is written', () => {
    const t = twin();
    const r = rng(42);
    for (const shift of [1, -1, 4, -5, 0]) {
      const buf = t.upload(randI32(r, 80, 0, 1000), 8);
      checkCopy(t, buf, [1], buf, [1], [63], `shift ${shift}`, 8, 8 + shift);
    }
    // In-place transpose of a 7x7 matrix and a reversal.
    const m = t.upload(randI32(r, 49, 0, 1000));
    checkCopy(t, m, [1, 7], m, [7, 1], [7, 7], 'in-place transpose');
    checkCopy(t, m, [-1], m, [1], [49], 'in-place reversal', 48, 0);
  });
});

describeBuilds('cast', (twin) => {
  it('f32 -> i32 truncates toward zero, saturates, NaN -> 0; i32 -> f32 rounds; same-dtype copies', () => {
    const t = twin();
    const r = rng(51);
    const edge = Float32Array.from([0, -0, 0.5, -0.5, 1.9, -1.9, 2.5, -2.5, 1e10, -1e10, 3e9, 2147483520, -2147483648, Infinity, -Infinity, NaN, 7, -7]);
    for (const n of ODD_SIZES) {
      const f = t.upload(Float32Array.from([...edge, ...randF32(r, n, -1e6, 1e6)]), 3);
      const i = t.upload(Int32Array.from([2147483647, -2147483648, 16777217, -16777217, 123456789, ...randI32(r, n, -2e9, 2e9)]), 2);
      for (const [x, from, to] of [[f, 'f32', 'i32'], [i, 'i32', 'f32'], [f, 'f32', 'f32'], [i, 'i32', 'i32']] as const) {
        for (const strides of [[1], [2], [0]]) {
          const len = strides[0] === 2 ? Math.floor((x.length + 1) / 2) : x.length;
          const out = t.empty(len, 1);
          t.run((be, s) => be.cast({ x: { ...t.d(x, s), strides }, out: t.d(out, s), shape: [len], from, to }));
          const res = t.readAll(out, to);
          expectSameValues(res.wasm, res.ref, `cast ${from}->${to} n=${len} stride ${strides[0]}`);
          t.free(out);
        }
      }
      t.free(f, i);
    }
  });
});

describeBuilds('fill', (twin) => {
  it('f32 and i32 values at odd sizes and offsets, leaving neighbours untouched', () => {
    const t = twin();
    for (const n of [...ODD_SIZES, 0]) {
      for (const [value, dtype] of [[0.1, 'f32'], [-0, 'f32'], [NaN, 'f32'], [-Infinity, 'f32'], [1e40, 'f32'], [7, 'i32'], [-3, 'i32'], [2 ** 31, 'i32']] as const) {
        const out = t.empty(n + 4, 0, 2);
        t.run((be, s) => be.fill({ out: t.d(out, s, 2), n, value, dtype }));
        const res = t.readAll(out, 'i32');
        expectSameValues(res.wasm, res.ref, `fill ${dtype} ${value} n=${n}`);
        t.free(out);
      }
    }
  });
});

describeBuilds('geluBackward', (twin) => {
  it('matches the reference at odd sizes with offsets', () => {
    const t = twin();
    const r = rng(61);
    for (const n of [...ODD_SIZES, 1000]) {
      const x = t.upload(randF32(r, n, -5, 5), 1);
      const dy = t.upload(randF32(r, n, -2, 2), 3);
      const dx = t.empty(n, 2);
      t.run((be, s) => be.geluBackward({ x: t.d(x, s), dy: t.d(dy, s), dx: t.d(dx, s), n }));
      const res = t.readAll(dx, 'f32');
      // Absolute floor: gelu' crosses zero near x = -0.75, where relative error is meaningless.
      expectClose(res.wasm, res.ref, 1e-6, 1e-7, `geluBackward n=${n}`);
      t.free(x, dy, dx);
    }
  });
});

describeBuilds('random strided views (fuzz)', (twin) => {
  /** A random view of `shape` inside a buffer: permuted dims, some broadcast, some reversed. */
  function randomView(r: () => number, shape: number[]): { strides: number[]; offset: number; size: number } {
    const perm = shape.map((_, i) => i).sort(() => r() - 0.5);
    const strides = new Array<number>(shape.length).fill(0);
    let s = 1;
    for (const d of perm) {
      if (r() < 0.2) continue; // broadcast dim
      strides[d] = s * (r() < 0.3 ? 2 : 1);
      s *= shape[d] * (strides[d] / s);
    }
    let offset = 1 + Math.floor(r() * 3);
    for (let d = 0; d < shape.length; d++) {
      if (strides[d] !== 0 && r() < 0.25) {
        offset += strides[d] * (shape[d] - 1);
        strides[d] = -strides[d];
      }
    }
    return { strides, offset, size: offset + s + 2 };
  }

  it('unary, binary, where and copy agree with the reference on 60 random views up to rank 5', () => {
    const t = twin();
    const r = rng(71);
    for (let trial = 0; trial < 60; trial++) {
      const rank = 1 + Math.floor(r() * 5);
      const shape = Array.from({ length: rank }, () => [1, 2, 3, 4, 5, 7, 17][Math.floor(r() * 7)]);
      const n = shape.reduce((a, b) => a * b, 1);
      const va = randomView(r, shape);
      const vb = randomView(r, shape);
      const vo = randomView(r, shape);
      const a = t.upload(randF32(r, va.size), 0, 0);
      const b = t.upload(randF32(r, vb.size), 0, 0);
      const what = `shape [${shape}] a strides [${va.strides}] b strides [${vb.strides}]`;
      const out = t.empty(n, 1);
      t.run((be, s) => be.binary({ op: 'sub', a: { ...t.d(a, s, va.offset), strides: va.strides }, b: { ...t.d(b, s, vb.offset), strides: vb.strides }, out: t.d(out, s), shape }));
      let res = t.readAll(out, 'f32');
      expectSameValues(res.wasm, res.ref, `binary ${what}`);
      t.run((be, s) => be.unary({ op: 'tanh', x: { ...t.d(a, s, va.offset), strides: va.strides }, out: t.d(out, s), shape }));
      res = t.readAll(out, 'f32');
      expectClose(res.wasm, res.ref, 1e-6, 0, `unary ${what}`);
      // cond: b's view rounded so that about half is 0; the false branch is a broadcast scalar.
      const c = t.upload(Float32Array.from(randF32(r, vb.size), (v) => Math.round(v)), 0, 0);
      t.run((be, s) => be.where({ cond: { ...t.d(c, s, vb.offset), strides: vb.strides }, condDType: 'f32', a: { ...t.d(a, s, va.offset), strides: va.strides }, b: { ...t.d(b, s, 0), strides: shape.map(() => 0) }, out: t.d(out, s), shape }));
      res = t.readAll(out, 'f32');
      expectSameValues(res.wasm, res.ref, `where ${what}`);
      t.free(out, c);
      // a's view copied into another random view (whose broadcast dims write one element repeatedly).
      const dst = t.upload(new Float32Array(vo.size).fill(-1), 0, 0);
      t.run((be, s) => be.copy({ x: { ...t.d(a, s, va.offset), strides: va.strides }, out: { ...t.d(dst, s, vo.offset), strides: vo.strides }, shape }));
      const cres = t.readAll(dst, 'i32');
      expectSameValues(cres.wasm, cres.ref, `copy ${what} -> out strides [${vo.strides}]`);
      t.free(a, b, dst);
    }
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
