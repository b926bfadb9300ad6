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
 * g = dy * gamma, xhat = (x - mean) * rstd;
 * dx = rstd * (g - mean(g) - xhat * mean(g * xhat)); dgamma += sum_r dy * xhat; dbeta += sum_r dy.
 * scratch: 16 * cols4 bytes (cols4 = cols rounded up to a multiple of 4) of float64 column
 * accumulators, added to dgamma / dbeta at the end.
 */
export function norm_layer_norm_backward(pdy: usize, px: usize, pg: usize, pmean: usize, prstd: usize, pdx: usize, pdg: usize, pdb: usize, rows: i32, cols: i32, scratch: usize): void {
  const rowBytes = <usize>cols << 2;
  const cols4 = (cols + 3) & ~3;
  const dg = scratch;
  const db = scratch + (<usize>cols4 << 3);
  memory.fill(scratch, 0, <usize>cols4 << 4);
  for (let r = 0; r < rows; r++) {
    const dy = pdy + <usize>r * rowBytes;
    const x = px + <usize>r * rowBytes;
    const dx = pdx + <usize>r * rowBytes;
    const mv = f32x4.splat(load<f32>(pmean + (<usize>r << 2)));
    const rstd = load<f32>(prstd + (<usize>r << 2));
    const rv = f32x4.splat(rstd);
    let sg = f64x2.splat(0.0);
    let sgx = f64x2.splat(0.0);
    for (let c = 0; c < cols; c += 4) {
      const rem = cols - c;
      const dyv = ld(dy, c, rem);
      const xhat = v128.and(f32x4.mul(f32x4.sub(ld(x, c, rem), mv), rv), firstLanes(rem));
      const g = f32x4.mul(dyv, ld(pg, c, rem));
      sg = accum4f64(sg, g);
      sgx = accum4f64(sgx, f32x4.mul(g, xhat));
      // Column accumulators, two f64x2 per four columns. Lanes past cols hold zeros and
      // land in the padding of the scratch rows, never in dgamma / dbeta.
      const gx = f32x4.mul(dyv, xhat);
      const a = dg + (<usize>c << 3);
      const b = db + (<usize>c << 3);
      v128.store(a, f64x2.add(v128.load(a), promoteLo(gx)));
      v128.store(a, f64x2.add(v128.load(a, 16), promoteHi(gx)), 16);
      v128.store(b, f64x2.add(v128.load(b), promoteLo(dyv)));
      v128.store(b, f64x2.add(v128.load(b, 16), promoteHi(dyv)), 16);
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
  // dgamma / dbeta += the float64 column sums (one rounding, as the reference).
  let c = 0;
  for (; c + 4 <= cols; c += 4) {
    const o = <usize>c << 2;
    const a = dg + (<usize>c << 3);
    const b = db + (<usize>c << 3);
    const vg = v128.load(pdg + o);
    const vb = v128.load(pdb + o);
    v128.store(pdg + o, demote2(f64x2.add(promoteLo(vg), v128.load(a)), f64x2.add(promoteHi(vg), v128.load(a, 16))));
    v128.store(pdb + o, demote2(f64x2.add(promoteLo(vb), v128.load(b)), f64x2.add(promoteHi(vb), v128.load(b, 16))));
  }
  for (; c < cols; c++) {
    const o = <usize>c << 2;
    store<f32>(pdg + o, <f32>(<f64>load<f32>(pdg + o) + load<f64>(dg + (<usize>c << 3))));
    store<f32>(pdb + o, <f32>(<f64>load<f32>(pdb + o) + load<f64>(db + (<usize>c << 3))));
  }
}
