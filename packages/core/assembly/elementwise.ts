// Kernel family: elementwise. Unary / binary ops, where, copy and cast over strided
// operands with broadcasting (stride 0), plus fill, random and GELU backward on dense
// buffers. All f32 lanes go through the same f32x4 code (a row's tail is loaded into a
// partial vector), so an element's result never depends on where it sits in the row.
//
// Strided kernels take a params block of i32 words written by the host
// (src/wasm/kernels/elementwise.ts), dims already collapsed:
//   shape[rank] | strides of operand 0..nops-1 [rank each] | counters[rank] = 0 | byte address of each operand
// The innermost dim is a "row" handled by a SIMD loop when its strides are 1 or 0 and by
// a 4-lane gather otherwise; advance() steps the outer dims like an odometer.

import {
  exp4, gather4, gelu4, geluGrad4, log4, loadPartial, sigmoid4, storePartial, tanh4,
  cos2piF64, cos2piF64x2, demote2, logF64, logF64x2Normal, powF64,
} from './vmath';

// ---- params block ----

@inline function dimAt(prm: usize, d: i32): i32 {
  return load<i32>(prm + (<usize>d << 2));
}

@inline function strideAt(prm: usize, rank: i32, k: i32, d: i32): i32 {
  return load<i32>(prm + (<usize>(rank * (1 + k) + d) << 2));
}

/** Address of the operand byte addresses (after shape, strides and counters). */
@inline function ptrsAt(prm: usize, rank: i32, nops: i32): usize {
  return prm + (<usize>(rank * (2 + nops)) << 2);
}

/** Number of rows: the product of every dim but the innermost. */
function outerRows(prm: usize, rank: i32): i32 {
  let rows = 1;
  for (let d = 0; d < rank - 1; d++) rows *= dimAt(prm, d);
  return rows;
}

/** Moves every operand to the start of the next row (odometer over dims rank-2 .. 0). */
function advance(prm: usize, rank: i32, nops: i32): void {
  const cnt = prm + (<usize>(rank * (1 + nops)) << 2);
  const ptrs = cnt + (<usize>rank << 2);
  for (let d = rank - 2; d >= 0; d--) {
    const c = cnt + (<usize>d << 2);
    const i = load<i32>(c) + 1;
    const dim = dimAt(prm, d);
    const wrap = i >= dim;
    store<i32>(c, wrap ? 0 : i);
    for (let k = 0; k < nops; k++) {
      const st = strideAt(prm, rank, k, d);
      const pk = ptrs + (<usize>k << 2);
      store<i32>(pk, load<i32>(pk) + ((wrap ? -st * (dim - 1) : st) << 2));
    }
    if (!wrap) return;
  }
}

@inline function ptrOf(prm: usize, rank: i32, nops: i32, k: i32): usize {
  return load<usize>(ptrsAt(prm, rank, nops) + (<usize>k << 2));
}

/** Address of element i of a row at p with stride s (elements, any sign). */
@inline function at(p: usize, i: i32, s: i32): usize {
  return p + <usize>((i * s) << 2);
}

// ---- unary ----

// Op codes shared with the host. 15..17 are pow fast paths the host picks for alpha 0, 1, 0.5.
const U_NEG = 0;
const U_EXP = 1;
const U_LOG = 2;
const U_SQRT = 3;
const U_RSQRT = 4;
const U_TANH = 5;
const U_SIGMOID = 6;
const U_RELU = 7;
const U_GELU = 8;
const U_ABS = 9;
const U_POW = 10;
const U_SQUARE = 11;
const U_RECIP = 12;
const U_SIGN = 13;
const U_STEP = 14;
const U_ONE = 15;
const U_IDENT = 16;
const U_POW_HALF = 17;

/** Per-lane float64 pow (ECMAScript semantics) with a float64 exponent, rounded to f32. */
@inline function powScalarExp(a: v128, y: f64): v128 {
  let r = a;
  r = f32x4.replace_lane(r, 0, <f32>powF64(<f64>f32x4.extract_lane(a, 0), y));
  r = f32x4.replace_lane(r, 1, <f32>powF64(<f64>f32x4.extract_lane(a, 1), y));
  r = f32x4.replace_lane(r, 2, <f32>powF64(<f64>f32x4.extract_lane(a, 2), y));
  return f32x4.replace_lane(r, 3, <f32>powF64(<f64>f32x4.extract_lane(a, 3), y));
}

/** Per-lane float64 pow (ECMAScript semantics) rounded to f32. */
@inline function powLanes(a: v128, b: v128): v128 {
  let r = a;
  r = f32x4.replace_lane(r, 0, <f32>powF64(<f64>f32x4.extract_lane(a, 0), <f64>f32x4.extract_lane(b, 0)));
  r = f32x4.replace_lane(r, 1, <f32>powF64(<f64>f32x4.extract_lane(a, 1), <f64>f32x4.extract_lane(b, 1)));
  r = f32x4.replace_lane(r, 2, <f32>powF64(<f64>f32x4.extract_lane(a, 2), <f64>f32x4.extract_lane(b, 2)));
  return f32x4.replace_lane(r, 3, <f32>powF64(<f64>f32x4.extract_lane(a, 3), <f64>f32x4.extract_lane(b, 3)));
}

/** 1 / sqrt(x) in float64, rounded once to f32 (the reference's exact result). */
@inline function rsqrt4(v: v128): v128 {
  const one = f64x2.splat(1.0);
  const lo = f64x2.div(one, f64x2.sqrt(f64x2.promote_low_f32x4(v)));
  const hi = f64x2.div(one, f64x2.sqrt(f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1))));
  return i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

@inline function unaryVec(op: i32, v: v128, alpha: f64): v128 {
  const zero = f32x4.splat(0.0);
  const one = f32x4.splat(1.0);
  switch (op) {
    case U_NEG: return f32x4.neg(v);
    case U_EXP: return exp4(v);
    case U_LOG: return log4(v);
    case U_SQRT: return f32x4.sqrt(v);
    case U_RSQRT: return rsqrt4(v);
    case U_TANH: return tanh4(v);
    case U_SIGMOID: return sigmoid4(v);
    // x > 0 ? x : 0, so NaN and -0 give +0 like the reference.
    case U_RELU: return v128.and(v, f32x4.gt(v, zero));
    case U_GELU: return gelu4(v);
    case U_ABS: return f32x4.abs(v);
    case U_POW: return powScalarExp(v, alpha);
    case U_SQUARE: return f32x4.mul(v, v);
    case U_RECIP: return f32x4.div(one, v);
    case U_SIGN: {
      // x > 0 ? 1 : x < 0 ? -1 : x (keeps +-0 and NaN)
      const r = v128.bitselect(one, v, f32x4.gt(v, zero));
      return v128.bitselect(f32x4.splat(-1.0), r, f32x4.lt(v, zero));
    }
    case U_STEP: return v128.and(one, f32x4.gt(v, zero));
    case U_ONE: return one;
    case U_IDENT: return v;
    case U_POW_HALF: {
      // Math.pow(x, 0.5): sqrt, except pow(-0, 0.5) = +0 and pow(-inf, 0.5) = +inf.
      let r = f32x4.sqrt(v);
      r = v128.bitselect(zero, r, f32x4.eq(v, zero));
      return v128.bitselect(f32x4.splat(Infinity), r, f32x4.eq(v, f32x4.splat(-Infinity)));
    }
    default: return f32x4.splat(NaN);
  }
}

@inline function unaryRowT(op: i32, px: usize, sx: i32, po: usize, n: i32, alpha: f64): void {
  let i = 0;
  if (sx == 1) {
    for (; i + 4 <= n; i += 4) {
      v128.store(po + (<usize>i << 2), unaryVec(op, v128.load(px + (<usize>i << 2)), alpha));
    }
  } else if (sx == 0) {
    const r = unaryVec(op, f32x4.splat(load<f32>(px)), alpha);
    for (; i < n - 3; i += 4) v128.store(po + (<usize>i << 2), r);
    if (i < n) storePartial(po + (<usize>i << 2), r, n - i);
    return;
  } else {
    for (; i + 4 <= n; i += 4) {
      v128.store(po + (<usize>i << 2), unaryVec(op, gather4(at(px, i, sx), sx), alpha));
    }
  }
  if (i < n) {
    const rem = n - i;
    storePartial(po + (<usize>i << 2), unaryVec(op, loadPartial(at(px, i, sx), sx, rem), alpha), rem);
  }
}

function unaryRow(op: i32, px: usize, sx: i32, po: usize, n: i32, alpha: f64): void {
  switch (op) {
    case U_NEG: unaryRowT(U_NEG, px, sx, po, n, alpha); break;
    case U_EXP: unaryRowT(U_EXP, px, sx, po, n, alpha); break;
    case U_LOG: unaryRowT(U_LOG, px, sx, po, n, alpha); break;
    case U_SQRT: unaryRowT(U_SQRT, px, sx, po, n, alpha); break;
    case U_RSQRT: unaryRowT(U_RSQRT, px, sx, po, n, alpha); break;
    case U_TANH: unaryRowT(U_TANH, px, sx, po, n, alpha); break;
    case U_SIGMOID: unaryRowT(U_SIGMOID, px, sx, po, n, alpha); break;
    case U_RELU: unaryRowT(U_RELU, px, sx, po, n, alpha); break;
    case U_GELU: unaryRowT(U_GELU, px, sx, po, n, alpha); break;
    case U_ABS: unaryRowT(U_ABS, px, sx, po, n, alpha); break;
    case U_POW: unaryRowT(U_POW, px, sx, po, n, alpha); break;
    case U_SQUARE: unaryRowT(U_SQUARE, px, sx, po, n, alpha); break;
    case U_RECIP: unaryRowT(U_RECIP, px, sx, po, n, alpha); break;
    case U_SIGN: unaryRowT(U_SIGN, px, sx, po, n, alpha); break;
    case U_STEP: unaryRowT(U_STEP, px, sx, po, n, alpha); break;
    case U_ONE: unaryRowT(U_ONE, px, sx, po, n, alpha); break;
    case U_IDENT: unaryRowT(U_IDENT, px, sx, po, n, alpha); break;
    case U_POW_HALF: unaryRowT(U_POW_HALF, px, sx, po, n, alpha); break;
    default: break;
  }
}

/** out = op(x); operands: x (strided), out (dense). `alpha` is pow's exponent. */
export function ew_unary(op: i32, prm: usize, rank: i32, alpha: f64): void {
  const n = dimAt(prm, rank - 1);
  const sx = strideAt(prm, rank, 0, rank - 1);
  const rows = outerRows(prm, rank);
  for (let r = 0; r < rows; r++) {
    unaryRow(op, ptrOf(prm, rank, 2, 0), sx, ptrOf(prm, rank, 2, 1), n, alpha);
    advance(prm, rank, 2);
  }
}

/** Rank-1 form of ew_unary: out[i] = op(x[i * sx]) with no params block (the host's fast path). */
export function ew_unary_flat(op: i32, px: usize, sx: i32, po: usize, n: i32, alpha: f64): void {
  unaryRow(op, px, sx, po, n, alpha);
}

// ---- binary ----

const B_ADD = 0;
const B_SUB = 1;
const B_MUL = 2;
const B_DIV = 3;
const B_MAX = 4;
const B_MIN = 5;
const B_POW = 6;
const B_EQ = 7;
const B_NE = 8;
const B_LT = 9;
const B_LE = 10;
const B_GT = 11;
const B_GE = 12;

@inline function binaryVec(op: i32, a: v128, b: v128): v128 {
  const one = f32x4.splat(1.0);
  switch (op) {
    case B_ADD: return f32x4.add(a, b);
    case B_SUB: return f32x4.sub(a, b);
    case B_MUL: return f32x4.mul(a, b);
    case B_DIV: return f32x4.div(a, b);
    // wasm max/min return NaN if either lane is NaN and order -0 < +0, as Math.max/min do.
    case B_MAX: return f32x4.max(a, b);
    case B_MIN: return f32x4.min(a, b);
    case B_POW: return powLanes(a, b);
    case B_EQ: return v128.and(one, f32x4.eq(a, b));
    case B_NE: return v128.and(one, f32x4.ne(a, b));
    case B_LT: return v128.and(one, f32x4.lt(a, b));
    case B_LE: return v128.and(one, f32x4.le(a, b));
    case B_GT: return v128.and(one, f32x4.gt(a, b));
    case B_GE: return v128.and(one, f32x4.ge(a, b));
    default: return f32x4.splat(NaN);
  }
}

@inline function binaryRowT(op: i32, pa: usize, sa: i32, pb: usize, sb: i32, po: usize, n: i32): void {
  let i = 0;
  if (sa == 1 && sb == 1) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(po + o, binaryVec(op, v128.load(pa + o), v128.load(pb + o)));
    }
  } else if (sa == 1 && sb == 0) {
    const bv = f32x4.splat(load<f32>(pb));
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(po + o, binaryVec(op, v128.load(pa + o), bv));
    }
  } else if (sa == 0 && sb == 1) {
    const av = f32x4.splat(load<f32>(pa));
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(po + o, binaryVec(op, av, v128.load(pb + o)));
    }
  } else if (sa == 0 && sb == 0) {
    const r = binaryVec(op, f32x4.splat(load<f32>(pa)), f32x4.splat(load<f32>(pb)));
    for (; i < n - 3; i += 4) v128.store(po + (<usize>i << 2), r);
    if (i < n) storePartial(po + (<usize>i << 2), r, n - i);
    return;
  } else {
    for (; i + 4 <= n; i += 4) {
      v128.store(po + (<usize>i << 2), binaryVec(op, gather4(at(pa, i, sa), sa), gather4(at(pb, i, sb), sb)));
    }
  }
  if (i < n) {
    const rem = n - i;
    const r = binaryVec(op, loadPartial(at(pa, i, sa), sa, rem), loadPartial(at(pb, i, sb), sb, rem));
    storePartial(po + (<usize>i << 2), r, rem);
  }
}

function binaryRow(op: i32, pa: usize, sa: i32, pb: usize, sb: i32, po: usize, n: i32): void {
  switch (op) {
    case B_ADD: binaryRowT(B_ADD, pa, sa, pb, sb, po, n); break;
    case B_SUB: binaryRowT(B_SUB, pa, sa, pb, sb, po, n); break;
    case B_MUL: binaryRowT(B_MUL, pa, sa, pb, sb, po, n); break;
    case B_DIV: binaryRowT(B_DIV, pa, sa, pb, sb, po, n); break;
    case B_MAX: binaryRowT(B_MAX, pa, sa, pb, sb, po, n); break;
    case B_MIN: binaryRowT(B_MIN, pa, sa, pb, sb, po, n); break;
    case B_POW: binaryRowT(B_POW, pa, sa, pb, sb, po, n); break;
    case B_EQ: binaryRowT(B_EQ, pa, sa, pb, sb, po, n); break;
    case B_NE: binaryRowT(B_NE, pa, sa, pb, sb, po, n); break;
    case B_LT: binaryRowT(B_LT, pa, sa, pb, sb, po, n); break;
    case B_LE: binaryRowT(B_LE, pa, sa, pb, sb, po, n); break;
    case B_GT: binaryRowT(B_GT, pa, sa, pb, sb, po, n); break;
    case B_GE: binaryRowT(B_GE, pa, sa, pb, sb, po, n); break;
    default: break;
  }
}

/** out = a op b; operands: a, b (strided), out (dense). */
export function ew_binary(op: i32, prm: usize, rank: i32): void {
  const n = dimAt(prm, rank - 1);
  const sa = strideAt(prm, rank, 0, rank - 1);
  const sb = strideAt(prm, rank, 1, rank - 1);
  const rows = outerRows(prm, rank);
  for (let r = 0; r < rows; r++) {
    binaryRow(op, ptrOf(prm, rank, 3, 0), sa, ptrOf(prm, rank, 3, 1), sb, ptrOf(prm, rank, 3, 2), n);
    advance(prm, rank, 3);
  }
}

/** Rank-1 form of ew_binary: out[i] = a[i * sa] op b[i * sb] with no params block (the host's fast path). */
export function ew_binary_flat(op: i32, pa: usize, sa: i32, pb: usize, sb: i32, po: usize, n: i32): void {
  binaryRow(op, pa, sa, pb, sb, po, n);
}

// ---- where ----

/** Lanes of `v` loaded at stride s: one vector load when s == 1, a splat when 0, else a gather. */
@inline function load4(p: usize, s: i32): v128 {
  if (s == 1) return v128.load(p);
  if (s == 0) return v128.load32_splat(p);
  return gather4(p, s);
}

@inline function whereVec(condI32: bool, c: v128, a: v128, b: v128): v128 {
  // f32: c != 0 is true for NaN and false for -0, as `C[i] !== 0` in the reference.
  const mask = condI32 ? i32x4.ne(c, i32x4.splat(0)) : f32x4.ne(c, f32x4.splat(0.0));
  return v128.bitselect(a, b, mask);
}

@inline function whereRowT(condI32: bool, pc: usize, sc: i32, pa: usize, sa: i32, pb: usize, sb: i32, po: usize, n: i32): void {
  let i = 0;
  if (sc == 1 && sa == 1 && sb == 1) {
    for (; i + 4 <= n; i += 4) {
      const o = <usize>i << 2;
      v128.store(po + o, whereVec(condI32, v128.load(pc + o), v128.load(pa + o), v128.load(pb + o)));
    }
  } else {
    for (; i + 4 <= n; i += 4) {
      v128.store(po + (<usize>i << 2), whereVec(condI32, load4(at(pc, i, sc), sc), load4(at(pa, i, sa), sa), load4(at(pb, i, sb), sb)));
    }
  }
  if (i < n) {
    const rem = n - i;
    const r = whereVec(condI32, loadPartial(at(pc, i, sc), sc, rem), loadPartial(at(pa, i, sa), sa, rem), loadPartial(at(pb, i, sb), sb, rem));
    storePartial(po + (<usize>i << 2), r, rem);
  }
}

/** out = cond != 0 ? a : b; operands: cond (f32, or i32 when condI32), a, b (strided), out (dense). */
export function ew_where(condI32: i32, prm: usize, rank: i32): void {
  const n = dimAt(prm, rank - 1);
  const sc = strideAt(prm, rank, 0, rank - 1);
  const sa = strideAt(prm, rank, 1, rank - 1);
  const sb = strideAt(prm, rank, 2, rank - 1);
  const rows = outerRows(prm, rank);
  for (let r = 0; r < rows; r++) {
    const pc = ptrOf(prm, rank, 4, 0);
    const pa = ptrOf(prm, rank, 4, 1);
    const pb = ptrOf(prm, rank, 4, 2);
    const po = ptrOf(prm, rank, 4, 3);
    if (condI32) whereRowT(true, pc, sc, pa, sa, pb, sb, po, n);
    else whereRowT(false, pc, sc, pa, sa, pb, sb, po, n);
    advance(prm, rank, 4);
  }
}

// ---- copy / cast ----

/**
 * Copies 4-byte elements bit for bit; operands: x, out (both strided). Rows are copied
 * in row-major order (the host routes overlapping x/out through a scratch buffer).
 */
export function ew_copy(prm: usize, rank: i32): void {
  const n = dimAt(prm, rank - 1);
  const sx = strideAt(prm, rank, 0, rank - 1);
  const so = strideAt(prm, rank, 1, rank - 1);
  const rows = outerRows(prm, rank);
  for (let r = 0; r < rows; r++) {
    const px = ptrOf(prm, rank, 2, 0);
    const po = ptrOf(prm, rank, 2, 1);
    if (so == 1 && sx == 1) {
      memory.copy(po, px, <usize>n << 2);
    } else if (so == 1) {
      let i = 0;
      for (; i + 4 <= n; i += 4) v128.store(po + (<usize>i << 2), load4(at(px, i, sx), sx));
      if (i < n) storePartial(po + (<usize>i << 2), loadPartial(at(px, i, sx), sx, n - i), n - i);
    } else {
      const sxb = <usize>(sx << 2);
      const sob = <usize>(so << 2);
      let a = px;
      let b = po;
      for (let i = 0; i < n; i++) {
        store<i32>(b, load<i32>(a));
        a += sxb;
        b += sob;
      }
    }
    advance(prm, rank, 2);
  }
}

const CAST_SAME = 0;
const CAST_F32_I32 = 1;
const CAST_I32_F32 = 2;

@inline function castVec(mode: i32, v: v128): v128 {
  // f32 -> i32 truncates toward zero, saturates and maps NaN to 0; i32 -> f32 rounds to nearest.
  if (mode == CAST_F32_I32) return i32x4.trunc_sat_f32x4_s(v);
  if (mode == CAST_I32_F32) return f32x4.convert_i32x4_s(v);
  return v;
}

@inline function castRowT(mode: i32, px: usize, sx: i32, po: usize, n: i32): void {
  let i = 0;
  if (sx == 1) {
    for (; i + 4 <= n; i += 4) v128.store(po + (<usize>i << 2), castVec(mode, v128.load(px + (<usize>i << 2))));
  } else {
    for (; i + 4 <= n; i += 4) v128.store(po + (<usize>i << 2), castVec(mode, load4(at(px, i, sx), sx)));
  }
  if (i < n) storePartial(po + (<usize>i << 2), castVec(mode, loadPartial(at(px, i, sx), sx, n - i)), n - i);
}

/** Converts dtypes; operands: x (strided), out (dense). mode: 0 same dtype, 1 f32 -> i32, 2 i32 -> f32. */
export function ew_cast(mode: i32, prm: usize, rank: i32): void {
  const n = dimAt(prm, rank - 1);
  const sx = strideAt(prm, rank, 0, rank - 1);
  const rows = outerRows(prm, rank);
  for (let r = 0; r < rows; r++) {
    const px = ptrOf(prm, rank, 2, 0);
    const po = ptrOf(prm, rank, 2, 1);
    if (mode == CAST_F32_I32) castRowT(CAST_F32_I32, px, sx, po, n);
    else if (mode == CAST_I32_F32) castRowT(CAST_I32_F32, px, sx, po, n);
    else castRowT(CAST_SAME, px, sx, po, n);
    advance(prm, rank, 2);
  }
}

// ---- dense kernels ----

/** Writes the 32-bit pattern `bits` to n elements at po. */
export function ew_fill(po: usize, n: i32, bits: i32): void {
  const v = i32x4.splat(bits);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(po + (<usize>i << 2), v);
  if (i < n) storePartial(po + (<usize>i << 2), v, n - i);
}

// hash32 of src/random.ts: murmur3's finaliser over seed ^ x * golden ratio.
@inline function hash4(seed: v128, x: v128): v128 {
  let h = v128.xor(seed, i32x4.mul(x, i32x4.splat(<i32>0x9e3779b1)));
  h = v128.xor(h, i32x4.shr_u(h, 16));
  h = i32x4.mul(h, i32x4.splat(<i32>0x85ebca6b));
  h = v128.xor(h, i32x4.shr_u(h, 13));
  h = i32x4.mul(h, i32x4.splat(<i32>0xc2b2ae35));
  return v128.xor(h, i32x4.shr_u(h, 16));
}

@inline function hash1(seed: u32, x: u32): u32 {
  let h = seed ^ (x * 0x9e3779b1);
  h ^= h >>> 16;
  h *= 0x85ebca6b;
  h ^= h >>> 13;
  h *= 0xc2b2ae35;
  return h ^ (h >>> 16);
}

@inline function uniform1(seed: u32, x: u32): f64 {
  return <f64>(hash1(seed, x) >>> 8) * (1.0 / 16777216.0);
}

/** out[i] = uniformAt(seed, counter + i) of src/random.ts, bit for bit (24 random bits per value). */
export function ew_random_uniform(po: usize, n: i32, seed: i32, counter: i32): void {
  const sv = i32x4.splat(seed);
  let c = i32x4.add(i32x4.splat(counter), i32x4(0, 1, 2, 3));
  const four = i32x4.splat(4);
  const scale = f32x4.splat(1.0 / 16777216.0);
  let i = 0;
  for (; i < n; i += 4) {
    const h = i32x4.shr_u(hash4(sv, c), 8);
    const u = f32x4.mul(f32x4.convert_i32x4_s(h), scale);
    if (i + 4 <= n) v128.store(po + (<usize>i << 2), u);
    else storePartial(po + (<usize>i << 2), u, n - i);
    c = i32x4.add(c, four);
  }
}

/**
 * out[i] = normalAt(seed, counter + i) of src/random.ts: Box-Muller in float64 on the
 * uniforms at 2c and 2c + 1 (table-free log and cos; within 1e-6 of the JS values).
 */
export function ew_random_normal(po: usize, n: i32, seed: i32, counter: i32): void {
  // Four values a step: their eight uniforms (counters 2c .. 2c + 7) in two hashes, then
  // Box-Muller on two f64x2 halves with the scalar code's operations (the same bits).
  const sv = i32x4.splat(seed);
  const lanes = i32x4(0, 1, 2, 3);
  const scale = f64x2.splat(1.0 / 16777216.0);
  const one = f64x2.splat(1.0);
  const minus2 = f64x2.splat(-2.0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const base = i32x4.splat((counter + i) << 1);
    const ha = i32x4.shr_u(hash4(sv, i32x4.add(base, lanes)), 8);
    const hb = i32x4.shr_u(hash4(sv, i32x4.add(base, i32x4.add(lanes, i32x4.splat(4)))), 8);
    // Even counters give u1, odd ones u2: values 0, 1 from ha and 2, 3 from hb.
    const e = i32x4.shuffle(ha, hb, 0, 2, 4, 6);
    const o = i32x4.shuffle(ha, hb, 1, 3, 5, 7);
    const u1lo = f64x2.sub(one, f64x2.mul(f64x2.convert_low_i32x4_u(e), scale));
    const u1hi = f64x2.sub(one, f64x2.mul(f64x2.convert_low_i32x4_u(i32x4.shuffle(e, e, 2, 3, 0, 1)), scale));
    const u2lo = f64x2.mul(f64x2.convert_low_i32x4_u(o), scale);
    const u2hi = f64x2.mul(f64x2.convert_low_i32x4_u(i32x4.shuffle(o, o, 2, 3, 0, 1)), scale);
    const zlo = f64x2.mul(f64x2.sqrt(f64x2.mul(minus2, logF64x2Normal(u1lo))), cos2piF64x2(u2lo));
    const zhi = f64x2.mul(f64x2.sqrt(f64x2.mul(minus2, logF64x2Normal(u1hi))), cos2piF64x2(u2hi));
    v128.store(po + (<usize>i << 2), demote2(zlo, zhi));
  }
  for (; i < n; i++) {
    const c = <u32>(counter + i);
    const u1 = 1.0 - uniform1(<u32>seed, c << 1);
    const u2 = uniform1(<u32>seed, (c << 1) + 1);
    store<f32>(po + (<usize>i << 2), <f32>(sqrt<f64>(-2.0 * logF64(u1)) * cos2piF64(u2)));
  }
}

/** dx = dy * gelu'(x) (tanh approximation) over n dense elements. */
export function ew_gelu_backward(px: usize, pdy: usize, pdx: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(pdx + o, f32x4.mul(v128.load(pdy + o), geluGrad4(v128.load(px + o))));
  }
  if (i < n) {
    const o = <usize>i << 2;
    const rem = n - i;
    storePartial(pdx + o, f32x4.mul(loadPartial(pdy + o, 1, rem), geluGrad4(loadPartial(px + o, 1, rem))), rem);
  }
}
