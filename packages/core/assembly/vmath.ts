// Table-free math shared by the kernel families (not a module export: index.ts does not
// re-export it). f32x4 approximations of exp, log, tanh, sigmoid and GELU for the SIMD
// kernels, and scalar f64 log / exp / pow / cos(2*pi*u) where a kernel needs float64
// (log-sum-exp, pow, Box-Muller). No lookup tables: the module has no static data.
//
// Worst relative error against float64, measured over wide ranges by
// `TESSERA_ACCURACY=1 npx vitest run test/elementwise.test.ts` (SIMD128 build):
// exp 7.6e-8 on [-87.3, 88.7] (subnormal results within one subnormal ulp), log 7.5e-8
// on [1e-45, 3.4e38], tanh 1.1e-7 on [-20, 20], sigmoid 1.7e-7 on [-87, 100], gelu 2.1e-7
// on [-10, 10] (vs an exact float64 GELU), gelu' 6.6e-7 where |gelu'| > 0.05 and 1e-7
// absolute near its root. The relaxed-SIMD build (fused madd) is within the same bounds.

// ---- lane helpers (byte addresses; strides in elements) ----

/** Four 4-byte elements at p, p + s, p + 2s, p + 3s (s in elements, any sign). */
@inline export function gather4(p: usize, s: i32): v128 {
  const sb = <usize>(s << 2);
  let v = v128.load32_zero(p);
  v = v128.load32_lane(p + sb, v, 1);
  v = v128.load32_lane(p + sb + sb, v, 2);
  return v128.load32_lane(p + sb + sb + sb, v, 3);
}

/** The first `rem` (1..3) elements at stride s into the low lanes; the other lanes are 0. */
@inline export function loadPartial(p: usize, s: i32, rem: i32): v128 {
  const sb = <usize>(s << 2);
  let v = v128.load32_zero(p);
  if (rem > 1) v = v128.load32_lane(p + sb, v, 1);
  if (rem > 2) v = v128.load32_lane(p + sb + sb, v, 2);
  return v;
}

/** Stores the low `rem` (1..3) lanes of v contiguously at p. */
@inline export function storePartial(p: usize, v: v128, rem: i32): void {
  v128.store32_lane(p, v, 0);
  if (rem > 1) v128.store32_lane(p, v, 1, 4);
  if (rem > 2) v128.store32_lane(p, v, 2, 8);
}

/** a * b + c; fused (one rounding) in the relaxed-SIMD build where the engine fuses. */
@inline export function madd4(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_madd(a, b, c);
  } else {
    return f32x4.add(f32x4.mul(a, b), c);
  }
}

/** c - a * b (fused in the relaxed build where the engine fuses). */
@inline export function nmadd4(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) {
    return f32x4.relaxed_nmadd(a, b, c);
  } else {
    return f32x4.sub(c, f32x4.mul(a, b));
  }
}

/** Adds the four f32 lanes of v into the two f64 lanes of acc. */
@inline export function accum4f64(acc: v128, v: v128): v128 {
  const lo = f64x2.promote_low_f32x4(v);
  const hi = f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
  return f64x2.add(acc, f64x2.add(lo, hi));
}

/** Sum of the two f64 lanes. */
@inline export function hsum2(v: v128): f64 {
  return f64x2.extract_lane(v, 0) + f64x2.extract_lane(v, 1);
}

/** Largest of the four f32 lanes; NaN if any lane is NaN. */
@inline export function hmax4(v: v128): f32 {
  const a = f32x4.max(v, i32x4.shuffle(v, v, 2, 3, 0, 1));
  const b = f32x4.max(a, i32x4.shuffle(a, a, 1, 0, 3, 2));
  return f32x4.extract_lane(b, 0);
}

/** e^r * 2^n for |r| <= ln2/2 (f32x4) and integral n in [-150, 129] (f32x4). */
@inline function expReduced(r: v128, n: v128): v128 {
  let p = f32x4.splat(1.9875691500e-4);
  p = madd4(p, r, f32x4.splat(1.3981999507e-3));
  p = madd4(p, r, f32x4.splat(8.3334519073e-3));
  p = madd4(p, r, f32x4.splat(4.1665795894e-2));
  p = madd4(p, r, f32x4.splat(1.6666665459e-1));
  p = madd4(p, r, f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(madd4(p, f32x4.mul(r, r), r), f32x4.splat(1.0));
  // 2^n as two exact power-of-two factors, both normal floats, so overflow gives +inf
  // and results below the normal range round once into subnormals.
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const bias = i32x4.splat(127);
  const s1 = i32x4.shl(i32x4.add(n1, bias), 23);
  const s2 = i32x4.shl(i32x4.add(n2, bias), 23);
  return f32x4.mul(f32x4.mul(y, s1), s2);
}

/**
 * e^x, Cephes expf: n = round(x / ln2), r = x - n ln2 (two-part Cody-Waite), a degree-5
 * polynomial for e^r, then the 2^n scaling of expReduced. NaN propagates.
 */
@inline export function exp4(x: v128): v128 {
  // Beyond these bounds the f32 result is +inf / 0 anyway. pmin(x, c) = c < x ? c : x and
  // pmax(x, c) = x < c ? c : x return x itself when it is NaN (and are single instructions).
  const xc = f32x4.pmax(f32x4.pmin(x, f32x4.splat(89.0)), f32x4.splat(-104.0));
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.44269504088896341)));
  let r = nmadd4(n, f32x4.splat(0.693359375), xc);
  r = nmadd4(n, f32x4.splat(-2.12194440e-4), r);
  return expReduced(r, n);
}

/**
 * e^w for an argument held in float64 (lanes 0-1 in lo, 2-3 in hi): the reduction
 * r = w - n ln2 runs in f64, so the result keeps f32 accuracy even where |w| is large
 * and an f32-rounded w would already be off by |w| 2^-24.
 */
@inline export function exp4wide(lo: v128, hi: v128): v128 {
  const top = f64x2.splat(89.0);
  const bottom = f64x2.splat(-104.0);
  const log2e = f64x2.splat(1.4426950408889634);
  const ln2 = f64x2.splat(0.6931471805599453);
  const wl = f64x2.pmax(f64x2.pmin(lo, top), bottom);
  const wh = f64x2.pmax(f64x2.pmin(hi, top), bottom);
  const nl = f64x2.nearest(f64x2.mul(wl, log2e));
  const nh = f64x2.nearest(f64x2.mul(wh, log2e));
  const rl = f64x2.sub(wl, f64x2.mul(nl, ln2));
  const rh = f64x2.sub(wh, f64x2.mul(nh, ln2));
  const r = i32x4.shuffle(f32x4.demote_f64x2_zero(rl), f32x4.demote_f64x2_zero(rh), 0, 1, 4, 5);
  const n = i32x4.shuffle(f32x4.demote_f64x2_zero(nl), f32x4.demote_f64x2_zero(nh), 0, 1, 4, 5);
  return expReduced(r, n);
}

/** The four f32 lanes of v as two f64x2 halves. */
@inline export function promoteLo(v: v128): v128 {
  return f64x2.promote_low_f32x4(v);
}

@inline export function promoteHi(v: v128): v128 {
  return f64x2.promote_low_f32x4(i32x4.shuffle(v, v, 2, 3, 0, 1));
}

/** Two f64x2 halves rounded back into one f32x4. */
@inline export function demote2(lo: v128, hi: v128): v128 {
  return i32x4.shuffle(f32x4.demote_f64x2_zero(lo), f32x4.demote_f64x2_zero(hi), 0, 1, 4, 5);
}

/**
 * Natural log, Cephes logf: x = m 2^e with m in [sqrt(1/2), sqrt(2)), a degree-9
 * polynomial in m - 1, e ln2 added in two parts. Subnormals are scaled first.
 * log(+-0) = -inf, log(x < 0) = NaN, log(+inf) = +inf, NaN propagates.
 */
@inline export function log4(x: v128): v128 {
  const zero = f32x4.splat(0.0);
  // Subnormal inputs: scale by 2^23 and take 23 off the exponent.
  const sub = f32x4.lt(x, f32x4.splat(1.17549435e-38));
  const xs = v128.bitselect(f32x4.mul(x, f32x4.splat(8388608.0)), x, sub);
  let e = i32x4.sub(i32x4.shr_u(xs, 23), i32x4.splat(126));
  e = i32x4.sub(e, v128.and(sub, i32x4.splat(23)));
  let m = v128.or(v128.and(xs, i32x4.splat(0x007fffff)), i32x4.splat(0x3f000000));
  // m in [0.5, 1): below sqrt(1/2) use 2m - 1 and e - 1, else m - 1.
  const lo = f32x4.lt(m, f32x4.splat(0.707106781186547524));
  e = i32x4.add(e, lo);
  m = f32x4.add(f32x4.sub(m, f32x4.splat(1.0)), v128.and(m, lo));
  const z = f32x4.mul(m, m);
  let p = f32x4.splat(7.0376836292e-2);
  p = madd4(p, m, f32x4.splat(-1.1514610310e-1));
  p = madd4(p, m, f32x4.splat(1.1676998740e-1));
  p = madd4(p, m, f32x4.splat(-1.2420140846e-1));
  p = madd4(p, m, f32x4.splat(1.4249322787e-1));
  p = madd4(p, m, f32x4.splat(-1.6668057665e-1));
  p = madd4(p, m, f32x4.splat(2.0000714765e-1));
  p = madd4(p, m, f32x4.splat(-2.4999993993e-1));
  p = madd4(p, m, f32x4.splat(3.3333331174e-1));
  const fe = f32x4.convert_i32x4_s(e);
  let y = f32x4.mul(f32x4.mul(p, m), z);
  y = madd4(fe, f32x4.splat(-2.12194440e-4), y);
  y = nmadd4(z, f32x4.splat(0.5), y);
  let r = f32x4.add(m, y);
  r = madd4(fe, f32x4.splat(0.693359375), r);
  // Special values: +inf stays, 0 -> -inf, negative or NaN -> NaN.
  r = v128.bitselect(x, r, f32x4.eq(x, f32x4.splat(Infinity)));
  r = v128.bitselect(f32x4.splat(-Infinity), r, f32x4.eq(x, zero));
  const bad = v128.or(f32x4.lt(x, zero), f32x4.ne(x, x));
  return v128.bitselect(f32x4.splat(NaN), r, bad);
}

/**
 * tanh: Cephes tanhf's odd polynomial for |x| < 0.625, else 1 - 2 / (e^{2|x|} + 1)
 * with the sign restored (saturates to +-1, keeps -0 and NaN).
 */
@inline export function tanh4(x: v128): v128 {
  const ax = f32x4.abs(x);
  const z = f32x4.mul(x, x);
  let p = f32x4.splat(-5.70498872745e-3);
  p = madd4(p, z, f32x4.splat(2.06390887954e-2));
  p = madd4(p, z, f32x4.splat(-5.37397155531e-2));
  p = madd4(p, z, f32x4.splat(1.33314422036e-1));
  p = madd4(p, z, f32x4.splat(-3.33332819422e-1));
  const small = madd4(f32x4.mul(ax, z), p, ax);
  const e = exp4(f32x4.add(ax, ax));
  const big = f32x4.sub(f32x4.splat(1.0), f32x4.div(f32x4.splat(2.0), f32x4.add(e, f32x4.splat(1.0))));
  // |tanh| from either branch, then x's sign (tanh is odd; keeps -0).
  const mag = v128.bitselect(small, big, f32x4.lt(ax, f32x4.splat(0.625)));
  return v128.or(mag, v128.and(x, i32x4.splat(<i32>0x80000000)));
}

/** 1 / (1 + e^-x), evaluated as e^x / (1 + e^x) for x < 0 so tiny results keep their precision. */
@inline export function sigmoid4(x: v128): v128 {
  const e = exp4(f32x4.neg(f32x4.abs(x)));
  const q = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), e));
  return v128.bitselect(q, f32x4.mul(e, q), f32x4.ge(x, f32x4.splat(0.0)));
}

// GELU (tanh form): 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3). With
// w = 2u = x (K1 + K2 x^2), 0.5 (1 + tanh(u)) = sigmoid(w), which has no cancellation.
// w is formed in float64 and fed to exp4wide: in the negative tail |w| reaches ~100 and
// an f32 w would cost |w| ulps of relative accuracy.
const GELU_K1: f64 = 1.5957691216057308; // 2 sqrt(2/pi)
const GELU_K2: f64 = 0.07135481627260025; // 2 sqrt(2/pi) 0.044715
const GELU_K2X3: f32 = 0.21406444881780075; // 3 K2

@inline function geluW(x: v128): v128 {
  return f64x2.mul(x, f64x2.add(f64x2.mul(f64x2.mul(x, x), f64x2.splat(GELU_K2)), f64x2.splat(GELU_K1)));
}

/** GELU, tanh approximation, as x * sigmoid(w). */
@inline export function gelu4(x: v128): v128 {
  const wl = geluW(promoteLo(x));
  const wh = geluW(promoteHi(x));
  // e = e^-|w|, q = 1 / (1 + e): sigmoid(w) = q for w >= 0, e q otherwise.
  const e = exp4wide(f64x2.neg(f64x2.abs(wl)), f64x2.neg(f64x2.abs(wh)));
  const q = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), e));
  const pos = f32x4.ge(x, f32x4.splat(0.0));
  return f32x4.mul(x, v128.bitselect(q, f32x4.mul(e, q), pos));
}

/**
 * d gelu / dx = s + x s (1 - s) (K1 + 3 K2 x^2), s = sigmoid(w): the tanh form's
 * 0.5 (1 + t) + 0.5 x (1 - t^2) u' rewritten with 1 + t = 2s, 1 - t = 2(1 - s).
 * |x| is capped at 1e9 (x^2 would overflow f32 where the result is already exactly
 * 1 or 0); +-inf gives NaN as the float64 formula does.
 */
@inline export function geluGrad4(x: v128): v128 {
  const xc = f32x4.pmax(f32x4.pmin(x, f32x4.splat(1e9)), f32x4.splat(-1e9));
  const wl = geluW(promoteLo(xc));
  const wh = geluW(promoteHi(xc));
  const e = exp4wide(f64x2.neg(f64x2.abs(wl)), f64x2.neg(f64x2.abs(wh)));
  const q = f32x4.div(f32x4.splat(1.0), f32x4.add(f32x4.splat(1.0), e));
  const eq = f32x4.mul(e, q);
  // w has the sign of x.
  const pos = f32x4.ge(xc, f32x4.splat(0.0));
  const s = v128.bitselect(q, eq, pos);
  const sm = v128.bitselect(eq, q, pos);
  const du = madd4(f32x4.mul(xc, xc), f32x4.splat(GELU_K2X3), f32x4.splat(<f32>GELU_K1));
  const g = madd4(f32x4.mul(f32x4.mul(xc, s), sm), du, s);
  return v128.bitselect(f32x4.splat(NaN), g, f32x4.eq(f32x4.abs(x), f32x4.splat(Infinity)));
}

// ---- scalar float64 (fdlibm-style algorithms, no tables) ----

const LN2_HI: f64 = 6.93147180369123816490e-01;
const LN2_LO: f64 = 1.90821492927058770002e-10;

/** Natural log in float64 (fdlibm's __ieee754_log): about 1 ulp. */
export function logF64(x: f64): f64 {
  let u = reinterpret<u64>(x);
  let hx = <u32>(u >> 32);
  let k: i32 = 0;
  if ((hx >> 31) != 0 || hx < 0x00100000) {
    if (u << 1 == 0) return -Infinity;
    if ((hx >> 31) != 0) return NaN;
    // Subnormal: scale up by 2^54.
    k = -54;
    x *= 18014398509481984.0;
    u = reinterpret<u64>(x);
    hx = <u32>(u >> 32);
  } else if (hx >= 0x7ff00000) {
    return x;
  }
  // Normalise the mantissa into [sqrt(2)/2, sqrt(2)).
  hx += 0x3ff00000 - 0x3fe6a09e;
  k += <i32>(hx >> 20) - 0x3ff;
  hx = (hx & 0x000fffff) + 0x3fe6a09e;
  x = reinterpret<f64>((<u64>hx << 32) | (u & 0xffffffff));
  const f = x - 1.0;
  const hfsq = 0.5 * f * f;
  const s = f / (2.0 + f);
  const z = s * s;
  const w = z * z;
  const t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
  const t2 = z * (6.666666666666735130e-01 + w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
  const r = t2 + t1;
  const dk = <f64>k;
  return s * (hfsq + r) + dk * LN2_LO - hfsq + f + dk * LN2_HI;
}

/** log(1 + x) in float64, accurate for tiny x (log(u) x / (u - 1) with u = 1 + x). */
export function log1pF64(x: f64): f64 {
  const u = 1.0 + x;
  if (u == 1.0) return x;
  if (u == Infinity) return u;
  return logF64(u) * (x / (u - 1.0));
}

/** e^x in float64 (fdlibm's __ieee754_exp): about 1 ulp, overflow to +inf, underflow to 0. */
export function expF64(x: f64): f64 {
  if (x != x) return x;
  if (x > 709.782712893383973096) return Infinity;
  if (x < -745.13321910194110842) return 0.0;
  const kf = nearest<f64>(x * 1.44269504088896338700);
  const hi = x - kf * LN2_HI;
  const lo = kf * LN2_LO;
  const r = hi - lo;
  const t = r * r;
  const c = r - t * (1.66666666666666019037e-01 + t * (-2.77777777770155933842e-03 + t * (6.61375632143793436117e-05 + t * (-1.65339022054652515390e-06 + t * 4.13813679705723846039e-08))));
  const y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi);
  // 2^k as two normal factors so k in [-1075, 1024] scales without overflow of the factors.
  const k = <i32>kf;
  const k1 = k >> 1;
  const k2 = k - k1;
  return y * reinterpret<f64>(<u64>(k1 + 1023) << 52) * reinterpret<f64>(<u64>(k2 + 1023) << 52);
}

/** True when y is an odd integer (y finite). */
@inline function isOddInt(y: f64): bool {
  if (floor<f64>(y) != y) return false;
  const h = y * 0.5;
  return floor<f64>(h) != h;
}

/** x ** y with ECMAScript Math.pow semantics, as exp(y log|x|) in float64 (plenty for an f32 result). */
export function powF64(x: f64, y: f64): f64 {
  if (y != y) return NaN;
  if (y == 0.0) return 1.0;
  if (x != x) return NaN;
  const ay = abs<f64>(y);
  const ax = abs<f64>(x);
  if (ay == Infinity) {
    if (ax == 1.0) return NaN;
    return (ax > 1.0) == (y > 0.0) ? Infinity : 0.0;
  }
  const yInt = floor<f64>(y) == y;
  const odd = yInt && isOddInt(y);
  const neg = x < 0.0 || (x == 0.0 && reinterpret<u64>(x) >> 63 != 0);
  if (ax == Infinity || ax == 0.0) {
    // |x| is 0 or inf: the magnitude is 0 or inf, the sign is x's when y is an odd integer.
    const big = (ax == Infinity) == (y > 0.0);
    const mag: f64 = big ? Infinity : 0.0;
    return neg && odd ? -mag : mag;
  }
  if (x < 0.0 && !yInt) return NaN;
  const r = expF64(y * logF64(ax));
  return x < 0.0 && odd ? -r : r;
}

/** c + z * p on two f64 lanes (one Horner step, rounded as the scalar expression is). */
@inline function horner2(c: f64, z: v128, p: v128): v128 {
  return f64x2.add(f64x2.splat(c), f64x2.mul(z, p));
}

/**
 * logF64 on two lanes, for positive normal finite x only (Box-Muller's 1 - u): the same
 * operations in the same order, so each lane has the bits logF64 gives.
 */
@inline export function logF64x2Normal(x: v128): v128 {
  // The high word of each lane, normalised as in logF64; k is its exponent offset.
  let hx = i64x2.add(i64x2.shr_u(x, 32), i64x2.splat(0x3ff00000 - 0x3fe6a09e));
  const k = i64x2.sub(i64x2.shr_u(hx, 20), i64x2.splat(0x3ff));
  hx = i64x2.add(v128.and(hx, i64x2.splat(0x000fffff)), i64x2.splat(0x3fe6a09e));
  const m = v128.or(i64x2.shl(hx, 32), v128.and(x, i64x2.splat(0xffffffff)));
  const one = f64x2.splat(1.0);
  const f = f64x2.sub(m, one);
  const hfsq = f64x2.mul(f64x2.mul(f64x2.splat(0.5), f), f);
  const s = f64x2.div(f, f64x2.add(f64x2.splat(2.0), f));
  const z = f64x2.mul(s, s);
  const w = f64x2.mul(z, z);
  const t1 = f64x2.mul(w, horner2(3.999999999940941908e-01, w, horner2(2.222219843214978396e-01, w, f64x2.splat(1.531383769920937332e-01))));
  const t2 = f64x2.mul(z, horner2(6.666666666666735130e-01, w, horner2(2.857142874366239149e-01, w, horner2(1.818357216161805012e-01, w, f64x2.splat(1.479819860511658591e-01)))));
  const r = f64x2.add(t2, t1);
  // k is small: its low 32 bits as an i32, converted exactly.
  const dk = f64x2.convert_low_i32x4_s(i32x4.shuffle(k, k, 0, 2, 0, 2));
  let y = f64x2.add(f64x2.mul(s, f64x2.add(hfsq, r)), f64x2.mul(dk, f64x2.splat(LN2_LO)));
  y = f64x2.add(f64x2.sub(y, hfsq), f);
  return f64x2.add(y, f64x2.mul(dk, f64x2.splat(LN2_HI)));
}

/** cos2piF64 on two lanes (u in [0, 1)): the same operations, both kernels, lanes picked by quadrant. */
@inline export function cos2piF64x2(u: v128): v128 {
  const t = f64x2.mul(u, f64x2.splat(4.0));
  const kf = f64x2.nearest(t);
  const a = f64x2.mul(f64x2.sub(t, kf), f64x2.splat(1.57079632679489661923));
  const z = f64x2.mul(a, a);
  let p = f64x2.splat(-1.13596475577881948265e-11);
  p = horner2(2.08757232129817482790e-09, z, p);
  p = horner2(-2.75573143513906633035e-07, z, p);
  p = horner2(2.48015872894767294178e-05, z, p);
  p = horner2(-1.38888888888741095749e-03, z, p);
  p = horner2(4.16666666666666019037e-02, z, p);
  const r = f64x2.mul(z, p);
  const hz = f64x2.mul(f64x2.splat(0.5), z);
  const one = f64x2.splat(1.0);
  const w = f64x2.sub(one, hz);
  const c = f64x2.add(w, f64x2.add(f64x2.sub(f64x2.sub(one, w), hz), f64x2.mul(z, r)));
  const v = f64x2.mul(z, a);
  let sp = f64x2.splat(1.58969099521155010221e-10);
  sp = horner2(-2.50507602534068634195e-08, z, sp);
  sp = horner2(2.75573137070700676789e-06, z, sp);
  sp = horner2(-1.98412698298579493134e-04, z, sp);
  sp = horner2(8.33333333332248946124e-03, z, sp);
  sp = horner2(-1.66666666666666324348e-01, z, sp);
  const s = f64x2.add(a, f64x2.mul(v, sp));
  // kf in {0, .., 4}: odd quadrants take sin, quadrants 1 and 2 negate.
  const odd = v128.or(f64x2.eq(kf, one), f64x2.eq(kf, f64x2.splat(3.0)));
  const neg = v128.or(f64x2.eq(kf, one), f64x2.eq(kf, f64x2.splat(2.0)));
  const mag = v128.bitselect(s, c, odd);
  return v128.bitselect(f64x2.neg(mag), mag, neg);
}

/**
 * cos(2 pi u) for u in [0, 1) (Box-Muller): 4u is split exactly into a quadrant k and
 * r in [-1/2, 1/2], so the only rounding before the fdlibm kernels is r * pi/2.
 */
export function cos2piF64(u: f64): f64 {
  const t = u * 4.0;
  const kf = nearest<f64>(t);
  const a = (t - kf) * 1.57079632679489661923;
  const z = a * a;
  const q = (<i32>kf) & 3;
  if ((q & 1) == 0) {
    // cos(a) (fdlibm __kernel_cos with y = 0)
    const r = z * (4.16666666666666019037e-02 + z * (-1.38888888888741095749e-03 + z * (2.48015872894767294178e-05 + z * (-2.75573143513906633035e-07 + z * (2.08757232129817482790e-09 + z * -1.13596475577881948265e-11)))));
    const hz = 0.5 * z;
    const w = 1.0 - hz;
    const c = w + (((1.0 - w) - hz) + z * r);
    return q == 0 ? c : -c;
  }
  // sin(a) (fdlibm __kernel_sin with y = 0)
  const v = z * a;
  const s = a + v * (-1.66666666666666324348e-01 + z * (8.33333333332248946124e-03 + z * (-1.98412698298579493134e-04 + z * (2.75573137070700676789e-06 + z * (-2.50507602534068634195e-08 + z * 1.58969099521155010221e-10)))));
  return q == 1 ? -s : s;
}
