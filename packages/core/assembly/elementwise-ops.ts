// The per-op bodies of the elementwise family (assembly/elementwise.ts): unaryVec and
// binaryVec, one case per op of src/ops.ts (their codes come from
// generated/op-codes.ts), and the row loops they are inlined into. The kernels reach a
// row loop through generated/op-rows.ts, whose switch calls it with the op as a constant,
// so each op gets its own loop with the switch folded away. index.ts does not re-export
// this file: nothing here is a module export.

import {
  exp4, gather4, gelu4, log4, loadPartial, sigmoid4, storePartial, tanh4, powF64,
} from './vmath';
import {
  U_NEG, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_TANH, U_SIGMOID, U_RELU, U_GELU, U_ABS, U_POW,
  U_SQUARE, U_RECIPROCAL, U_SIGN, U_STEP, U_SILU, U_ONE, U_IDENT, U_POW_HALF,
  B_ADD, B_SUB, B_MUL, B_DIV, B_MAX, B_MIN, B_POW, B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE,
} from './generated/op-codes';

/** Address of element i of a row at p with stride s (elements, any sign). */
@inline export function at(p: usize, i: i32, s: i32): usize {
  return p + <usize>((i * s) << 2);
}

// ---- unary ----

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
    case U_RECIPROCAL: return f32x4.div(one, v);
    case U_SIGN: {
      // x > 0 ? 1 : x < 0 ? -1 : x (keeps +-0 and NaN)
      const r = v128.bitselect(one, v, f32x4.gt(v, zero));
      return v128.bitselect(f32x4.splat(-1.0), r, f32x4.lt(v, zero));
    }
    case U_STEP: return v128.and(one, f32x4.gt(v, zero));
    // x sigmoid(x): sigmoid4's error plus one rounding (< 2.5e-7 relative); -inf gives NaN
    // (-inf * 0) as the reference does.
    case U_SILU: return f32x4.mul(v, sigmoid4(v));
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

@inline export function unaryRowT(op: i32, px: usize, sx: i32, po: usize, n: i32, alpha: f64): void {
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
// ---- binary ----

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

@inline export function binaryRowT(op: i32, pa: usize, sa: i32, pb: usize, sb: i32, po: usize, n: i32): void {
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
