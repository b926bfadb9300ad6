/**
 * Elementwise kernels: unary, binary, where, copy, cast, fill, random and
 * geluBackward. One invocation per output element, 256 per workgroup, over a
 * 2-D grid; strided inputs are walked with coalesced shape/stride parameters
 * (a shader per op and rank). Results agree with the reference's scalar
 * definitions (src/reference/elementwise.ts in core) including NaN, +-0 and
 * infinity handling; transcendentals use the WGSL math in ../wgsl/math.ts.
 */

import type { BinaryOp, BinaryParams, CastParams, CopyParams, FillParams, GeluBackwardParams, RandomParams, UnaryOp, UnaryParams, WhereParams } from '@tessera/core';
import { grid2d, type GpuContext } from '../runtime/context.js';
import type { Params } from '../runtime/layout.js';
import { bufferOf } from '../storage.js';
import { ENTRY_ARGS, GLOBAL_ID, MATH_WGSL } from '../wgsl/math.js';
import { coalesce, denseView, snapshotOverlaps, stridedIndexWGSL, stridedParams, stridedView, type View } from './strided.js';

const WG = 256;

const UNARY: Record<UnaryOp, string> = {
  neg: '-x',
  exp: 't_exp(x)',
  log: 't_log(x)',
  sqrt: 'select(sqrt(x), f_nan(), x < 0.0)',
  rsqrt: 'select(1.0 / sqrt(x), f_nan(), x < 0.0)',
  tanh: 't_tanh(x)',
  sigmoid: 't_sigmoid(x)',
  relu: 'select(0.0, x, !is_nan(x) && x > 0.0)',
  gelu: 't_gelu(x)',
  abs: 'bitcast<f32>(bitcast<u32>(x) & 0x7fffffffu)',
  pow: 't_pow(x, P.alpha)',
  square: 'x * x',
  reciprocal: '1.0 / x',
  sign: 'select(select(select(x, -1.0, x < 0.0), 1.0, x > 0.0), x, is_nan(x))',
  step: 'select(0.0, 1.0, !is_nan(x) && x > 0.0)',
  silu: 'x * t_sigmoid(x)',
};

const BINARY: Record<BinaryOp, string> = {
  add: 'a + b',
  sub: 'a - b',
  mul: 'a * b',
  div: 'a / b',
  max: 'nmax(a, b)',
  min: 'nmin(a, b)',
  pow: 't_pow(a, b)',
  // NaN is tested from the bits: compilers are free to pick ordered or unordered comparisons.
  eq: 'select(0.0, 1.0, !nan2(a, b) && a == b)',
  ne: 'select(0.0, 1.0, nan2(a, b) || a != b)',
  lt: 'select(0.0, 1.0, !nan2(a, b) && a < b)',
  le: 'select(0.0, 1.0, !nan2(a, b) && a <= b)',
  gt: 'select(0.0, 1.0, !nan2(a, b) && a > b)',
  ge: 'select(0.0, 1.0, !nan2(a, b) && a >= b)',
};

/**
 * Runs `body` (WGSL computing the output at `o_out` from the views' offsets
 * `o_<name>`) over `shape`. `out` is the last view; inputs overlapping it are
 * snapshotted first.
 */
function stridedKernel(ctx: GpuContext, key: string, shape: readonly number[], inputs: View[], out: View, outStrided: boolean, body: string, extra: Params = {}): void {
  let n = 1;
  for (const d of shape) n *= d;
  if (n === 0) return;
  const scratch = snapshotOverlaps(ctx, inputs, out, shape);
  const views = [...inputs, out];
  const dims = coalesce(shape, views);
  const names = (outStrided ? views : inputs).map((v) => v.name);
  const params: Params = { ...stridedParams(dims, views, n), ...extra };
  ctx.dispatch({
    key: `${key}/r${dims.length}${outStrided ? 's' : 'd'}`,
    operands: views.map((v) => ({ name: v.name, buffer: v.buffer, write: v === out })),
    params,
    groups: grid2d(Math.ceil(n / WG)),
    wgsl: (decls) => `${decls}
${MATH_WGSL}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let gi = ${GLOBAL_ID(WG)};
  if (gi >= P.n) { return; }
  ${stridedIndexWGSL(dims.length, names)}
  ${outStrided ? '' : `let o_out = i32(P.out_o + gi);`}
  ${body}
}`,
  });
  for (const b of scratch) ctx.storagePool.release(b);
}

export function unary(ctx: GpuContext, p: UnaryParams): void {
  const extra: Params = p.op === 'pow' ? { alpha: ['f32', p.alpha ?? NaN] } : {};
  stridedKernel(ctx, `unary.${p.op}`, p.shape, [stridedView('x', p.x)], denseView('out', p.out, p.shape), false, `let x = x_f(o_x);\n  out_sf(o_out, ${UNARY[p.op]});`, extra);
}

export function binary(ctx: GpuContext, p: BinaryParams): void {
  stridedKernel(
    ctx,
    `binary.${p.op}`,
    p.shape,
    [stridedView('a', p.a), stridedView('b', p.b)],
    denseView('out', p.out, p.shape),
    false,
    `let a = a_f(o_a);\n  let b = b_f(o_b);\n  out_sf(o_out, ${BINARY[p.op]});`,
  );
}

export function where(ctx: GpuContext, p: WhereParams): void {
  // A condition is true when its bits are non-zero (i32), or non-zero ignoring the sign (f32: -0 is false, NaN true).
  const test = p.condDType === 'f32' ? '(c & 0x7fffffffu) != 0u' : 'c != 0u';
  stridedKernel(
    ctx,
    `where.${p.condDType}`,
    p.shape,
    [stridedView('cond', p.cond), stridedView('a', p.a), stridedView('b', p.b)],
    denseView('out', p.out, p.shape),
    false,
    `let c = cond_u(o_cond);\n  out_su(o_out, select(b_u(o_b), a_u(o_a), ${test}));`,
  );
}

export function copy(ctx: GpuContext, p: CopyParams): void {
  stridedKernel(ctx, 'copy', p.shape, [stridedView('x', p.x)], stridedView('out', p.out), true, 'out_su(o_out, x_u(o_x));');
}

export function cast(ctx: GpuContext, p: CastParams): void {
  let body = 'out_su(o_out, x_u(o_x));';
  if (p.from === 'f32' && p.to === 'i32') body = 'out_si(o_out, f2i(x_f(o_x)));';
  else if (p.from === 'i32' && p.to === 'f32') body = 'out_sf(o_out, i2f(x_i(o_x)));';
  stridedKernel(ctx, `cast.${p.from}.${p.to}`, p.shape, [stridedView('x', p.x)], denseView('out', p.out, p.shape), false, body);
}

/** Dense 1-D kernel over n elements: `body` uses `i` (the element index, i32). */
function denseKernel(ctx: GpuContext, key: string, n: number, operands: { name: string; buffer: GPUBuffer; write?: boolean }[], params: Params, body: string): void {
  if (n === 0) return;
  ctx.dispatch({
    key,
    operands,
    params: { n: ['u32', n], ...params },
    groups: grid2d(Math.ceil(n / WG)),
    wgsl: (decls) => `${decls}
${MATH_WGSL}
@compute @workgroup_size(${WG})
fn main(${ENTRY_ARGS}) {
  let gi = ${GLOBAL_ID(WG)};
  if (gi >= P.n) { return; }
  let i = i32(gi);
  ${body}
}`,
  });
}

export function fill(ctx: GpuContext, p: FillParams): void {
  const bits = p.dtype === 'i32' ? new Uint32Array(Int32Array.of(p.value).buffer)[0] : new Uint32Array(Float32Array.of(p.value).buffer)[0];
  denseKernel(ctx, 'fill', p.n, [{ name: 'out', buffer: bufferOf(p.out.storage), write: true }], { out_o: ['u32', p.out.offset], bits: ['u32', bits] }, 'out_su(i32(P.out_o) + i, P.bits);');
}

export function random(ctx: GpuContext, p: RandomParams): void {
  // seed and counter + i enter the hash modulo 2^32, as `| 0` does in src/random.ts.
  const draw = p.dist === 'uniform' ? 'uniform_at(P.seed, P.counter + gi)' : 'normal_at(P.seed, P.counter + gi)';
  denseKernel(
    ctx,
    `random.${p.dist}`,
    p.n,
    [{ name: 'out', buffer: bufferOf(p.out.storage), write: true }],
    { out_o: ['u32', p.out.offset], seed: ['u32', p.seed], counter: ['u32', p.counter % 2 ** 32] },
    `out_sf(i32(P.out_o) + i, ${draw});`,
  );
}

export function geluBackward(ctx: GpuContext, p: GeluBackwardParams): void {
  denseKernel(
    ctx,
    'geluBackward',
    p.n,
    [
      { name: 'x', buffer: bufferOf(p.x.storage) },
      { name: 'dy', buffer: bufferOf(p.dy.storage) },
      { name: 'dx', buffer: bufferOf(p.dx.storage), write: true },
    ],
    { x_o: ['u32', p.x.offset], dy_o: ['u32', p.dy.offset], dx_o: ['u32', p.dx.offset] },
    'dx_sf(i32(P.dx_o) + i, dy_f(i32(P.dy_o) + i) * t_gelu_grad(x_f(i32(P.x_o) + i)));',
  );
}
