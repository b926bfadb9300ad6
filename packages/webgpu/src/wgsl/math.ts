/**
 * WGSL scalar math shared by the kernels. The built-in exp/log/tanh/cos of
 * WGSL have device-dependent precision (Vulkan allows cos an absolute error of
 * 2^-11, exp 3 + 2|x| ulp), so the transcendental ops are written out here:
 * Cody-Waite range reduction plus Cephes' single-precision minimax
 * polynomials, about 1-2 ulp on every device. NaN and infinities are
 * recognised from the bits and handled before any arithmetic: shader
 * compilers may assume finite values (Mesa folds `x * 0.0` to 0 and picks
 * ordered comparisons for `!=`). The constants inf and NaN come from a
 * private variable because WGSL's constant evaluation rejects them.
 */
export const MATH_WGSL = /* wgsl */ `
var<private> INF_BITS: u32 = 0x7f800000u;
fn f_inf() -> f32 { return bitcast<f32>(INF_BITS); }
fn f_nan() -> f32 { return bitcast<f32>(INF_BITS | 0x00400000u); }
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn is_inf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }
fn is_finite(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) < 0x7f800000u; }
fn nan2(a: f32, b: f32) -> bool { return is_nan(a) || is_nan(b); }

// max/min that propagate NaN and order -0 below +0 (as the reference's Math.max/min).
fn nmax(a: f32, b: f32) -> f32 {
  if (is_nan(a)) { return a; }
  if (is_nan(b)) { return b; }
  if (a == b) { return bitcast<f32>(bitcast<u32>(a) & bitcast<u32>(b)); }
  return select(b, a, a > b);
}
fn nmin(a: f32, b: f32) -> f32 {
  if (is_nan(a)) { return a; }
  if (is_nan(b)) { return b; }
  if (a == b) { return bitcast<f32>(bitcast<u32>(a) | bitcast<u32>(b)); }
  return select(b, a, a < b);
}

// e^x: x = n ln2 + r with ln2 split in two (n * 0.693359375 is exact), degree-6 polynomial.
fn t_exp(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  if (x > 88.72283935546875) { return f_inf(); }
  if (x < -103.97208404541016) { return 0.0; }
  let n = floor(x * 1.4426950408889634 + 0.5);
  var r = x - n * 0.693359375;
  r = r - n * -2.12194440e-4;
  var p = 1.9875691500e-4;
  p = p * r + 1.3981999507e-3;
  p = p * r + 8.3334519073e-3;
  p = p * r + 4.1665795894e-2;
  p = p * r + 1.6666665459e-1;
  p = p * r + 5.0000001201e-1;
  p = p * (r * r) + r + 1.0;
  let ni = i32(n);
  let h = ni / 2;
  return ldexp(ldexp(p, h), ni - h);
}

// ln x: x = m 2^e with m in [sqrt(1/2), sqrt(2)), degree-9 polynomial in m - 1. Subnormals scaled first.
fn t_log(x: f32) -> f32 {
  var b = bitcast<u32>(x);
  if (is_nan(x)) { return x; }
  if ((b & 0x7fffffffu) == 0u) { return -f_inf(); }
  if ((b & 0x80000000u) != 0u) { return f_nan(); }
  if (b == 0x7f800000u) { return x; }
  var e = 0;
  if (b < 0x00800000u) {
    b = bitcast<u32>(f32(b));
    e = -149;
  }
  e = e + i32((b >> 23u) & 0xffu) - 126;
  var m = bitcast<f32>((b & 0x007fffffu) | 0x3f000000u);
  if (m < 0.70710678118654752) {
    e = e - 1;
    m = m + m - 1.0;
  } else {
    m = m - 1.0;
  }
  let z = m * m;
  var y = 7.0376836292e-2;
  y = y * m - 1.1514610310e-1;
  y = y * m + 1.1676998740e-1;
  y = y * m - 1.2420140846e-1;
  y = y * m + 1.4249322787e-1;
  y = y * m - 1.6668057665e-1;
  y = y * m + 2.0000714765e-1;
  y = y * m - 2.4999993993e-1;
  y = y * m + 3.3333331174e-1;
  y = y * m * z;
  let fe = f32(e);
  y = y + fe * -2.12194440e-4;
  y = y - 0.5 * z;
  return (m + y) + fe * 0.693359375;
}

// log(1 + x) without cancellation for small x (Goldberg's u = 1 + x correction; u is opaque
// so that the compiler cannot simplify u - 1 back to x).
fn t_log1p(x: f32) -> f32 {
  let u = opaque(1.0 + x);
  if (u == 1.0) { return x; }
  if (!is_finite(u)) { return t_log(u); }
  return t_log(u) * (x / (u - 1.0));
}

fn t_tanh(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  let z = abs(x);
  if (z > 0.625) {
    if (z > 44.0) { return select(1.0, -1.0, x < 0.0); }
    let r = 1.0 - 2.0 / (t_exp(2.0 * z) + 1.0);
    return select(r, -r, x < 0.0);
  }
  if (z == 0.0) { return x; }
  let s = x * x;
  var p = -5.70498872745e-3;
  p = p * s + 2.06390887954e-2;
  p = p * s - 5.37397155531e-2;
  p = p * s + 1.33314422036e-1;
  p = p * s - 3.33332819422e-1;
  return p * s * x + x;
}

fn t_sigmoid(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  if (x >= 0.0) { return 1.0 / (1.0 + t_exp(-x)); }
  let e = t_exp(x);
  return e / (1.0 + e);
}

// GELU (tanh form): 0.5 x (1 + tanh(u)) = x sigmoid(2u), which does not cancel for x << 0.
const GELU_K: f32 = 0.7978845608028654;
const GELU_C: f32 = 0.044715;
fn t_gelu(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  if (x > 10.0) { return x; }
  // Below -10, gelu(x) < 1e-36: the reference's float64 gives -0 (and NaN at -inf, as inf * 0).
  if (x < -10.0) { return select(-0.0, f_nan(), is_inf(x)); }
  return x * t_sigmoid(2.0 * GELU_K * (x + GELU_C * x * x * x));
}

// gelu'(x) = 0.5 (1 + t) + 0.5 x (1 - t^2) u' with 1 + t = 2 s(2u) and 1 - t^2 = 4 s(2u) s(-2u).
fn t_gelu_grad(x: f32) -> f32 {
  if (is_nan(x)) { return x; }
  if (x > 10.0) { return 1.0; }
  if (x < -10.0) { return 0.0; }
  let u2 = 2.0 * GELU_K * (x + GELU_C * x * x * x);
  let s = t_sigmoid(u2);
  let sn = t_sigmoid(-u2);
  let du = GELU_K * (1.0 + 3.0 * GELU_C * x * x);
  return s + 2.0 * x * s * sn * du;
}

// |x|^n for a non-negative integer n by squaring (a few ulp; no log/exp error).
fn powi(x: f32, n: u32) -> f32 {
  var r = 1.0;
  var b = x;
  var k = n;
  loop {
    if ((k & 1u) != 0u) { r = r * b; }
    k = k >> 1u;
    if (k == 0u) { break; }
    b = b * b;
  }
  return r;
}

// x^y with JavaScript's Math.pow special cases (pow(1, inf) is NaN, pow(x, 0) is 1).
fn t_pow(x: f32, y: f32) -> f32 {
  if (y == 0.0) { return 1.0; }
  if (is_nan(x) || is_nan(y)) { return f_nan(); }
  let ax = abs(x);
  if (is_inf(y)) {
    if (ax == 1.0) { return f_nan(); }
    return select(0.0, f_inf(), (ax > 1.0) == (y > 0.0));
  }
  let yint = floor(y) == y;
  let yodd = yint && abs(y) < 16777216.0 && (i32(y) & 1) != 0;
  let neg = (bitcast<u32>(x) & 0x80000000u) != 0u;
  if (neg && !yint && ax != 0.0 && !is_inf(x)) { return f_nan(); }
  var r: f32;
  if (ax == 0.0) {
    r = select(f_inf(), 0.0, y > 0.0);
  } else if (is_inf(ax)) {
    r = select(0.0, f_inf(), y > 0.0);
  } else if (yint && abs(y) <= 64.0) {
    let p = powi(ax, u32(abs(y)));
    r = select(p, 1.0 / p, y < 0.0);
  } else if (y == 0.5) {
    r = sqrt(ax);
  } else {
    r = t_exp(y * t_log(ax));
  }
  return select(r, -r, neg && yodd);
}

// sin and cos of f * pi/2 for f in [0, 0.5] (Cephes sinf/cosf on [0, pi/4]).
fn sin_q(f: f32) -> f32 {
  let x = f * 1.5707963267948966;
  let z = x * x;
  return ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1) * z * x + x;
}
fn cos_q(f: f32) -> f32 {
  let x = f * 1.5707963267948966;
  let z = x * x;
  return ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2) * z * z - 0.5 * z + 1.0;
}
// cos(2 pi u) for u in [0, 1): quadrant from the exact 4u, then a fold to [0, pi/4].
fn cos_2pi(u: f32) -> f32 {
  let t = u * 4.0;
  let q = floor(t);
  let f = t - q;
  let c = select(sin_q(1.0 - f), cos_q(f), f <= 0.5);
  let s = select(cos_q(1.0 - f), sin_q(f), f <= 0.5);
  let qi = u32(q);
  if (qi == 0u) { return c; }
  if (qi == 1u) { return -s; }
  if (qi == 2u) { return -c; }
  return s;
}

// src/random.ts: murmur3's finaliser over a Weyl step; u32 arithmetic wraps as Math.imul does.
fn hash32(seed: u32, x: u32) -> u32 {
  var h = seed ^ (x * 0x9e3779b1u);
  h = h ^ (h >> 16u);
  h = h * 0x85ebca6bu;
  h = h ^ (h >> 13u);
  h = h * 0xc2b2ae35u;
  h = h ^ (h >> 16u);
  return h;
}
fn uniform_at(seed: u32, i: u32) -> f32 { return f32(hash32(seed, i) >> 8u) * (1.0 / 16777216.0); }
fn normal_at(seed: u32, i: u32) -> f32 {
  let u1 = 1.0 - uniform_at(seed, 2u * i);
  let u2 = uniform_at(seed, 2u * i + 1u);
  return sqrt(-2.0 * t_log(u1)) * cos_2pi(u2);
}

// i32 -> f32 rounded to nearest-even (WGSL leaves the rounding of f32(i) above 2^24 to the device).
fn i2f(v: i32) -> f32 {
  let neg = v < 0;
  let a = select(u32(v), ~u32(v) + 1u, neg);
  var r: f32;
  if (a < 16777216u) {
    r = f32(a);
  } else {
    let sh = 8u - countLeadingZeros(a);
    let rem = a & ((1u << sh) - 1u);
    let half = 1u << (sh - 1u);
    var m = a >> sh;
    if (rem > half || (rem == half && (m & 1u) == 1u)) { m = m + 1u; }
    r = ldexp(f32(m), i32(sh));
  }
  return select(r, -r, neg);
}

// f32 -> i32 truncating toward zero, saturating, NaN -> 0 (wasm's trunc_sat, as the reference).
fn f2i(x: f32) -> i32 {
  if (is_nan(x)) { return 0; }
  if (x >= 2147483648.0) { return 2147483647; }
  if (x <= -2147483648.0) { return -2147483647 - 1; }
  return i32(x);
}
`;

/** Linear invocation index over a 2-D grid of 1-D workgroups of `wg` invocations (see grid2d). */
export const GLOBAL_ID = (wg: number) => `(wid.y * nwg.x + wid.x) * ${wg}u + lid.x`;

/** Builtins every 1-D kernel's entry point takes. */
export const ENTRY_ARGS = '@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>';
