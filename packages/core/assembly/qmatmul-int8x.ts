// Kernel family: qmatmul with int8 activations (QMatmulParams.activations = 'int8'). Host
// side: src/wasm/kernels/qmatmul.ts. x is quantized per row and group first
// (qmatmul_quantize_rows: symmetric int8, one f32 scale sx per groupSize values, the same
// integers as src/quant.ts quantizeActivations), then every group's dot product with a
// weight row is a sum of integer products, exact in i32, and scaled once:
// out[i, j] = sum_g fround(sx[i, g] * sw[j, g]) * D[i, j, g] (in f32, lanes summed at the end).
//
// Integer products, per 16 values of a group (int4 weights: q in [-8, 7]; int8: [-127, 127];
// xq in [-127, 127]):
// - SIMD128 build, and int8 weights in the relaxed build: both sides widened to i16 and
//   multiplied pairwise into i32 lanes (i32x4.dot_i16x8_s): 2 products a lane a
//   instruction, |lane| <= 8 * 127 * 127 a 32-value step, under 2^20 for a 128-value group.
// - Relaxed build, int4 weights: i16x8.relaxed_dot_i8x16_i7x16_s(xq, u) with u the stored
//   nibble q + 8, in [0, 15]: its second operand must have the top bit clear (7-bit) for
//   the result to be defined the same on every engine, which a nibble does, and the i16
//   pair sums (|.| <= 2 * 127 * 15) cannot saturate, so the products are exact; the pairs
//   are added into the i32 lanes by i32x4.extadd_pairwise_i16x8_s (x64: pmaddubsw, pmaddwd,
//   paddd for 16 products, against 2 widenings + 2 pmaddwd + 2 paddd). The fused
//   i32x4.relaxed_dot_i8x16_i7x16_add_s would save the add, but V8 11.3 (Node 20, behind
//   its flag) returns twice the sum from it (Deno 2.9's V8 and Bun 1.4 return the sum). The group's sum of xq * u minus 8 * sum(xq)
//   (kept per row and group by the quantizer) is sum(xq * q). int8 weights would need their
//   sign bit split off (two dots per step), which costs what the widened form does, so they
//   take that form.
// Each lane's sum is below 2^24, so its conversion to f32 is exact: the only rounding is in
// the scaling and the final f32 sums.
//
// Rows are processed one at a time against 4 weight rows per pass (the 16 xq values loaded
// and widened once serve 4 columns); columns are the outer loop, so those 4 weight rows stay
// in L1 while every row of x passes. Threads split the columns, so the bits do not depend on
// the number of threads.

import { madd4 } from './vmath';

@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Whether int4 weights use the relaxed 8 x 7-bit dot product (relaxed build only). */
@inline function relaxedInt4(bits: i32): bool {
  return ASC_FEATURE_RELAXED_SIMD && bits == 4;
}

/**
 * Quantizes x [m, k] f32 per row and group of groupSize values: xs[i, g] = max|x| / 127
 * (f32), xq = nearest-even(x / xs) clamped to [-127, 127] (all-zero group: 0 / 0 is NaN,
 * which saturating truncation makes 0), xsum[i, g] = sum of the group's xq (i32). xq: m * k
 * bytes, xs / xsum: m * k / groupSize 4-byte values. groupSize is a multiple of 16.
 */
export function qmatmul_quantize_rows(x: usize, xq: usize, xs: usize, xsum: usize, m: i32, k: i32, groupSize: i32): void {
  const groups = k / groupSize;
  const lim = f32x4.splat(127);
  const nlim = f32x4.splat(-127);
  for (let i = 0; i < m; i++) {
    for (let g = 0; g < groups; g++) {
      const l0 = i * k + g * groupSize;
      const xp = x + (<usize>l0 << 2);
      let amax = f32x4.splat(0);
      for (let t = 0; t < groupSize; t += 4) amax = f32x4.max(amax, f32x4.abs(v128.load(xp + (<usize>t << 2))));
      const h = f32x4.max(amax, i32x4.shuffle(amax, amax, 2, 3, 0, 1));
      const a = f32x4.max(h, i32x4.shuffle(h, h, 1, 0, 3, 2));
      const sx = f32x4.extract_lane(a, 0) / 127;
      const gi = <usize>(i * groups + g) << 2;
      store<f32>(xs + gi, sx);
      const sv = f32x4.splat(sx);
      let sum = i32x4.splat(0);
      for (let t = 0; t < groupSize; t += 16) {
        const p = xp + (<usize>t << 2);
        const c0 = i32x4.trunc_sat_f32x4_s(f32x4.max(nlim, f32x4.min(lim, f32x4.nearest(f32x4.div(v128.load(p), sv)))));
        const c1 = i32x4.trunc_sat_f32x4_s(f32x4.max(nlim, f32x4.min(lim, f32x4.nearest(f32x4.div(v128.load(p, 16), sv)))));
        const c2 = i32x4.trunc_sat_f32x4_s(f32x4.max(nlim, f32x4.min(lim, f32x4.nearest(f32x4.div(v128.load(p, 32), sv)))));
        const c3 = i32x4.trunc_sat_f32x4_s(f32x4.max(nlim, f32x4.min(lim, f32x4.nearest(f32x4.div(v128.load(p, 48), sv)))));
        sum = i32x4.add(sum, i32x4.add(i32x4.add(c0, c1), i32x4.add(c2, c3)));
        v128.store(xq + <usize>(l0 + t), i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(c0, c1), i16x8.narrow_i32x4_s(c2, c3)));
      }
      store<i32>(xsum + gi, i32x4.extract_lane(sum, 0) + i32x4.extract_lane(sum, 1) + i32x4.extract_lane(sum, 2) + i32x4.extract_lane(sum, 3));
    }
  }
}

/**
 * The 16 values [16 s, 16 s + 16) of weight row qrow as the form step() multiplies: int8
 * lanes q (int8 bytes; int4: nibble - 8), or for relaxedInt4 the raw nibbles q + 8.
 */
@inline function weights16(qrow: usize, s: i32, bits: i32): v128 {
  if (bits == 8) return v128.load(qrow + (<usize>s << 4));
  const b = v128.load(qrow + (<usize>(s >> 1) << 4));
  const u = (s & 1) == 0 ? v128.and(b, i8x16.splat(0x0f)) : i8x16.shr_u(b, 4);
  return relaxedInt4(bits) ? u : i8x16.sub(u, i8x16.splat(8));
}

/** acc + the products of 16 xq values (xv; xl / xh: widened halves) with 16 weights w. */
@inline function step(acc: v128, xv: v128, xl: v128, xh: v128, w: v128, bits: i32): v128 {
  // The static test first: the SIMD128 build must not contain the relaxed instruction.
  if (ASC_FEATURE_RELAXED_SIMD) {
    if (bits == 4) return i32x4.add(acc, i32x4.extadd_pairwise_i16x8_s(i16x8.relaxed_dot_i8x16_i7x16_s(xv, w)));
  }
  acc = i32x4.add(acc, i32x4.dot_i16x8_s(xl, i16x8.extend_low_i8x16_s(w)));
  return i32x4.add(acc, i32x4.dot_i16x8_s(xh, i16x8.extend_high_i8x16_s(w)));
}

/** The group's correction for relaxedInt4 (-8 * sum(xq) in lane 0; 0 otherwise). */
@inline function correction(xsum: usize, gi: usize, bits: i32): v128 {
  if (!relaxedInt4(bits)) return i32x4.splat(0);
  return i32x4.replace_lane(i32x4.splat(0), 0, -8 * load<i32>(xsum + gi));
}

/**
 * Columns [col0, col0 + cols) of out = (activations quantized by qmatmul_quantize_rows) @
 * dequant(W)^T, all m rows (byte addresses; q / scales as in qmatmul_f32_part).
 */
export function qmatmul_int8x_part(
  xq: usize, xs: usize, xsum: usize, q: usize, scales: usize, out: usize,
  m: i32, n: i32, k: i32, bits: i32, groupSize: i32, col0: i32, cols: i32,
): void {
  const groups = k / groupSize;
  const steps = groupSize >> 4;
  const rowBytes = <usize>((k * bits) >> 3);
  const sStep = <usize>groups << 2;
  let j = col0;
  for (; j + 4 <= col0 + cols; j += 4) {
    const q0 = q + <usize>j * rowBytes;
    const q1 = q0 + rowBytes;
    const q2 = q1 + rowBytes;
    const q3 = q2 + rowBytes;
    const s0 = scales + ((<usize>j * <usize>groups) << 2);
    for (let i = 0; i < m; i++) {
      const xrow = xq + <usize>i * <usize>k;
      let t0 = f32x4.splat(0);
      let t1 = f32x4.splat(0);
      let t2 = f32x4.splat(0);
      let t3 = f32x4.splat(0);
      for (let g = 0; g < groups; g++) {
        const gi = <usize>(i * groups + g) << 2;
        const corr = correction(xsum, gi, bits);
        let a0 = corr;
        let a1 = corr;
        let a2 = corr;
        let a3 = corr;
        for (let s = g * steps; s < (g + 1) * steps; s++) {
          const xv = v128.load(xrow + (<usize>s << 4));
          const xl = i16x8.extend_low_i8x16_s(xv);
          const xh = i16x8.extend_high_i8x16_s(xv);
          a0 = step(a0, xv, xl, xh, weights16(q0, s, bits), bits);
          a1 = step(a1, xv, xl, xh, weights16(q1, s, bits), bits);
          a2 = step(a2, xv, xl, xh, weights16(q2, s, bits), bits);
          a3 = step(a3, xv, xl, xh, weights16(q3, s, bits), bits);
        }
        const sx = load<f32>(xs + gi);
        const so = s0 + (<usize>g << 2);
        t0 = madd4(f32x4.convert_i32x4_s(a0), f32x4.splat(sx * load<f32>(so)), t0);
        t1 = madd4(f32x4.convert_i32x4_s(a1), f32x4.splat(sx * load<f32>(so + sStep)), t1);
        t2 = madd4(f32x4.convert_i32x4_s(a2), f32x4.splat(sx * load<f32>(so + 2 * sStep)), t2);
        t3 = madd4(f32x4.convert_i32x4_s(a3), f32x4.splat(sx * load<f32>(so + 3 * sStep)), t3);
      }
      const o = out + ((<usize>i * <usize>n + <usize>j) << 2);
      store<f32>(o, hsum(t0));
      store<f32>(o, hsum(t1), 4);
      store<f32>(o, hsum(t2), 8);
      store<f32>(o, hsum(t3), 12);
    }
  }
  for (; j < col0 + cols; j++) {
    const qr = q + <usize>j * rowBytes;
    const sr = scales + ((<usize>j * <usize>groups) << 2);
    for (let i = 0; i < m; i++) {
      const xrow = xq + <usize>i * <usize>k;
      let t0 = f32x4.splat(0);
      for (let g = 0; g < groups; g++) {
        const gi = <usize>(i * groups + g) << 2;
        const a0 = groupDot(xrow, qr, g, steps, correction(xsum, gi, bits), bits);
        t0 = madd4(f32x4.convert_i32x4_s(a0), f32x4.splat(load<f32>(xs + gi) * load<f32>(sr + (<usize>g << 2))), t0);
      }
      store<f32>(out + ((<usize>i * <usize>n + <usize>j) << 2), hsum(t0));
    }
  }
}

/** The i32 lanes of group g's integer dot product of one xq row with one weight row (from acc). */
@inline function groupDot(xrow: usize, qrow: usize, g: i32, steps: i32, acc: v128, bits: i32): v128 {
  for (let s = g * steps; s < (g + 1) * steps; s++) {
    const xv = v128.load(xrow + (<usize>s << 4));
    acc = step(acc, xv, i16x8.extend_low_i8x16_s(xv), i16x8.extend_high_i8x16_s(xv), weights16(qrow, s, bits), bits);
  }
  return acc;
}

/**
 * For tests of the integer part: dots[i, j, g] = the exact integer sum_{l in g} xq[i, l] *
 * q[j, l] as this build's kernel forms it (the lanes of groupDot, corrected, added in i32).
 * dots: m * n * (k / groupSize) i32.
 */
export function qmatmul_int8x_dots(xq: usize, xsum: usize, q: usize, dots: usize, m: i32, n: i32, k: i32, bits: i32, groupSize: i32): void {
  const groups = k / groupSize;
  const steps = groupSize >> 4;
  const rowBytes = <usize>((k * bits) >> 3);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      for (let g = 0; g < groups; g++) {
        const gi = <usize>(i * groups + g) << 2;
        const a = groupDot(xq + <usize>i * <usize>k, q + <usize>j * rowBytes, g, steps, correction(xsum, gi, bits), bits);
        const d = i32x4.extract_lane(a, 0) + i32x4.extract_lane(a, 1) + i32x4.extract_lane(a, 2) + i32x4.extract_lane(a, 3);
        store<i32>(dots + (<usize>((i * n + j) * groups + g) << 2), d);
      }
    }
  }
}
