// SIMD primitives over one contiguous f32 row, shared by the reduce, norm, select and
// attention families (not a module export). Byte addresses in, no allocation.

import { accum4f64, exp4, hmax4, hsum2, loadPartial, storePartial } from './vmath';

/** Mask of the first `rem` lanes (all-ones lanes 0 .. rem-1). */
@inline export function firstLanes(rem: i32): v128 {
  return i32x4.lt_s(i32x4(0, 1, 2, 3), i32x4.splat(rem));
}

/** Largest of n floats; NaN if any is NaN (as Math.max), -inf when n = 0. */
export function rowMax(p: usize, n: i32): f32 {
  let i = 0;
  let m: f32 = -Infinity;
  if (n >= 8) {
    let a = v128.load(p);
    let b = v128.load(p, 16);
    for (i = 8; i + 8 <= n; i += 8) {
      a = f32x4.max(a, v128.load(p + (<usize>i << 2)));
      b = f32x4.max(b, v128.load(p + (<usize>i << 2), 16));
    }
    m = hmax4(f32x4.max(a, b));
  }
  for (; i < n; i++) {
    const v = load<f32>(p + (<usize>i << 2));
    m = v != v || m != m ? NaN : max<f32>(m, v);
  }
  return m;
}

/** Sum of n floats accumulated in float64 (every lane promoted before it is added). */
export function rowSumF64(p: usize, n: i32): f64 {
  let a = f64x2.splat(0.0);
  let b = f64x2.splat(0.0);
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    a = accum4f64(a, v128.load(p + (<usize>i << 2)));
    b = accum4f64(b, v128.load(p + (<usize>i << 2), 16));
  }
  for (; i + 4 <= n; i += 4) a = accum4f64(a, v128.load(p + (<usize>i << 2)));
  if (i < n) a = accum4f64(a, loadPartial(p + (<usize>i << 2), 1, n - i));
  return hsum2(f64x2.add(a, b));
}

/** Sum over n of x[i] * y[i]: f32 products accumulated in float64. */
export function rowDotF64(x: usize, y: usize, n: i32): f64 {
  let a = f64x2.splat(0.0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    a = accum4f64(a, f32x4.mul(v128.load(x + o), v128.load(y + o)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    a = accum4f64(a, f32x4.mul(loadPartial(x + o, 1, n - i), loadPartial(y + o, 1, n - i)));
  }
  return hsum2(a);
}

/**
 * e_i = exp(x_i - shift) for a row of n floats; stores e at dst unless dst is 0 and
 * returns the sum of e in float64 (so a row dominated by one term keeps its small ones).
 */
export function rowExpShift(x: usize, n: i32, shift: f32, dst: usize): f64 {
  const sv = f32x4.splat(shift);
  let acc = f64x2.splat(0.0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const e = exp4(f32x4.sub(v128.load(x + o), sv));
    if (dst != 0) v128.store(dst + o, e);
    acc = accum4f64(acc, e);
  }
  if (i < n) {
    const o = <usize>i << 2;
    const rem = n - i;
    const e = v128.and(exp4(f32x4.sub(loadPartial(x + o, 1, rem), sv)), firstLanes(rem));
    if (dst != 0) storePartial(dst + o, e, rem);
    acc = accum4f64(acc, e);
  }
  return hsum2(acc);
}

/** x[i] *= s in place over n floats. */
export function rowScale(x: usize, n: i32, s: f32): void {
  const sv = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(x + o, f32x4.mul(v128.load(x + o), sv));
  }
  if (i < n) {
    const o = <usize>i << 2;
    storePartial(x + o, f32x4.mul(loadPartial(x + o, 1, n - i), sv), n - i);
  }
}

/** y += x over n floats. */
export function rowAdd(y: usize, x: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(y + o, f32x4.add(v128.load(y + o), v128.load(x + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(y + o, load<f32>(y + o) + load<f32>(x + o));
  }
}
