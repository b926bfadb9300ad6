import { ENTRY_ARGS, MATH_WGSL } from './math.js';

/**
 * Workgroup-wide reductions for the row kernels (one workgroup per row): each
 * invocation folds a strided slice of the row (sums compensated, Kahan), then
 * a tree in workgroup memory combines the partials. Called from uniform
 * control flow only (they contain barriers).
 */

/** Invocations per row: 64 for short rows, 256 once a row has >= 1024 elements. */
export function rowWorkgroup(cols: number): number {
  return cols >= 1024 ? 256 : 64;
}

/** WGSL for wg_sum / wg_max over `wg` invocations, plus kahan() (needs MATH_WGSL). */
export function rowReduceWGSL(wg: number): string {
  return /* wgsl */ `
const RWG: u32 = ${wg}u;
var<workgroup> red: array<f32, ${wg}>;
fn wg_sum(v: f32, l: u32) -> f32 {
  red[l] = v;
  workgroupBarrier();
  for (var s = RWG / 2u; s > 0u; s = s >> 1u) {
    if (l < s) { red[l] = red[l] + red[l + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
fn wg_max(v: f32, l: u32) -> f32 {
  red[l] = v;
  workgroupBarrier();
  for (var s = RWG / 2u; s > 0u; s = s >> 1u) {
    if (l < s) { red[l] = nmax(red[l], red[l + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}
${KAHAN_WGSL}`;
}

/** Compensated summation step (needs MATH_WGSL for is_finite). */
export const KAHAN_WGSL = /* wgsl */ `
// Kahan-compensated running sum: acc.x is the sum, acc.y the lost low-order part. The new sum
// goes through opaque() so that the compiler cannot simplify (t - sum) - y to 0. Once the sum
// is infinite or NaN the compensation is dropped (inf - inf would turn it into NaN).
fn kahan(acc: vec2<f32>, v: f32) -> vec2<f32> {
  let y = v - acc.y;
  let t = opaque(acc.x + y);
  if (!is_finite(t)) { return vec2<f32>(acc.x + v, 0.0); }
  return vec2<f32>(t, (t - acc.x) - y);
}
`;

/** Row index of a row kernel over a 2-D grid of workgroups. */
export const ROW_ID = 'wid.y * nwg.x + wid.x';

/**
 * The WGSL of a row kernel: one workgroup of `wg` invocations per row `r` (rows past
 * P.rows return at once), with MATH_WGSL and the workgroup reductions declared; `extra` adds
 * declarations, `body` is main's code after `r` is bound.
 */
export function rowKernelWGSL(decls: string, wg: number, body: string, extra = ''): string {
  return `${decls}
${MATH_WGSL}
${rowReduceWGSL(wg)}
${extra}
@compute @workgroup_size(${wg})
fn main(${ENTRY_ARGS}) {
  let r = ${ROW_ID};
  if (r >= P.rows) { return; }
${body}
}`;
}
