// Elementwise kernels of the WebGPU backend against the reference backend: unary, binary,
// where, copy, cast, fill, random and GELU backward, over odd sizes, offsets, broadcast /
// transposed / negative strides, aliasing and edge values.
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
import { KERNEL_NAMES, type BinaryOp, type UnaryOp } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { WebGPUBackend } from '../src/index.js';
import { ODD_SIZES, describeGPU, expectClose, expectSameValues, randF32, randI32, rng, type Twin, type TwinBuf } from './helpers.js';

const UNARY_OPS: readonly UnaryOp[] = ['neg', 'exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'sigmoid', 'relu', 'gelu', 'abs', 'pow', 'square', 'reciprocal', 'sign', 'step'];
const BINARY_OPS: readonly BinaryOp[] = ['add', 'sub', 'mul', 'div', 'max', 'min', 'pow', 'eq', 'ne', 'lt', 'le', 'gt', 'ge'];
const TRANSCENDENTAL: ReadonlySet<string> = new Set(['exp', 'log', 'tanh', 'sigmoid', 'gelu', 'pow']);
const ROUNDED: ReadonlySet<string> = new Set(['sqrt', 'rsqrt', 'reciprocal', 'div']);
const RTOL_TRANSCENDENTAL = 2e-6;
const RTOL_GELU = 1e-5;
const RTOL_ROUNDED = 1e-6;

function unaryInput(op: UnaryOp, r: () => number, n: number): Float32Array {
  if (op === 'log' || op === 'sqrt' || op === 'rsqrt') return randF32(r, n, 1e-3, 50);
  if (op === 'exp') return randF32(r, n, -20, 20);
  if (op === 'pow') return randF32(r, n, 0.1, 4);
  return randF32(r, n, -6, 6);
}

async function runUnary(t: Twin, op: UnaryOp, x: TwinBuf, strides: readonly number[], shape: number[], alpha?: number, outOffset = 2) {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = t.empty(n, outOffset);
  t.run((be, s) => be.unary({ op, x: { ...t.d(x, s), strides }, out: t.d(out, s), shape, alpha }));
  const res = await t.readAll(out, 'f32');
  t.free(out);
  return res;
}

function checkOp(op: string, got: Float32Array, ref: Float32Array, what: string): void {
  // gelu: the reference's 0.5 x (1 + tanh(u)) in float64 is 0 where tanh(u) rounds to -1
  // (x < -5.4), while the exact value (and ours) is ~1e-17 or smaller: covered by the floor.
  if (op === 'gelu') expectClose(got, ref, RTOL_GELU, 1e-20, what);
  else if (TRANSCENDENTAL.has(op)) expectClose(got, ref, RTOL_TRANSCENDENTAL, 1e-30, what);
  else if (ROUNDED.has(op)) expectClose(got, ref, RTOL_ROUNDED, 0, what);
  else expectSameValues(got, ref, what);
}

describe('backend coverage', () => {
  it('every kernel named in KERNEL_NAMES is a method of WebGPUBackend', () => {
    const missing = KERNEL_NAMES.filter((k) => typeof (WebGPUBackend.prototype as unknown as Record<string, unknown>)[k] !== 'function');
    expect(missing).toEqual([]);
  });
});

describeGPU('unary', (twin) => {
  it('every op matches the reference at odd sizes with offsets', async () => {
    const t = twin();
    const r = rng(11);
    for (const op of UNARY_OPS) {
      for (const n of [...ODD_SIZES, 1000]) {
        const x = t.upload(unaryInput(op, r, n), 5);
        const res = await runUnary(t, op, x, [1], [n], 1.7);
        checkOp(op, res.gpu, res.ref, `${op} n=${n}`);
        t.free(x);
      }
    }
  });

  it('pow: integer, half and general exponents, negative bases and special values', async () => {
    const t = twin();
    const r = rng(12);
    const specials = [0, -0, 1, -1, 2, -2, 0.5, -0.5, Infinity, -Infinity, NaN, 1e-30, 1e30, -3.5];
    for (const alpha of [0, 1, 2, -1, 0.5, 3, -2, 1.7, -0.5, 0.25, 7, -3, 1e-3, 40, -1e5, 1e-30]) {
      const base = Number.isInteger(alpha) ? randF32(r, 61, -3, 3) : randF32(r, 61, 0, 3);
      const x = t.upload(Float32Array.from([...base, ...specials]), 1);
      const res = await runUnary(t, 'pow', x, [1], [x.length], alpha);
      checkOp('pow', res.gpu, res.ref, `pow alpha=${alpha}`);
      t.free(x);
    }
  });

  it('strided inputs: transposed, broadcast, negative strides, rank 0 and size 0', async () => {
    const t = twin();
    const r = rng(13);
    const x = t.upload(randF32(r, 3 * 17 * 5, -2, 2), 7);
    const cases: [number[], number[], number][] = [
      [[3, 17, 5], [85, 5, 1], 7],
      [[5, 17, 3], [1, 5, 85], 7],
      [[17, 3, 5], [5, 85, 1], 7],
      [[3, 4, 17, 5], [85, 0, 5, 1], 7],
      [[3, 17, 5], [85, 5, 0], 7],
      [[17, 5], [-5, -1], 7 + 84],
      [[63], [4], 7],
      [[], [], 9],
      [[4, 0, 3], [1, 1, 1], 7],
    ];
    for (const op of ['exp', 'neg'] as const) {
      for (const [shape, strides, offset] of cases) {
        const res = await runUnary(t, op, { ...x, offset }, strides, shape);
        checkOp(op, res.gpu, res.ref, `${op} shape [${shape}] strides [${strides}]`);
      }
    }
    t.free(x);
  });

  it('edge values: 0, -0, +-inf, NaN and huge magnitudes', async () => {
    const t = twin();
    // Subnormal inputs and results are left out: WGSL lets devices flush them to zero.
    const edge = Float32Array.from([0, -0, Infinity, -Infinity, NaN, 3e38, -3e38, 88.7, 88.8, 89, -87.3, -100, 100, 1e20, -1e20, 0.625, -0.625, 1, -1, 44.5, -44.5]);
    const x = t.upload(edge, 3);
    for (const op of UNARY_OPS) {
      if (op === 'sqrt' || op === 'rsqrt') continue; // sqrt(-0) / 1/sqrt(-0): the sign of zero is the device's
      const res = await runUnary(t, op, x, [1], [edge.length], 0.5);
      checkOp(op, res.gpu, res.ref, `${op} edge values`);
    }
    t.free(x);
  });

  it('in place (out = x) and out overlapping a shifted x (x is read before any write)', async () => {
    const t = twin();
    const r = rng(14);
    const buf = t.upload(randF32(r, 70, -2, 2), 4);
    t.run((be, s) => be.unary({ op: 'tanh', x: { ...t.d(buf, s), strides: [1] }, out: t.d(buf, s), shape: [63] }));
    let res = await t.readAll(buf, 'f32');
    expectClose(res.gpu, res.ref, RTOL_TRANSCENDENTAL, 0, 'tanh in place');
    // out one element after x: on the reference, a sequential loop reads x[i] before writing
    // out[i] = x[i + 1]; the snapshot makes the GPU agree.
    t.run((be, s) => be.unary({ op: 'neg', x: { ...t.d(buf, s, 5), strides: [1] }, out: t.d(buf, s, 4), shape: [60] }));
    res = await t.readAll(buf, 'f32');
    expectClose(res.gpu, res.ref, RTOL_TRANSCENDENTAL, 0, 'neg shifted by one');
    t.free(buf);
  });
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
    t.gpu.unary({ op, x: { ...t.d(x, 'gpu'), strides: [1] }, out: t.d(out, 'gpu'), shape: [xs.length] });
    const got = await t.gpu.read(out.gpu, 'f32', 0, xs.length);
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

describeGPU('binary', (twin) => {
  function gridInput(r: () => number, n: number): Float32Array {
    return Float32Array.from(randF32(r, n, -3, 3), (v) => Math.round(v * 4) / 4);
  }
  async function runBinary(t: Twin, op: BinaryOp, a: TwinBuf, sa: readonly number[], b: TwinBuf, sb: readonly number[], shape: number[]) {
    const n = shape.reduce((x, y) => x * y, 1);
    const out = t.empty(n, 1);
    t.run((be, s) => be.binary({ op, a: { ...t.d(a, s), strides: sa }, b: { ...t.d(b, s), strides: sb }, out: t.d(out, s), shape }));
    const res = await t.readAll(out, 'f32');
    t.free(out);
    return res;
  }

  it('every op: contiguous at odd sizes, scalar broadcast on either side, broadcast grids, transposes', async () => {
    const t = twin();
    const r = rng(21);
    for (const op of BINARY_OPS) {
      const mk = (n: number) => (op === 'pow' ? randF32(r, n, 0.05, 3) : op === 'div' ? Float32Array.from(gridInput(r, n), (v) => v || 0.5) : gridInput(r, n));
      for (const n of ODD_SIZES) {
        const a = t.upload(mk(n), 3);
        const b = t.upload(mk(n), 6);
        const cc = await runBinary(t, op, a, [1], b, [1], [n]);
        checkOp(op, cc.gpu, cc.ref, `${op} contiguous n=${n}`);
        const sb = await runBinary(t, op, a, [1], b, [0], [n]);
        checkOp(op, sb.gpu, sb.ref, `${op} a + scalar b n=${n}`);
        const sa = await runBinary(t, op, a, [0], b, [1], [n]);
        checkOp(op, sa.gpu, sa.ref, `${op} scalar a + b n=${n}`);
        t.free(a, b);
      }
      const a = t.upload(mk(4 * 17), 2);
      const b = t.upload(mk(3 * 17), 0);
      const grid = await runBinary(t, op, a, [17, 0, 1], b, [0, 17, 1], [4, 3, 17]);
      checkOp(op, grid.gpu, grid.ref, `${op} [4,1,17] x [1,3,17]`);
      const tr = await runBinary(t, op, a, [1, 17], b, [3, 0], [17, 4]);
      checkOp(op, tr.gpu, tr.ref, `${op} transposed a, column-broadcast b`);
      const neg = await runBinary(t, op, { ...a, offset: a.offset + 16 }, [-1, 0], b, [1, 0], [17, 9]);
      checkOp(op, neg.gpu, neg.ref, `${op} inner broadcast, negative stride`);
      t.free(a, b);
    }
  });

  it('max/min propagate NaN and order -0 below +0; comparisons with NaN are false (ne true)', async () => {
    const t = twin();
    const av = Float32Array.from([NaN, 1, NaN, -0, 0, Infinity, -Infinity, 2, -0, 0, 5, NaN, 3]);
    const bv = Float32Array.from([1, NaN, NaN, 0, -0, 1, -1, Infinity, -0, 0, -Infinity, 0, 3]);
    const a = t.upload(av, 1);
    const b = t.upload(bv, 2);
    for (const op of BINARY_OPS) {
      if (op === 'div') continue; // x / 0 and 0 / 0: WGSL leaves division outside [2^-126, 2^126] to the device
      const res = await runBinary(t, op, a, [1], b, [1], [av.length]);
      checkOp(op, res.gpu, res.ref, `${op} specials`);
    }
    t.free(a, b);
  });

  it('pow: negative bases with integer exponents, zero and infinite operands', async () => {
    const t = twin();
    const av = Float32Array.from([-2, -2, -2, -0, -0, 0, 0, -Infinity, -Infinity, Infinity, 1, 1, -1, 0.5, 2, NaN, 3, -8]);
    const bv = Float32Array.from([3, 2, 0.5, -3, 3, -1, 0, 3, -2, -0.5, Infinity, NaN, Infinity, -Infinity, 1e3, 0, -200, 1 / 3]);
    const a = t.upload(av, 1);
    const b = t.upload(bv, 2);
    const res = await runBinary(t, 'pow', a, [1], b, [1], [av.length]);
    checkOp('pow', res.gpu, res.ref, 'pow specials');
    t.free(a, b);
  });

  it('in place: out = a + b with out aliasing a (one binding for both)', async () => {
    const t = twin();
    const r = rng(22);
    const a = t.upload(randF32(r, 129), 2);
    const b = t.upload(randF32(r, 129), 1);
    t.run((be, s) => be.binary({ op: 'add', a: { ...t.d(a, s), strides: [1] }, b: { ...t.d(b, s), strides: [1] }, out: t.d(a, s), shape: [129] }));
    const res = await t.readAll(a, 'f32');
    expectSameValues(res.gpu, res.ref, 'a += b');
    t.free(a, b);
  });
});

describeGPU('where', (twin) => {
  it('f32 and i32 conditions (-0 false, NaN true), broadcast and strided operands, odd sizes', async () => {
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
          const res = await t.readAll(out, 'f32');
          expectSameValues(res.gpu, res.ref, `where ${dtype} n=${n} strides ${sc}/${sa}/${sb}`);
          t.free(out);
        }
        t.free(c);
      }
      t.free(a, b);
    }
    const c = t.upload(Float32Array.from([1, 0, 1, 1, 0]));
    const a = t.upload(randF32(r, 35));
    const b = t.upload(randF32(r, 7));
    const out = t.empty(35);
    t.run((be, s) => be.where({ cond: { ...t.d(c, s), strides: [1, 0] }, condDType: 'f32', a: { ...t.d(a, s), strides: [1, 5] }, b: { ...t.d(b, s), strides: [0, 1] }, out: t.d(out, s), shape: [5, 7] }));
    const res = await t.readAll(out, 'f32');
    expectSameValues(res.gpu, res.ref, 'where 2-D broadcast');
    t.free(c, a, b, out);
  });
});

describeGPU('copy', (twin) => {
  async function checkCopy(t: Twin, x: TwinBuf, xs: readonly number[], out: TwinBuf, os: readonly number[], shape: number[], what: string, xOff = x.offset, oOff = out.offset) {
    t.run((be, s) => be.copy({ x: { ...t.d(x, s, xOff), strides: xs }, out: { ...t.d(out, s, oOff), strides: os }, shape }));
    const res = await t.readAll(out, 'i32');
    expectSameValues(res.gpu, res.ref, what);
  }

  it('contiguous, gather, scatter, broadcast and negative strides at odd sizes', async () => {
    const t = twin();
    const r = rng(41);
    for (const n of ODD_SIZES) {
      const x = t.upload(randI32(r, 2 * n, -1e9, 1e9), 3);
      const outs = [t.empty(n, 2), t.empty(n, 1), t.empty(3 * n, 1), t.empty(n, 1), t.empty(n), t.empty(n)];
      await checkCopy(t, x, [1], outs[0], [1], [n], `contiguous n=${n}`);
      await checkCopy(t, x, [2], outs[1], [1], [n], `gather stride 2 n=${n}`);
      await checkCopy(t, x, [1], outs[2], [3], [n], `scatter stride 3 n=${n}`);
      await checkCopy(t, x, [0], outs[3], [1], [n], `broadcast n=${n}`);
      await checkCopy(t, x, [-1], outs[4], [1], [n], `reversed n=${n}`, x.offset + n - 1);
      await checkCopy(t, x, [1], outs[5], [-1], [n], `reversed out n=${n}`, x.offset, n - 1);
      t.free(x, ...outs);
    }
    const x = t.upload(randI32(r, 6 * 17, -5, 5));
    const outs = [t.empty(6 * 17, 1), t.empty(6 * 17), t.empty(2 * 6 * 17), t.empty(10 * 17), t.empty(3)];
    await checkCopy(t, x, [1, 6], outs[0], [17, 1], [6, 17], 'transpose');
    await checkCopy(t, x, [17, 1], outs[1], [1, 6], [6, 17], 'transposed out');
    await checkCopy(t, x, [0, 17, 1], outs[2], [102, 17, 1], [2, 6, 17], 'broadcast leading dim');
    await checkCopy(t, x, [17, 1], outs[3], [34, 2], [3, 17], 'strided out leaves gaps untouched');
    await checkCopy(t, x, [], outs[4], [], [], 'rank 0');
    t.free(x, ...outs);
  });

  it('keeps NaN payloads and -0 bit for bit', async () => {
    const t = twin();
    const bits = Int32Array.from([0x7fc00001, 0xffc00000 | 0, 0x80000000 | 0, 0x7f800001, 1, -1, 0x7fffffff]);
    const x = t.upload(bits, 1);
    const out = t.empty(bits.length);
    await checkCopy(t, x, [1], out, [1], [bits.length], 'bit patterns');
    t.free(x, out);
  });

  it('overlapping source and destination behave as if x were read before out is written', async () => {
    const t = twin();
    const r = rng(42);
    for (const shift of [1, -1, 4, -5, 0]) {
      const buf = t.upload(randI32(r, 80, 0, 1000), 8);
      await checkCopy(t, buf, [1], buf, [1], [63], `shift ${shift}`, 8, 8 + shift);
      t.free(buf);
    }
    const m = t.upload(randI32(r, 49, 0, 1000));
    await checkCopy(t, m, [1, 7], m, [7, 1], [7, 7], 'in-place transpose');
    await checkCopy(t, m, [-1], m, [1], [49], 'in-place reversal', 48, 0);
    t.free(m);
  });
});

describeGPU('cast', (twin) => {
  it('f32 -> i32 truncates toward zero, saturates, NaN -> 0; i32 -> f32 rounds to nearest even; same-dtype copies', async () => {
    const t = twin();
    const r = rng(51);
    const edge = Float32Array.from([0, -0, 0.5, -0.5, 1.9, -1.9, 2.5, -2.5, 1e10, -1e10, 3e9, 2147483520, -2147483648, Infinity, -Infinity, NaN, 7, -7]);
    for (const n of ODD_SIZES) {
      const f = t.upload(Float32Array.from([...edge, ...randF32(r, n, -1e6, 1e6)]), 3);
      const i = t.upload(Int32Array.from([2147483647, -2147483648, 16777217, -16777217, 16777219, 33554435, 123456789, ...randI32(r, n, -2e9, 2e9)]), 2);
      for (const [x, from, to] of [[f, 'f32', 'i32'], [i, 'i32', 'f32'], [f, 'f32', 'f32'], [i, 'i32', 'i32']] as const) {
        for (const strides of [[1], [2], [0]]) {
          const len = strides[0] === 2 ? Math.floor((x.length + 1) / 2) : x.length;
          const out = t.empty(len, 1);
          t.run((be, s) => be.cast({ x: { ...t.d(x, s), strides }, out: t.d(out, s), shape: [len], from, to }));
          const res = await t.readAll(out, to);
          expectSameValues(res.gpu, res.ref, `cast ${from}->${to} n=${len} stride ${strides[0]}`);
          t.free(out);
        }
      }
      t.free(f, i);
    }
  });
});

describeGPU('fill', (twin) => {
  it('f32 and i32 values at odd sizes and offsets, leaving neighbours untouched', async () => {
    const t = twin();
    for (const n of [...ODD_SIZES, 0]) {
      for (const [value, dtype] of [[0.1, 'f32'], [-0, 'f32'], [NaN, 'f32'], [-Infinity, 'f32'], [1e40, 'f32'], [7, 'i32'], [-3, 'i32'], [2 ** 31, 'i32']] as const) {
        const out = t.empty(n + 4, 0, 2);
        t.run((be, s) => be.fill({ out: t.d(out, s, 2), n, value, dtype }));
        const res = await t.readAll(out, 'i32');
        expectSameValues(res.gpu, res.ref, `fill ${dtype} ${value} n=${n}`);
        t.free(out);
      }
    }
  });
});

describeGPU('random', (twin) => {
  const SEEDS = [0, 42, -1, 2 ** 31 - 1, 0x9e3779b9];
  // Counters past 2^32 wrap, as `| 0` does in src/random.ts.
  const COUNTERS = [0, 5, 2 ** 32 - 3, 2 ** 40 + 7];
  async function draw(t: Twin, dist: 'uniform' | 'normal', n: number, seed: number, counter: number, offset = 3) {
    const out = t.empty(n, offset);
    t.run((be, s) => be.random({ out: t.d(out, s), n, seed, counter, dist }));
    const res = await t.readAll(out, 'f32');
    t.free(out);
    return res;
  }

  it('uniform reproduces src/random.ts bit for bit at odd sizes, seeds and counters', async () => {
    const t = twin();
    for (const n of [...ODD_SIZES, 1000]) {
      for (const seed of SEEDS) for (const counter of COUNTERS) {
        const res = await draw(t, 'uniform', n, seed, counter);
        expectSameValues(res.gpu, res.ref, `uniform n=${n} seed=${seed} counter=${counter}`);
      }
    }
  });

  // Box-Muller: sqrt(-2 log u1) cos(2 pi u2) with this package's log and a quadrant-folded
  // cos, against float64 libm: |z| <= 5.8, so 1e-6 absolute is ~2e-7 relative.
  it('normal matches src/random.ts within 1e-6 absolute', async () => {
    const t = twin();
    for (const n of [...ODD_SIZES, 5000]) {
      for (const seed of SEEDS) for (const counter of COUNTERS) {
        const res = await draw(t, 'normal', n, seed, counter);
        expectClose(res.gpu, res.ref, 0, 1e-6, `normal n=${n} seed=${seed} counter=${counter}`);
      }
    }
  });

  it('element i depends only on (seed, counter + i): split draws equal one draw', async () => {
    const t = twin();
    for (const dist of ['uniform', 'normal'] as const) {
      const whole = (await draw(t, dist, 129, 7, 1000)).gpu;
      const a = (await draw(t, dist, 50, 7, 1000, 0)).gpu;
      const b = (await draw(t, dist, 79, 7, 1050, 0)).gpu;
      expectSameValues(whole.subarray(3, 3 + 129), [...a.subarray(0, 50), ...b.subarray(0, 79)], `${dist} split`);
    }
  });
});

describeGPU('geluBackward', (twin) => {
  it('matches the reference at odd sizes with offsets', async () => {
    const t = twin();
    const r = rng(61);
    for (const n of [...ODD_SIZES, 1000]) {
      const x = t.upload(randF32(r, n, -5, 5), 1);
      const dy = t.upload(randF32(r, n, -2, 2), 3);
      const dx = t.empty(n, 2);
      t.run((be, s) => be.geluBackward({ x: t.d(x, s), dy: t.d(dy, s), dx: t.d(dx, s), n }));
      const res = await t.readAll(dx, 'f32');
      // Absolute floor: gelu' crosses zero near x = -0.75, where relative error is meaningless.
      expectClose(res.gpu, res.ref, RTOL_GELU, 1e-7, `geluBackward n=${n}`);
      t.free(x, dy, dx);
    }
  });
});

describeGPU('random strided views (fuzz)', (twin) => {
  function randomView(r: () => number, shape: number[]): { strides: number[]; offset: number; size: number } {
    const perm = shape.map((_, i) => i).sort(() => r() - 0.5);
    const strides = new Array<number>(shape.length).fill(0);
    let s = 1;
    for (const d of perm) {
      if (r() < 0.2) continue;
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

  it('binary, where and copy agree with the reference on 30 random views up to rank 5', async () => {
    const t = twin();
    const r = rng(71);
    for (let trial = 0; trial < 30; trial++) {
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
      let res = await t.readAll(out, 'f32');
      expectSameValues(res.gpu, res.ref, `binary ${what}`);
      const c = t.upload(Float32Array.from(randF32(r, vb.size), (v) => Math.round(v)), 0, 0);
      t.run((be, s) => be.where({ cond: { ...t.d(c, s, vb.offset), strides: vb.strides }, condDType: 'f32', a: { ...t.d(a, s, va.offset), strides: va.strides }, b: { ...t.d(b, s, 0), strides: shape.map(() => 0) }, out: t.d(out, s), shape }));
      res = await t.readAll(out, 'f32');
      expectSameValues(res.gpu, res.ref, `where ${what}`);
      t.free(out, c);
      // Copies into a random view; a view with broadcast (0-stride) dims writes one element many
      // times, which is only deterministic when all those writes carry the same value, so such
      // destinations are skipped here.
      if (vo.strides.every((st, d) => st !== 0 || shape[d] === 1)) {
        const dst = t.upload(new Float32Array(vo.size).fill(-1), 0, 0);
        t.run((be, s) => be.copy({ x: { ...t.d(a, s, va.offset), strides: va.strides }, out: { ...t.d(dst, s, vo.offset), strides: vo.strides }, shape }));
        const cres = await t.readAll(dst, 'i32');
        expectSameValues(cres.gpu, cres.ref, `copy ${what} -> out strides [${vo.strides}]`);
        t.free(dst);
      }
      t.free(a, b);
    }
  });
});

