// Kernel family: norm. LayerNorm forward (saving mean and rstd per row) and backward
// (dx overwritten, dgamma / dbeta accumulated). x: [rows, cols] contiguous. Row sums are
// accumulated in float64; the elementwise work is f32x4.

import { accum4f64, demote2, hsum2, loadPartial, madd4, promoteHi, promoteLo, storePartial } from './vmath';
import { firstLanes, rowSumF64 } from './rowops';

/** Loads lanes c .. c+3 of a row, or the remaining rem < 4 lanes (zeros after). */
@inline function ld(p: usize, c: i32, rem: i32): v128 {
  const q = p + (<usize>c << 2);
  return rem >= 4 ? v128.load(q) : loadPartial(q, 1, rem);
}

@inline function st(p: usize, c: i32, rem: i32, v: v128): void {
  const q = p + (<usize>c << 2);
  if (rem >= 4) v128.store(q, v);
  else storePartial(q, v, rem);
}

/** y = (x - mean) * rstd * gamma + beta per row; mean, rstd: [rows] as f32. */
export function norm_layer_norm(px: usize, pg: usize, pb: usize, po: usize, pmean: usize, prstd: usize, rows: i32, cols: i32, eps: f64): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const x = px + <usize>r * rowBytes;
    const out = po + <usize>r * rowBytes;
    const mean64 = rowSumF64(x, cols) / <f64>cols;
    // The mean as hi + lo f32s: x - hi is exact for x near the mean (Sterbenz), so
    // (x - hi) - lo keeps full precision even when |mean| >> std.
    const mean = <f32>mean64;
    const mv = f32x4.splat(mean);
    const lv = f32x4.splat(<f32>(mean64 - <f64>mean));
    // Two-pass variance.
    let acc = f64x2.splat(0.0);
    for (let c = 0; c < cols; c += 4) {
      const d = v128.and(f32x4.sub(f32x4.sub(ld(x, c, cols - c), mv), lv), firstLanes(cols - c));
      acc = accum4f64(acc, f32x4.mul(d, d));
    }
    const rstd = <f32>(1.0 / sqrt<f64>(hsum2(acc) / <f64>cols + eps));
    store<f32>(pmean + (<usize>r << 2), mean);
    store<f32>(prstd + (<usize>r << 2), rstd);
    const rv = f32x4.splat(rstd);
    for (let c = 0; c < cols; c += 4) {
      const rem = cols - c;
      const xhat = f32x4.mul(f32x4.sub(f32x4.sub(ld(x, c, rem), mv), lv), rv);
      st(out, c, rem, madd4(xhat, ld(pg, c, rem), ld(pb, c, rem)));
    }
  }
}

/**
 * Backward over rows of [rows, cols]: g = dy * gamma, xhat = (x - mean) * rstd;
 * dx = rstd * (g - mean(g) - xhat * mean(g * xhat)). With `columns`, also adds dy * xhat
 * and dy to the float64 column accumulators dg / db (two f64x2 per four columns; lanes
 * past cols hold zeros and land in the padding, never in dgamma / dbeta).
 */
@inline function backwardRows(columns: bool, pdy: usize, px: usize, pg: usize, pmean: usize, prstd: usize, pdx: usize, rows: i32, cols: i32, dg: usize, db: usize): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const dy = pdy + <usize>r * rowBytes;
    const x = px + <usize>r * rowBytes;
    const dx = pdx + <usize>r * rowBytes;
    const mv = f32x4.splat(load<f32>(pmean + (<usize>r << 2)));
    const rv = f32x4.splat(load<f32>(prstd + (<usize>r << 2)));
    let sg = f64x2.splat(0.0);
    let sgx = f64x2.splat(0.0);
    for (let c = 0; c < cols; c += 4) {
      const rem = cols - c;
      const dyv = ld(dy, c, rem);
      const xhat = v128.and(f32x4.mul(f32x4.sub(ld(x, c, rem), mv), rv), firstLanes(rem));
      const g = f32x4.mul(dyv, ld(pg, c, rem));
      sg = accum4f64(sg, g);
      sgx = accum4f64(sgx, f32x4.mul(g, xhat));
      if (columns) accumulateColumns(dg, db, c, f32x4.mul(dyv, xhat), dyv);
    }
    const mg = f32x4.splat(<f32>(hsum2(sg) / <f64>cols));
    const mgx = f32x4.splat(<f32>(hsum2(sgx) / <f64>cols));
    for (let c = 0; c < cols; c += 4) {
      const rem = cols - c;
      const xhat = f32x4.mul(f32x4.sub(ld(x, c, rem), mv), rv);
      const g = f32x4.mul(ld(dy, c, rem), ld(pg, c, rem));
      st(dx, c, rem, f32x4.mul(rv, f32x4.sub(f32x4.sub(g, mg), f32x4.mul(xhat, mgx))));
    }
  }
}

/** dg[c .. c+3] += gx, db[c .. c+3] += dy, in float64. */
@inline function accumulateColumns(dg: usize, db: usize, c: i32, gx: v128, dyv: v128): void {
  const a = dg + (<usize>c << 3);
  const b = db + (<usize>c << 3);
  v128.store(a, f64x2.add(v128.load(a), promoteLo(gx)));
  v128.store(a, f64x2.add(v128.load(a, 16), promoteHi(gx)), 16);
  v128.store(b, f64x2.add(v128.load(b), promoteLo(dyv)));
  v128.store(b, f64x2.add(v128.load(b, 16), promoteHi(dyv)), 16);
}

/** dgamma / dbeta [c0, c1) += the float64 column sums dg / db (one rounding, as the reference). */
function finishColumns(pdg: usize, pdb: usize, dg: usize, db: usize, c0: i32, c1: i32): void {
  let c = c0;
  for (; c + 4 <= c1; c += 4) {
    const o = <usize>c << 2;
    const a = dg + (<usize>c << 3);
    const b = db + (<usize>c << 3);
    const vg = v128.load(pdg + o);
    const vb = v128.load(pdb + o);
    v128.store(pdg + o, demote2(f64x2.add(promoteLo(vg), v128.load(a)), f64x2.add(promoteHi(vg), v128.load(a, 16))));
    v128.store(pdb + o, demote2(f64x2.add(promoteLo(vb), v128.load(b)), f64x2.add(promoteHi(vb), v128.load(b, 16))));
  }
  for (; c < c1; c++) {
    const o = <usize>c << 2;
    store<f32>(pdg + o, <f32>(<f64>load<f32>(pdg + o) + load<f64>(dg + (<usize>c << 3))));
    store<f32>(pdb + o, <f32>(<f64>load<f32>(pdb + o) + load<f64>(db + (<usize>c << 3))));
  }
}

/**
 * dx overwritten; dgamma += sum_r dy * xhat; dbeta += sum_r dy (see backwardRows).
 * scratch: 16 * cols4 bytes (cols4 = cols rounded up to a multiple of 4) of float64 column
 * accumulators, added to dgamma / dbeta at the end.
 */
export function norm_layer_norm_backward(pdy: usize, px: usize, pg: usize, pmean: usize, prstd: usize, pdx: usize, pdg: usize, pdb: usize, rows: i32, cols: i32, scratch: usize): void {
  const cols4 = (cols + 3) & ~3;
  const db = scratch + (<usize>cols4 << 3);
  memory.fill(scratch, 0, <usize>cols4 << 4);
  backwardRows(true, pdy, px, pg, pmean, prstd, pdx, rows, cols, scratch, db);
  finishColumns(pdg, pdb, scratch, db, 0, cols);
}

/** The dx half of norm_layer_norm_backward, for a range of rows (threads split rows). */
export function norm_layer_norm_backward_dx(pdy: usize, px: usize, pg: usize, pmean: usize, prstd: usize, pdx: usize, rows: i32, cols: i32): void {
  backwardRows(false, pdy, px, pg, pmean, prstd, pdx, rows, cols, 0, 0);
}

/**
 * The dgamma / dbeta half of norm_layer_norm_backward for columns [c0, c0 + n) (c0 a
 * multiple of 4) over all rows: every column is summed over rows in the same order and
 * with the same float64 operations, so the result has the same bits. scratch: as for
 * norm_layer_norm_backward; threads with disjoint column ranges may share it.
 */
export function norm_layer_norm_backward_params(pdy: usize, px: usize, pmean: usize, prstd: usize, pdg: usize, pdb: usize, rows: i32, cols: i32, c0: i32, n: i32, scratch: usize): void {
  const cols4 = (cols + 3) & ~3;
  const c1 = c0 + n;
  const dg = scratch;
  const db = scratch + (<usize>cols4 << 3);
  const span = <usize>(((c1 + 3) & ~3) - c0) << 3;
  memory.fill(dg + (<usize>c0 << 3), 0, span);
  memory.fill(db + (<usize>c0 << 3), 0, span);
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const dy = pdy + <usize>r * rowBytes;
    const x = px + <usize>r * rowBytes;
    const mv = f32x4.splat(load<f32>(pmean + (<usize>r << 2)));
    const rv = f32x4.splat(load<f32>(prstd + (<usize>r << 2)));
    for (let c = c0; c < c1; c += 4) {
      const rem = cols - c;
      const dyv = ld(dy, c, rem);
      const xhat = v128.and(f32x4.mul(f32x4.sub(ld(x, c, rem), mv), rv), firstLanes(rem));
      accumulateColumns(dg, db, c, f32x4.mul(dyv, xhat), dyv);
    }
  }
  finishColumns(pdg, pdb, dg, db, c0, c1);
}
