/**
 * LayerNorm over rows of [rows, cols].
 *
 * Forward: one workgroup per row; a first mean m0, then a pass over
 * e = x - m0 giving the mean correction m1 = mean(e) and the variance
 * mean(e^2) - m1^2 (no E[x^2] - E[x]^2 cancellation, m1 ~ 0), then the
 * normalised row ((x - m0) - m1) * rstd * gamma + beta. The two-part mean
 * keeps x - mean accurate when |mean| >> std, which one f32 mean cannot.
 *
 * Backward: dgamma/dbeta are column sums over rows (one invocation per column,
 * compensated sums, added into the existing values); dx is per row (one
 * workgroup per row, two row sums). The column pass runs first so that dx may
 * overwrite dy or x in place.
 */

import type { LayerNormBackwardParams, LayerNormParams } from '@tessera/core';
import { grid2d, type GpuContext } from '../runtime/context.js';
import { bufferOf } from '../storage.js';
import { ENTRY_ARGS, GLOBAL_ID, MATH_WGSL } from '../wgsl/math.js';
import { KAHAN_WGSL, rowKernelWGSL, rowWorkgroup } from '../wgsl/rows.js';

const COL_WG = 64;

export function layerNorm(ctx: GpuContext, p: LayerNormParams): void {
  const { rows, cols } = p;
  if (rows === 0) return;
  const wg = rowWorkgroup(cols);
  ctx.dispatch({
    key: `layerNorm.${wg}`,
    operands: [
      { name: 'x', buffer: bufferOf(p.x.storage) },
      { name: 'gamma', buffer: bufferOf(p.gamma.storage) },
      { name: 'beta', buffer: bufferOf(p.beta.storage) },
      { name: 'out', buffer: bufferOf(p.out.storage), write: true },
      { name: 'mean', buffer: bufferOf(p.mean.storage), write: true },
      { name: 'rstd', buffer: bufferOf(p.rstd.storage), write: true },
    ],
    params: {
      x_o: ['u32', p.x.offset],
      gamma_o: ['u32', p.gamma.offset],
      beta_o: ['u32', p.beta.offset],
      out_o: ['u32', p.out.offset],
      mean_o: ['u32', p.mean.offset],
      rstd_o: ['u32', p.rstd.offset],
      rows: ['u32', rows],
      cols: ['u32', cols],
      eps: ['f32', p.eps],
    },
    groups: grid2d(rows),
    wgsl: (decls) =>
      rowKernelWGSL(
        decls,
        wg,
        `  let xb = i32(P.x_o + r * P.cols);
  let ob = i32(P.out_o + r * P.cols);
  let n = f32(P.cols);
  var acc = vec2<f32>(0.0);
  for (var c = lid.x; c < P.cols; c = c + RWG) { acc = kahan(acc, x_f(xb + i32(c))); }
  let m0 = wg_sum(acc.x, lid.x) / n;
  // Second pass over e = x - m0 (exact where x is near m0): its mean corrects m0 below f32
  // rounding (mean = m0 + m1), so rows with |mean| >> std keep an accurate x - mean.
  var se = vec2<f32>(0.0);
  var se2 = vec2<f32>(0.0);
  for (var c = lid.x; c < P.cols; c = c + RWG) {
    let e = x_f(xb + i32(c)) - m0;
    se = kahan(se, e);
    se2 = kahan(se2, e * e);
  }
  let m1 = wg_sum(se.x, lid.x) / n;
  let variance = max(wg_sum(se2.x, lid.x) / n - m1 * m1, 0.0);
  let rstd = 1.0 / sqrt(variance + P.eps);
  if (lid.x == 0u) {
    mean_sf(i32(P.mean_o + r), m0 + m1);
    rstd_sf(i32(P.rstd_o + r), rstd);
  }
  for (var c = lid.x; c < P.cols; c = c + RWG) {
    let xh = ((x_f(xb + i32(c)) - m0) - m1) * rstd;
    out_sf(ob + i32(c), xh * gamma_f(i32(P.gamma_o + c)) + beta_f(i32(P.beta_o + c)));
  }`,
      ),
  });
}

export function layerNormBackward(ctx: GpuContext, p: LayerNormBackwardParams): void {
  const { rows, cols } = p;
  if (rows === 0 || cols === 0) return;
  const common = {
    dy_o: ['u32', p.dy.offset],
    x_o: ['u32', p.x.offset],
    mean_o: ['u32', p.mean.offset],
    rstd_o: ['u32', p.rstd.offset],
    rows: ['u32', rows],
    cols: ['u32', cols],
  } as const satisfies Record<string, ['u32', number]>;
  const inputs = [
    { name: 'dy', buffer: bufferOf(p.dy.storage) },
    { name: 'x', buffer: bufferOf(p.x.storage) },
    { name: 'mean', buffer: bufferOf(p.mean.storage) },
    { name: 'rstd', buffer: bufferOf(p.rstd.storage) },
  ];
  // dgamma[c] += sum_r dy * xhat, dbeta[c] += sum_r dy.
  ctx.dispatch({
    key: 'layerNormBackward.params',
    operands: [...inputs, { name: 'dg', buffer: bufferOf(p.dgamma.storage), write: true }, { name: 'db', buffer: bufferOf(p.dbeta.storage), write: true }],
    params: { ...common, dg_o: ['u32', p.dgamma.offset], db_o: ['u32', p.dbeta.offset] },
    groups: grid2d(Math.ceil(cols / COL_WG)),
    wgsl: (decls) => `${decls}
${MATH_WGSL}
${KAHAN_WGSL}
@compute @workgroup_size(${COL_WG})
fn main(${ENTRY_ARGS}) {
  let c = ${GLOBAL_ID(COL_WG)};
  if (c >= P.cols) { return; }
  var g = vec2<f32>(0.0);
  var b = vec2<f32>(0.0);
  for (var r = 0u; r < P.rows; r = r + 1u) {
    let at = r * P.cols + c;
    let dy = dy_f(i32(P.dy_o + at));
    let xh = (x_f(i32(P.x_o + at)) - mean_f(i32(P.mean_o + r))) * rstd_f(i32(P.rstd_o + r));
    g = kahan(g, dy * xh);
    b = kahan(b, dy);
  }
  let gi = i32(P.dg_o + c);
  let bi = i32(P.db_o + c);
  dg_sf(gi, dg_f(gi) + g.x);
  db_sf(bi, db_f(bi) + b.x);
}`,
  });
  // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * gamma.
  const wg = rowWorkgroup(cols);
  ctx.dispatch({
    key: `layerNormBackward.dx.${wg}`,
    operands: [...inputs, { name: 'gamma', buffer: bufferOf(p.gamma.storage) }, { name: 'dx', buffer: bufferOf(p.dx.storage), write: true }],
    params: { ...common, gamma_o: ['u32', p.gamma.offset], dx_o: ['u32', p.dx.offset] },
    groups: grid2d(rows),
    wgsl: (decls) =>
      rowKernelWGSL(
        decls,
        wg,
        `  let base = r * P.cols;
  let mean = mean_f(i32(P.mean_o + r));
  let rstd = rstd_f(i32(P.rstd_o + r));
  var sg = vec2<f32>(0.0);
  var sgx = vec2<f32>(0.0);
  for (var c = lid.x; c < P.cols; c = c + RWG) {
    let g = dy_f(i32(P.dy_o + base + c)) * gamma_f(i32(P.gamma_o + c));
    let xh = (x_f(i32(P.x_o + base + c)) - mean) * rstd;
    sg = kahan(sg, g);
    sgx = kahan(sgx, g * xh);
  }
  let n = f32(P.cols);
  let mg = wg_sum(sg.x, lid.x) / n;
  let mgx = wg_sum(sgx.x, lid.x) / n;
  for (var c = lid.x; c < P.cols; c = c + RWG) {
    let g = dy_f(i32(P.dy_o + base + c)) * gamma_f(i32(P.gamma_o + c));
    let xh = (x_f(i32(P.x_o + base + c)) - mean) * rstd;
    dx_sf(i32(P.dx_o + base + c), rstd * (g - mg - xh * mgx));
  }`,
      ),
  });
}
