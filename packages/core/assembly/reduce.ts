// Kernel family: reduce. sum / mean / max / min / argmax / argmin over the middle axis of
// x: [outer, axisLen, inner], row-wise (log-)softmax and its backward.
//
// Summation: f32 SIMD partial sums over blocks (1024 elements along a contiguous axis, or
// 64 rows when reducing across rows), with the block partials added in float64 — about
// f32 rounding of one block, independent of the axis length (< 1e-6 relative to the sum
// of |x| on 10^5 elements). max/min/argmax/argmin follow the reference exactly: the first
// extreme wins ties (so -0 vs +0 keeps the earlier one) and the first NaN wins outright.

import { accum4f64, exp4, hsum2, loadPartial, logF64, promoteHi, promoteLo, storePartial } from './vmath';
import { rowDotF64, rowExpShift, rowMax, rowScale, rowSumF64 } from './rowops';
import { R_ARGMAX, R_ARGMIN, R_MAX, R_MEAN, R_MIN, R_SUM } from './generated/op-codes';

const AXIS_BLOCK = 1024;
const ROW_BLOCK = 64;

/** Sum of n contiguous floats: 16 f32 lanes per block of <= 1024 elements, blocks added in f64. */
function sumContig(p: usize, n: i32): f64 {
  let total = f64x2.splat(0.0);
  let i = 0;
  while (i + 16 <= n) {
    const end = min(i + AXIS_BLOCK, n);
    let a0 = f32x4.splat(0.0);
    let a1 = f32x4.splat(0.0);
    let a2 = f32x4.splat(0.0);
    let a3 = f32x4.splat(0.0);
    for (; i + 16 <= end; i += 16) {
      const q = p + (<usize>i << 2);
      a0 = f32x4.add(a0, v128.load(q));
      a1 = f32x4.add(a1, v128.load(q, 16));
      a2 = f32x4.add(a2, v128.load(q, 32));
      a3 = f32x4.add(a3, v128.load(q, 48));
    }
    total = accum4f64(accum4f64(total, a0), a1);
    total = accum4f64(accum4f64(total, a2), a3);
  }
  let tail: f64 = 0.0;
  for (; i < n; i++) tail += <f64>load<f32>(p + (<usize>i << 2));
  return hsum2(total) + tail;
}

/** better = (x beats best, or x is NaN) and best is not NaN: the reference's first-extreme / first-NaN rule. */
@inline function beats(isMax: bool, x: v128, best: v128): v128 {
  const cmp = isMax ? f32x4.gt(x, best) : f32x4.lt(x, best);
  return v128.and(v128.or(cmp, f32x4.ne(x, x)), f32x4.eq(best, best));
}

@inline function beats1(isMax: bool, x: f32, best: f32): bool {
  return best == best && (x != x || (isMax ? x > best : x < best));
}

/**
 * Merging per-lane results (v at index k vs the current bv at bi): a NaN beats any number
 * and the earlier of two NaNs wins; otherwise the larger (smaller) value, the earlier index on ties.
 */
@inline function laneWins(isMax: bool, v: f32, k: i32, bv: f32, bi: i32): bool {
  if (bv != bv) return v != v && k < bi;
  return v != v || (isMax ? v > bv : v < bv) || (v == bv && k < bi);
}

/** Index of the first maximum (minimum) of n >= 1 contiguous floats; the first NaN if any. */
@inline function argContigT(isMax: bool, p: usize, n: i32): i32 {
  let bv: f32 = load<f32>(p);
  let bi = 0;
  let i = 1;
  if (n >= 8) {
    // Per-lane running extremes over the interleaved subsequences, then merged by value and index.
    let best = v128.load(p);
    let bidx = i32x4(0, 1, 2, 3);
    let idx = i32x4(4, 5, 6, 7);
    const four = i32x4.splat(4);
    for (i = 4; i + 4 <= n; i += 4) {
      const x = v128.load(p + (<usize>i << 2));
      const m = beats(isMax, x, best);
      best = v128.bitselect(x, best, m);
      bidx = v128.bitselect(idx, bidx, m);
      idx = i32x4.add(idx, four);
    }
    bv = f32x4.extract_lane(best, 0);
    bi = i32x4.extract_lane(bidx, 0);
    const v1 = f32x4.extract_lane(best, 1);
    const k1 = i32x4.extract_lane(bidx, 1);
    if (laneWins(isMax, v1, k1, bv, bi)) { bv = v1; bi = k1; }
    const v2 = f32x4.extract_lane(best, 2);
    const k2 = i32x4.extract_lane(bidx, 2);
    if (laneWins(isMax, v2, k2, bv, bi)) { bv = v2; bi = k2; }
    const v3 = f32x4.extract_lane(best, 3);
    const k3 = i32x4.extract_lane(bidx, 3);
    if (laneWins(isMax, v3, k3, bv, bi)) { bv = v3; bi = k3; }
  }
  for (; i < n; i++) {
    const x = load<f32>(p + (<usize>i << 2));
    if (beats1(isMax, x, bv)) {
      bv = x;
      bi = i;
    }
  }
  return bi;
}

/** Column sums of x: [axisLen, inner] (inner >= 2) into out: [inner]; scratch holds inner f64 totals + inner f32 partials. */
function sumRows(px: usize, po: usize, axisLen: i32, inner: i32, mean: bool, scratch: usize): void {
  const tot = scratch;
  const part = scratch + (<usize>inner << 3);
  const rowBytes = <usize>inner << 2;
  memory.fill(tot, 0, <usize>inner << 3);
  for (let a0 = 0; a0 < axisLen; a0 += ROW_BLOCK) {
    const a1 = min(a0 + ROW_BLOCK, axisLen);
    memory.copy(part, px + <usize>a0 * rowBytes, rowBytes);
    for (let a = a0 + 1; a < a1; a++) {
      const row = px + <usize>a * rowBytes;
      let c = 0;
      for (; c + 4 <= inner; c += 4) {
        const o = <usize>c << 2;
        v128.store(part + o, f32x4.add(v128.load(part + o), v128.load(row + o)));
      }
      for (; c < inner; c++) {
        const o = <usize>c << 2;
        store<f32>(part + o, load<f32>(part + o) + load<f32>(row + o));
      }
    }
    let c = 0;
    for (; c + 4 <= inner; c += 4) {
      const v = v128.load(part + (<usize>c << 2));
      const t = tot + (<usize>c << 3);
      v128.store(t, f64x2.add(v128.load(t), promoteLo(v)));
      v128.store(t, f64x2.add(v128.load(t, 16), promoteHi(v)), 16);
    }
    for (; c < inner; c++) {
      const t = tot + (<usize>c << 3);
      store<f64>(t, load<f64>(t) + <f64>load<f32>(part + (<usize>c << 2)));
    }
  }
  const div: f64 = mean ? <f64>axisLen : 1.0;
  for (let c = 0; c < inner; c++) store<f32>(po + (<usize>c << 2), <f32>(load<f64>(tot + (<usize>c << 3)) / div));
}

/** Column max / min / argmax / argmin of x: [axisLen >= 1, inner]; scratch holds inner f32 bests + inner i32 indices. */
@inline function extremeRowsT(isMax: bool, arg: bool, px: usize, po: usize, axisLen: i32, inner: i32, scratch: usize): void {
  const best = scratch;
  const bidx = scratch + (<usize>inner << 2);
  const rowBytes = <usize>inner << 2;
  memory.copy(best, px, rowBytes);
  if (arg) memory.fill(bidx, 0, rowBytes);
  for (let a = 1; a < axisLen; a++) {
    const row = px + <usize>a * rowBytes;
    const av = i32x4.splat(a);
    let c = 0;
    for (; c + 4 <= inner; c += 4) {
      const o = <usize>c << 2;
      const x = v128.load(row + o);
      const b = v128.load(best + o);
      const m = beats(isMax, x, b);
      v128.store(best + o, v128.bitselect(x, b, m));
      if (arg) v128.store(bidx + o, v128.bitselect(av, v128.load(bidx + o), m));
    }
    for (; c < inner; c++) {
      const o = <usize>c << 2;
      const x = load<f32>(row + o);
      if (beats1(isMax, x, load<f32>(best + o))) {
        store<f32>(best + o, x);
        if (arg) store<i32>(bidx + o, a);
      }
    }
  }
  memory.copy(po, arg ? bidx : best, rowBytes);
}

/**
 * out[o, i] = op over a of x[o, a, i]. x: [outer, axisLen, inner] contiguous; out: [outer, inner]
 * (i32 for argmax/argmin). scratch: at least inner * 12 bytes when inner > 1.
 */
export function red_reduce(op: i32, px: usize, po: usize, outer: i32, axisLen: i32, inner: i32, scratch: usize): void {
  const sliceBytes = <usize>axisLen * (<usize>inner << 2);
  for (let o = 0; o < outer; o++) {
    const xo = px + <usize>o * sliceBytes;
    const oo = po + (<usize>(o * inner) << 2);
    if (op == R_SUM || op == R_MEAN) {
      if (inner == 1) {
        const s = sumContig(xo, axisLen);
        store<f32>(oo, <f32>(op == R_MEAN ? s / <f64>axisLen : s));
      } else {
        sumRows(xo, oo, axisLen, inner, op == R_MEAN, scratch);
      }
    } else if (inner == 1) {
      const i = op == R_MAX || op == R_ARGMAX ? argContigT(true, xo, axisLen) : argContigT(false, xo, axisLen);
      if (op == R_ARGMAX || op == R_ARGMIN) store<i32>(oo, i);
      else store<f32>(oo, load<f32>(xo + (<usize>i << 2)));
    } else {
      switch (op) {
        case R_MAX: extremeRowsT(true, false, xo, oo, axisLen, inner, scratch); break;
        case R_MIN: extremeRowsT(false, false, xo, oo, axisLen, inner, scratch); break;
        case R_ARGMAX: extremeRowsT(true, true, xo, oo, axisLen, inner, scratch); break;
        default: extremeRowsT(false, true, xo, oo, axisLen, inner, scratch); break;
      }
    }
  }
}

/** Shift for a max-shifted softmax: the row max, or 0 when it is +-inf (NaN stays NaN). */
@inline function softmaxShift(mx: f32): f32 {
  return mx - mx == 0 ? mx : mx != mx ? mx : 0;
}

/** out = softmax(x) (or log-softmax when log != 0) over rows of x: [rows, cols]. */
export function red_softmax(px: usize, po: usize, rows: i32, cols: i32, log: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const x = px + <usize>r * rowBytes;
    const out = po + <usize>r * rowBytes;
    const shift = softmaxShift(rowMax(x, cols));
    if (log == 0) {
      // e = exp(x - max) stored, then scaled by 1/sum (a sum of 0 gives NaN, as 0/0 does).
      const s = rowExpShift(x, cols, shift, out);
      rowScale(out, cols, <f32>(1.0 / s));
    } else {
      // (x - max) - log(sum): both terms <= 0, so no cancellation.
      const lse = f32x4.splat(<f32>logF64(rowExpShift(x, cols, shift, 0)));
      const sv = f32x4.splat(shift);
      let c = 0;
      for (; c + 4 <= cols; c += 4) {
        const o = <usize>c << 2;
        v128.store(out + o, f32x4.sub(f32x4.sub(v128.load(x + o), sv), lse));
      }
      if (c < cols) {
        const o = <usize>c << 2;
        storePartial(out + o, f32x4.sub(f32x4.sub(loadPartial(x + o, 1, cols - c), sv), lse), cols - c);
      }
    }
  }
}

/**
 * dx from the (log-)softmax output y and upstream dy over rows of [rows, cols].
 * softmax: dx = y (dy - sum(dy y)); log-softmax: dx = dy - exp(y) sum(dy). Sums in f64.
 */
export function red_softmax_backward(py: usize, pdy: usize, pdx: usize, rows: i32, cols: i32, log: i32): void {
  const rowBytes = <usize>cols << 2;
  for (let r = 0; r < rows; r++) {
    const y = py + <usize>r * rowBytes;
    const dy = pdy + <usize>r * rowBytes;
    const dx = pdx + <usize>r * rowBytes;
    const s = f32x4.splat(<f32>(log == 0 ? rowDotF64(dy, y, cols) : rowSumF64(dy, cols)));
    let c = 0;
    for (; c < cols; c += 4) {
      const o = <usize>c << 2;
      const rem = cols - c;
      const yv = rem >= 4 ? v128.load(y + o) : loadPartial(y + o, 1, rem);
      const gv = rem >= 4 ? v128.load(dy + o) : loadPartial(dy + o, 1, rem);
      const d = log == 0 ? f32x4.mul(yv, f32x4.sub(gv, s)) : f32x4.sub(gv, f32x4.mul(exp4(yv), s));
      if (rem >= 4) v128.store(dx + o, d);
      else storePartial(dx + o, d, rem);
    }
  }
}
