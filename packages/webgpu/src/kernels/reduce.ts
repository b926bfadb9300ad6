/**
 * Reductions over the middle axis of [outer, axisLen, inner], and row-wise
 * (log-)softmax with its backward.
 *
 * reduce has two shapes of work: a contiguous axis (inner = 1) of >= 64
 * elements gets one workgroup per output (strided partials, then a tree);
 * otherwise each invocation owns one output and walks the axis (adjacent
 * invocations read adjacent elements when inner > 1). Sums are Kahan-
 * compensated, so the result does not depend on how long each walk is.
 * max/min/argmax/argmin keep the first extreme and let the first NaN win, as
 * the reference does.
 *
 * softmax is one workgroup per row: a max pass, a sum of exp(x - max) pass and
 * a write pass. An optional causal mask (used by attention) limits row r of
 * each [tq, tk] block to its first r + tk - tq + 1 entries and writes zeros
 * after them.
 */

import type { ReduceOp, ReduceParams, SoftmaxBackwardParams, SoftmaxParams } from '@tessera/core';
import { grid2d, type GpuContext } from '../runtime/context.js';
import { bufferOf } from '../storage.js';
import { ENTRY_ARGS, GLOBAL_ID, MATH_WGSL } from '../wgsl/math.js';
import { KAHAN_WGSL, ROW_ID, rowKernelWGSL, rowReduceWGSL, rowWorkgroup } from '../wgsl/rows.js';

const COL_WG = 256;

/** WGSL deciding whether candidate (bv, bi) beats the current best (av, ai); ai < 0 means none yet. */
function betterWGSL(op: ReduceOp): string {
  const cmp = op === 'max' || op === 'argmax' ? '>' : '<';
  return `fn better(av: f32, ai: i32, bv: f32, bi: i32) -> bool {
  if (bi < 0) { return false; }
  if (ai < 0) { return true; }
  if (is_nan(av)) { return is_nan(bv) && bi < ai; }
  if (is_nan(bv)) { return true; }
  if (bv ${cmp} av) { return true; }
  return bv == av && bi < ai;
}`;
}

function resultWGSL(op: ReduceOp): string {
  if (op === 'sum') return 'out_sf(oi, s);';
  if (op === 'mean') return 'out_sf(oi, select(s / f32(P.len), f_nan(), P.len == 0u));';
  if (op === 'argmax' || op === 'argmin') return 'out_si(oi, bi);';
  return 'out_sf(oi, bv);';
}

export function reduce(ctx: GpuContext, p: ReduceParams): void {
  const { outer, axisLen, inner, op } = p;
  const nOut = outer * inner;
  if (nOut === 0) return;
  const isSum = op === 'sum' || op === 'mean';
  const operands = [
    { name: 'x', buffer: bufferOf(p.x.storage) },
    { name: 'out', buffer: bufferOf(p.out.storage), write: true },
  ];
  const params = {
    x_o: ['u32', p.x.offset],
    out_o: ['u32', p.out.offset],
    outer: ['u32', outer],
    len: ['u32', axisLen],
    inner: ['u32', inner],
  } as const satisfies Record<string, ['u32', number]>;
  if (inner === 1 && axisLen >= 64) {
    const wg = rowWorkgroup(axisLen);
    const fold = isSum
      ? `var acc = vec2<f32>(0.0);
  for (var a = lid.x; a < P.len; a = a + RWG) { acc = kahan(acc, x_f(base + i32(a))); }
  let s = wg_sum(acc.x, lid.x);`
      : `var bv = 0.0;
  var bi = -1;
  for (var a = lid.x; a < P.len; a = a + RWG) {
    let v = x_f(base + i32(a));
    if (better(bv, bi, v, i32(a))) { bv = v; bi = i32(a); }
  }
  tv[lid.x] = bv;
  ti[lid.x] = bi;
  workgroupBarrier();
  for (var s = RWG / 2u; s > 0u; s = s >> 1u) {
    if (lid.x < s && better(tv[lid.x], ti[lid.x], tv[lid.x + s], ti[lid.x + s])) {
      tv[lid.x] = tv[lid.x + s];
      ti[lid.x] = ti[lid.x + s];
    }
    workgroupBarrier();
  }
  bv = tv[0];
  bi = ti[0];`;
    ctx.dispatch({
      key: `reduce.row.${op}.${wg}`,
      operands,
      params: { ...params },
      groups: grid2d(outer),
      wgsl: (decls) => `${decls}
${MATH_WGSL}
${rowReduceWGSL(wg)}
${isSum ? '' : `${betterWGSL(op)}\nvar<workgroup> tv: array<f32, ${wg}>;\nvar<workgroup> ti: array<i32, ${wg}>;`}
@compute @workgroup_size(${wg})
fn main(${ENTRY_ARGS}) {
  let o = ${ROW_ID};
  if (o >= P.outer) { return; }
  let base = i32(P.x_o + o * P.len);
  ${fold}
  if (lid.x == 0u) {
    let oi = i32(P.out_o + o);
    ${resultWGSL(op)}
  }
}`,
    });
    return;
  }
  const fold = isSum
    ? `var acc = vec2<f32>(0.0);
  for (var a = 0u; a < P.len; a = a + 1u) { acc = kahan(acc, x_f(base + i32(a * P.inner))); }
  let s = acc.x;`
    : `var bv = 0.0;
  var bi = -1;
  for (var a = 0u; a < P.len; a = a + 1u) {
    let v = x_f(base + i32(a * P.inner));
    if (is_nan(bv) && bi >= 0) { break; }
    if (better(bv, bi, v, i32(a))) { bv = v; bi = i32(a); }
  }`;
  ctx.dispatch({
    key: `reduce.col.${op}`,
    operands,
    params: { ...params, n: ['u32', nOut] },
    groups: grid2d(Math.ceil(nOut / COL_WG)),
    wgsl: (decls) => `${decls}
${MATH_WGSL}
${KAHAN_WGSL}
${isSum ? '' : betterWGSL(op)}
@compute @workgroup_size(${COL_WG})
fn main(${ENTRY_ARGS}) {
  let gi = ${GLOBAL_ID(COL_WG)};
  if (gi >= P.n) { return; }
  let o = gi / P.inner;
  let i = gi % P.inner;
  let base = i32(P.x_o + o * P.len * P.inner + i);
  ${fold}
  let oi = i32(P.out_o + gi);
  ${resultWGSL(op)}
}`,
  });
}

/** Options of the row softmax beyond the public kernel: attention's causal mask. */
export interface SoftmaxMask {
  /** Rows per head block (tq). */
  tq: number;
  /** tk - tq: query r of a block sees keys j <= r + shift. */
  shift: number;
}

/** Row-wise (log-)softmax over buffers; `mask` applies attention's causal limit. */
export function encodeSoftmax(
  ctx: GpuContext,
  x: { buffer: GPUBuffer; offset: number },
  out: { buffer: GPUBuffer; offset: number },
  rows: number,
  cols: number,
  log: boolean,
  mask: SoftmaxMask | null,
): void {
  if (rows === 0 || cols === 0) return;
  const wg = rowWorkgroup(cols);
  ctx.dispatch({
    key: `softmax.${log ? 'log' : 'exp'}${mask ? '.causal' : ''}.${wg}`,
    operands: [
      { name: 'x', buffer: x.buffer },
      { name: 'out', buffer: out.buffer, write: true },
    ],
    params: {
      x_o: ['u32', x.offset],
      out_o: ['u32', out.offset],
      rows: ['u32', rows],
      cols: ['u32', cols],
      tq: ['u32', mask?.tq ?? 1],
      shift: ['u32', mask?.shift ?? 0],
    },
    groups: grid2d(rows),
    wgsl: (decls) =>
      rowKernelWGSL(
        decls,
        wg,
        `  let xb = i32(P.x_o + r * P.cols);
  let ob = i32(P.out_o + r * P.cols);
  let valid = ${mask ? 'min(P.cols, r % P.tq + P.shift + 1u)' : 'P.cols'};
  var m = -f_inf();
  for (var c = lid.x; c < valid; c = c + RWG) { m = nmax(m, x_f(xb + i32(c))); }
  m = wg_max(m, lid.x);
  // A row without a finite max (all -inf, or +inf present) is shifted by 0 so it yields NaN honestly.
  if (!is_finite(m) && !is_nan(m)) { m = 0.0; }
  // sum = k + q: k entries equal to the max contribute exactly 1 each, q the rest. For
  // log-softmax, log(k + q) = log(k) + log1p(q / k) keeps log-probabilities near 0 accurate.
  var acc = vec2<f32>(0.0);
  var k = 0.0;
  for (var c = lid.x; c < valid; c = c + RWG) {
    let v = x_f(xb + i32(c));
    if (v == m) { k = k + 1.0; } else { acc = kahan(acc, t_exp(v - m)); }
  }
  let q = wg_sum(acc.x, lid.x);
  let kk = wg_sum(k, lid.x);
  let s = kk + q;
  ${log ? 'let lse = select(t_log(kk) + t_log1p(q / kk), t_log(q), kk == 0.0);' : ''}
  for (var c = lid.x; c < valid; c = c + RWG) {
    let v = x_f(xb + i32(c));
    out_sf(ob + i32(c), ${log ? '(v - m) - lse' : 't_exp(v - m) / s'});
  }
  for (var c = valid + lid.x; c < P.cols; c = c + RWG) { out_sf(ob + i32(c), 0.0); }`,
      ),
  });
}

export function softmax(ctx: GpuContext, p: SoftmaxParams): void {
  encodeSoftmax(ctx, { buffer: bufferOf(p.x.storage), offset: p.x.offset }, { buffer: bufferOf(p.out.storage), offset: p.out.offset }, p.rows, p.cols, p.log ?? false, null);
}

/**
 * Row-wise softmax backward over buffers, times `scale`:
 * softmax: dx = scale * y * (dy - sum(dy * y)); log-softmax: dx = scale * (dy - exp(y) * sum(dy)).
 */
export function encodeSoftmaxBackward(
  ctx: GpuContext,
  y: { buffer: GPUBuffer; offset: number },
  dy: { buffer: GPUBuffer; offset: number },
  dx: { buffer: GPUBuffer; offset: number },
  rows: number,
  cols: number,
  log: boolean,
  scale: number,
): void {
  if (rows === 0 || cols === 0) return;
  const wg = rowWorkgroup(cols);
  ctx.dispatch({
    key: `softmaxBackward.${log ? 'log' : 'exp'}.${wg}`,
    operands: [
      { name: 'y', buffer: y.buffer },
      { name: 'dy', buffer: dy.buffer },
      { name: 'dx', buffer: dx.buffer, write: true },
    ],
    params: {
      y_o: ['u32', y.offset],
      dy_o: ['u32', dy.offset],
      dx_o: ['u32', dx.offset],
      rows: ['u32', rows],
      cols: ['u32', cols],
      scale: ['f32', scale],
    },
    groups: grid2d(rows),
    wgsl: (decls) =>
      rowKernelWGSL(
        decls,
        wg,
        `  let yb = i32(P.y_o + r * P.cols);
  let gb = i32(P.dy_o + r * P.cols);
  let xb = i32(P.dx_o + r * P.cols);
  var acc = vec2<f32>(0.0);
  for (var c = lid.x; c < P.cols; c = c + RWG) {
    acc = kahan(acc, ${log ? 'dy_f(gb + i32(c))' : 'dy_f(gb + i32(c)) * y_f(yb + i32(c))'});
  }
  let s = wg_sum(acc.x, lid.x);
  for (var c = lid.x; c < P.cols; c = c + RWG) {
    let g = dy_f(gb + i32(c));
    let yv = y_f(yb + i32(c));
    dx_sf(xb + i32(c), P.scale * ${log ? '(g - t_exp(yv) * s)' : '(yv * (g - s))'});
  }`,
      ),
  });
}

export function softmaxBackward(ctx: GpuContext, p: SoftmaxBackwardParams): void {
  encodeSoftmaxBackward(
    ctx,
    { buffer: bufferOf(p.y.storage), offset: p.y.offset },
    { buffer: bufferOf(p.dy.storage), offset: p.dy.offset },
    { buffer: bufferOf(p.dx.storage), offset: p.dx.offset },
    p.rows,
    p.cols,
    p.log ?? false,
    1,
  );
}
