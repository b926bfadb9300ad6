// Elementwise kernel conformance: the device under test against the reference backend for
// unary, binary, where, copy, cast, fill and GELU backward, over odd sizes, offsets,
// broadcast / transposed / negative strides and edge values, plus random strided views.
//
// Ops that are exact in f32 on every backend (where, copy, cast, fill and most unary / binary
// ops) must match the reference value for value (-0 distinct from 0). How close the rest
// must be (transcendentals, pow, and on WebGPU division and sqrt) is the backend's own
// statement: `ElementwiseOptions.unaryTol` / `binaryTol`, set in each package's test file.
import { it } from 'vitest';
import { BINARY_OPS, UNARY_OPS, type BinaryOp, type UnaryOp } from '../../src/ops.js';
import { ODD_SIZES, expectClose, expectSameValues, randF32, randI32, rng } from '../checks.js';
import type { Twin, TwinBuf } from './twin.js';

/** A closeness bound (|got - ref| <= atol + rtol |ref|); null: value for value, -0 distinct from 0. */
export type Tol = { rtol: number; atol: number } | null;

export interface ElementwiseOptions {
  /** Tolerance of unary `op` (at exponent `alpha` for pow; undefined where the test passes none). */
  unaryTol(op: UnaryOp, alpha?: number): Tol;
  /** Tolerance of binary `op`. */
  binaryTol(op: BinaryOp): Tol;
  /** Relative tolerance of geluBackward (absolute floor 1e-7, as gelu' crosses zero near x = -0.75). */
  geluBackwardRtol: number;
  /** Edge inputs beyond the shared ones, and their name in the test title (wasm: subnormals). */
  extraEdges?: { values: number[]; label: string };
  /** Unary ops left out of the edge-values test (where the device may differ in the sign of zero). */
  edgeSkip?: readonly UnaryOp[];
  /**
   * x / 0 and 0 / 0 are left to the device (WGSL: division outside [2^-126, 2^126]): divisors
   * avoid 0 and div is left out of the special-values test.
   */
  divByZeroUndefined?: boolean;
  /**
   * Copies into random views with broadcast (stride 0) dims, which write one element many
   * times: deterministic only where the writes happen in order (wasm, not WebGPU).
   */
  copyToBroadcastViews: boolean;
}

/** Every op of core's op lists is tested: a new op needs only its UNARY_DOMAIN row here. */
export { BINARY_OPS, UNARY_OPS };

/** Each unary op's random test inputs: [lo, hi) in its natural domain. */
const UNARY_DOMAIN: { readonly [K in UnaryOp]: readonly [number, number] } = {
  neg: [-6, 6],
  exp: [-20, 20],
  log: [1e-3, 50],
  sqrt: [1e-3, 50],
  rsqrt: [1e-3, 50],
  tanh: [-6, 6],
  sigmoid: [-6, 6],
  relu: [-6, 6],
  gelu: [-6, 6],
  abs: [-6, 6],
  pow: [0.1, 4],
  square: [-6, 6],
  reciprocal: [-6, 6],
  sign: [-6, 6],
  step: [-6, 6],
  silu: [-10, 10],
};

/** Checks `got` against `ref` under `tol`. */
function checkTol(tol: Tol, got: Float32Array, ref: Float32Array, what: string): void {
  if (tol) expectClose(got, ref, tol.rtol, tol.atol, what);
  else expectSameValues(got, ref, what);
}

/** Inputs in each op's natural domain. */
function unaryInput(op: UnaryOp, r: () => number, n: number): Float32Array {
  const [lo, hi] = UNARY_DOMAIN[op];
  return randF32(r, n, lo, hi);
}

/** Runs unary on both backends over `shape` with x's strides/offset; returns the outputs. */
async function runUnary(t: Twin, op: UnaryOp, x: TwinBuf, strides: readonly number[], shape: number[], alpha?: number, outOffset = 2) {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = t.empty(n, outOffset);
  t.run((be, s) => be.unary({ op, x: { ...t.d(x, s), strides }, out: t.d(out, s), shape, alpha }));
  const res = await t.readAll(out, 'f32');
  t.free(out);
  return res;
}

/** The shared unary tests; call inside the backend's describe. */
export function unaryConformance(twin: () => Twin, opts: ElementwiseOptions): void {
  for (const op of UNARY_OPS) {
    it(`${op} matches the reference at odd sizes with offsets`, async () => {
      const t = twin();
      const r = rng(11);
      for (const n of [...ODD_SIZES, 1000]) {
        const x = t.upload(unaryInput(op, r, n), 5);
        const res = await runUnary(t, op, x, [1], [n], 1.7);
        checkTol(opts.unaryTol(op, 1.7), res.dev, res.ref, `${op} n=${n}`);
        t.free(x);
      }
    });
  }

  it('pow: every exponent fast path and the general path, negative bases and special values', async () => {
    const t = twin();
    const r = rng(12);
    const specials = [0, -0, 1, -1, 2, -2, 0.5, -0.5, Infinity, -Infinity, NaN, 1e-30, 1e30, -3.5];
    for (const alpha of [0, 1, 2, -1, 0.5, 3, -2, 1.7, -0.5, 0.25, 7, -3, 1e-3, 40, -1e5, 1e-30]) {
      const base = Number.isInteger(alpha) ? randF32(r, 61, -3, 3) : randF32(r, 61, 0, 3);
      const x = t.upload(Float32Array.from([...base, ...specials]), 1);
      const res = await runUnary(t, 'pow', x, [1], [x.length], alpha);
      checkTol(opts.unaryTol('pow', alpha), res.dev, res.ref, `pow alpha=${alpha}`);
      t.free(x);
    }
  });

  it('strided inputs: transposed, broadcast, negative strides, rank 0 and size 0', async () => {
    const t = twin();
    const r = rng(13);
    const x = t.upload(randF32(r, 3 * 17 * 5, -2, 2), 7);
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
        const res = await runUnary(t, op, { ...x, offset }, strides, shape);
        checkTol(opts.unaryTol(op), res.dev, res.ref, `${op} shape [${shape}] strides [${strides}]`);
      }
    }
    t.free(x);
  });

  it(`edge values: 0, -0, +-inf, NaN and huge magnitudes${opts.extraEdges?.label ?? ''}`, async () => {
    const t = twin();
    const edge = Float32Array.from([
      ...[0, -0, Infinity, -Infinity, NaN, 3e38, -3e38, 88.7, 88.8, 89, -87.3, -100, 100, 1e20, -1e20, 0.625, -0.625, 1, -1, 44.5, -44.5],
      ...(opts.extraEdges?.values ?? []),
    ]);
    const x = t.upload(edge, 3);
    for (const op of UNARY_OPS) {
      if (opts.edgeSkip?.includes(op)) continue;
      const res = await runUnary(t, op, x, [1], [edge.length], 0.5);
      checkTol(opts.unaryTol(op, 0.5), res.dev, res.ref, `${op} edge values`);
    }
    t.free(x);
  });
}

/** Values on a coarse grid so that equal pairs (for eq/le/ge) occur. */
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

/** The shared binary tests; call inside the backend's describe. */
export function binaryConformance(twin: () => Twin, opts: ElementwiseOptions): void {
  const check = (op: BinaryOp, res: { ref: Float32Array; dev: Float32Array }, what: string) => checkTol(opts.binaryTol(op), res.dev, res.ref, what);

  for (const op of BINARY_OPS) {
    it(`${op}: contiguous at odd sizes, scalar broadcast on either side, broadcast grids, transposes`, async () => {
      const t = twin();
      const r = rng(21);
      const mk = (n: number) =>
        op === 'pow' ? randF32(r, n, 0.05, 3) : op === 'div' && opts.divByZeroUndefined ? Float32Array.from(gridInput(r, n), (v) => v || 0.5) : gridInput(r, n);
      for (const n of ODD_SIZES) {
        const a = t.upload(mk(n), 3);
        const b = t.upload(mk(n), 6);
        check(op, await runBinary(t, op, a, [1], b, [1], [n]), `${op} contiguous n=${n}`);
        check(op, await runBinary(t, op, a, [1], b, [0], [n]), `${op} a + scalar b n=${n}`);
        check(op, await runBinary(t, op, a, [0], b, [1], [n]), `${op} scalar a + b n=${n}`);
        check(op, await runBinary(t, op, a, [0], b, [0], [n]), `${op} scalar + scalar n=${n}`);
        t.free(a, b);
      }
      const a = t.upload(mk(4 * 17), 2);
      const b = t.upload(mk(3 * 17), 0);
      // a: [4, 1, 17] and b: [1, 3, 17] broadcast to [4, 3, 17]
      check(op, await runBinary(t, op, a, [17, 0, 1], b, [0, 17, 1], [4, 3, 17]), `${op} [4,1,17] x [1,3,17]`);
      // a transposed [17, 4] against b's first 17 * 3 as [17, 3] broadcast columns
      check(op, await runBinary(t, op, a, [1, 17], b, [3, 0], [17, 4]), `${op} transposed a, column-broadcast b`);
      // both operands broadcast along the innermost dim, negative outer stride
      check(op, await runBinary(t, op, { ...a, offset: a.offset + 16 }, [-1, 0], b, [1, 0], [17, 9]), `${op} inner broadcast, negative stride`);
      t.free(a, b);
    });
  }

  it('max/min propagate NaN and order -0 below +0; comparisons with NaN are false (ne true)', async () => {
    const t = twin();
    const av = Float32Array.from([NaN, 1, NaN, -0, 0, Infinity, -Infinity, 2, -0, 0, 5, NaN, 3]);
    const bv = Float32Array.from([1, NaN, NaN, 0, -0, 1, -1, Infinity, -0, 0, -Infinity, 0, 3]);
    const a = t.upload(av, 1);
    const b = t.upload(bv, 2);
    for (const op of BINARY_OPS) {
      if (op === 'div' && opts.divByZeroUndefined) continue;
      check(op, await runBinary(t, op, a, [1], b, [1], [av.length]), `${op} specials`);
    }
    t.free(a, b);
  });

  it('pow: negative bases with integer exponents, zero and infinite operands', async () => {
    const t = twin();
    const av = Float32Array.from([-2, -2, -2, -0, -0, 0, 0, -Infinity, -Infinity, Infinity, 1, 1, -1, 0.5, 2, NaN, 3, -8]);
    const bv = Float32Array.from([3, 2, 0.5, -3, 3, -1, 0, 3, -2, -0.5, Infinity, NaN, Infinity, -Infinity, 1e3, 0, -200, 1 / 3]);
    const a = t.upload(av, 1);
    const b = t.upload(bv, 2);
    check('pow', await runBinary(t, 'pow', a, [1], b, [1], [av.length]), 'pow specials');
    t.free(a, b);
  });
}

/** The shared where tests; call inside the backend's describe. */
export function whereConformance(twin: () => Twin): void {
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
          expectSameValues(res.dev, res.ref, `where ${dtype} n=${n} strides ${sc}/${sa}/${sb}`);
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
    const res = await t.readAll(out, 'f32');
    expectSameValues(res.dev, res.ref, 'where 2-D broadcast');
    t.free(c, a, b, out);
  });
}

/** Copies on both backends and compares the whole destination storage bit for bit (as i32). */
async function checkCopy(t: Twin, x: TwinBuf, xs: readonly number[], out: TwinBuf, os: readonly number[], shape: number[], what: string, xOff = x.offset, oOff = out.offset) {
  t.run((be, s) => be.copy({ x: { ...t.d(x, s, xOff), strides: xs }, out: { ...t.d(out, s, oOff), strides: os }, shape }));
  const res = await t.readAll(out, 'i32');
  expectSameValues(res.dev, res.ref, what);
}

/** The shared copy tests; call inside the backend's describe. */
export function copyConformance(twin: () => Twin): void {
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
    // In-place transpose of a 7x7 matrix and a reversal.
    const m = t.upload(randI32(r, 49, 0, 1000));
    await checkCopy(t, m, [1, 7], m, [7, 1], [7, 7], 'in-place transpose');
    await checkCopy(t, m, [-1], m, [1], [49], 'in-place reversal', 48, 0);
    t.free(m);
  });
}

/** The shared cast tests; call inside the backend's describe. */
export function castConformance(twin: () => Twin): void {
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
          expectSameValues(res.dev, res.ref, `cast ${from}->${to} n=${len} stride ${strides[0]}`);
          t.free(out);
        }
      }
      t.free(f, i);
    }
  });
}

/** The shared fill tests; call inside the backend's describe. */
export function fillConformance(twin: () => Twin): void {
  it('f32 and i32 values at odd sizes and offsets, leaving neighbours untouched', async () => {
    const t = twin();
    for (const n of [...ODD_SIZES, 0]) {
      for (const [value, dtype] of [[0.1, 'f32'], [-0, 'f32'], [NaN, 'f32'], [-Infinity, 'f32'], [1e40, 'f32'], [7, 'i32'], [-3, 'i32'], [2 ** 31, 'i32']] as const) {
        const out = t.empty(n + 4, 0, 2);
        t.run((be, s) => be.fill({ out: t.d(out, s, 2), n, value, dtype }));
        const res = await t.readAll(out, 'i32');
        expectSameValues(res.dev, res.ref, `fill ${dtype} ${value} n=${n}`);
        t.free(out);
      }
    }
  });
}

/** The shared geluBackward tests; call inside the backend's describe. */
export function geluBackwardConformance(twin: () => Twin, opts: ElementwiseOptions): void {
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
      expectClose(res.dev, res.ref, opts.geluBackwardRtol, 1e-7, `geluBackward n=${n}`);
      t.free(x, dy, dx);
    }
  });
}

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

/** The shared random-view fuzz test; call inside the backend's describe. */
export function stridedViewsConformance(twin: () => Twin, opts: ElementwiseOptions): void {
  it('unary, binary, where and copy agree with the reference on 60 random views up to rank 5', async () => {
    const t = twin();
    const r = rng(71);
    const tanh = opts.unaryTol('tanh');
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
      let res = await t.readAll(out, 'f32');
      expectSameValues(res.dev, res.ref, `binary ${what}`);
      t.run((be, s) => be.unary({ op: 'tanh', x: { ...t.d(a, s, va.offset), strides: va.strides }, out: t.d(out, s), shape }));
      res = await t.readAll(out, 'f32');
      checkTol(tanh && { rtol: tanh.rtol, atol: 0 }, res.dev, res.ref, `unary ${what}`);
      // cond: b's view rounded so that about half is 0; the false branch is a broadcast scalar.
      const c = t.upload(Float32Array.from(randF32(r, vb.size), (v) => Math.round(v)), 0, 0);
      t.run((be, s) => be.where({ cond: { ...t.d(c, s, vb.offset), strides: vb.strides }, condDType: 'f32', a: { ...t.d(a, s, va.offset), strides: va.strides }, b: { ...t.d(b, s, 0), strides: shape.map(() => 0) }, out: t.d(out, s), shape }));
      res = await t.readAll(out, 'f32');
      expectSameValues(res.dev, res.ref, `where ${what}`);
      t.free(out, c);
      // a's view copied into another random view; one whose broadcast dims write one element
      // many times is deterministic only where those writes happen in order.
      if (opts.copyToBroadcastViews || vo.strides.every((st, d) => st !== 0 || shape[d] === 1)) {
        const dst = t.upload(new Float32Array(vo.size).fill(-1), 0, 0);
        t.run((be, s) => be.copy({ x: { ...t.d(a, s, va.offset), strides: va.strides }, out: { ...t.d(dst, s, vo.offset), strides: vo.strides }, shape }));
        const cres = await t.readAll(dst, 'i32');
        expectSameValues(cres.dev, cres.ref, `copy ${what} -> out strides [${vo.strides}]`);
        t.free(dst);
      }
      t.free(a, b);
    }
  });
}

/** The describe of one backend: declares `body` with that backend's twin (describeBuilds, describeGPU). */
export type DescribeTwin<T extends Twin> = (title: string, body: (twin: () => T) => void) => void;

/** Titles of the elementwise suites, for a backend's own tests to join them. */
export type ElementwiseSuite = 'unary' | 'binary' | 'where' | 'copy' | 'cast' | 'fill' | 'geluBackward' | 'random strided views (fuzz)';

/**
 * Declares every elementwise suite with `describeTwin`; `own` adds a backend's own tests to
 * the suite of that title (after the shared ones).
 */
export function elementwiseSuites<T extends Twin>(describeTwin: DescribeTwin<T>, opts: ElementwiseOptions, own: Partial<Record<ElementwiseSuite, (twin: () => T) => void>> = {}): void {
  const suites: [ElementwiseSuite, (twin: () => T) => void][] = [
    ['unary', (twin) => unaryConformance(twin, opts)],
    ['binary', (twin) => binaryConformance(twin, opts)],
    ['where', whereConformance],
    ['copy', copyConformance],
    ['cast', castConformance],
    ['fill', fillConformance],
    ['geluBackward', (twin) => geluBackwardConformance(twin, opts)],
    ['random strided views (fuzz)', (twin) => stridedViewsConformance(twin, opts)],
  ];
  for (const [title, shared] of suites) {
    describeTwin(title, (twin) => {
      shared(twin);
      own[title]?.(twin);
    });
  }
}
