// Kernel family: qmatmul. out[m, n] = x[m, k] @ dequant(W)^T for a weight-only quantized W
// of n rows of k int8 or int4 values with one f32 scale per group of `groupSize` values
// along k (format: src/quant.ts). Host side: src/wasm/kernels/qmatmul.ts.
//
// Per output (i, j) and group g the kernel widens 16 quantized values at a time to f32 in
// registers (int8 -> i16 -> i32 -> f32; int4: mask / shift the nibbles and subtract 8
// first), multiply-adds them with x's values into a 4-lane group sum, and adds
// scale[j, g] * (group sum) to the row's 4-lane total; the total's lanes are summed
// ((l0 + l1) + (l2 + l3)) at the end. Every output runs that same sequence whether its row
// is computed alone (one row: decoding, GEMV) or in a tile of 4 rows that share the
// widened weights (many rows: a prompt), so a row has the same bits at any m, and the
// column split across threads leaves every output's arithmetic unchanged.
//
// Registers of the 4-row tile: 4 widened weight vectors + 4 group sums + 4 totals + the
// x load and product: 14 of V8's 15 allocatable xmm registers.

import { madd4 } from './vmath';

@inline function hsum(v: v128): f32 {
  return (f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1)) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/**
 * Values [16 s, 16 s + 16) of a weight row at qrow as 16 signed 8-bit lanes. int8: the 16
 * bytes at 16 s. int4: the 32-value block s / 2 is 16 bytes whose low nibbles are its
 * values 0-15 and high nibbles its values 16-31, each stored as q + 8.
 */
@inline function values16(qrow: usize, s: i32, bits: i32): v128 {
  if (bits == 8) return v128.load(qrow + (<usize>s << 4));
  const b = v128.load(qrow + (<usize>(s >> 1) << 4));
  return i8x16.sub((s & 1) == 0 ? v128.and(b, i8x16.splat(0x0f)) : i8x16.shr_u(b, 4), i8x16.splat(8));
}

/** acc + x[0..16) * (w0, w1, w2, w3), lane-wise: one row's step (x: byte address of 16 f32). */
@inline function dot16(x: usize, w0: v128, w1: v128, w2: v128, w3: v128, acc: v128): v128 {
  acc = madd4(v128.load(x), w0, acc);
  acc = madd4(v128.load(x, 16), w1, acc);
  acc = madd4(v128.load(x, 32), w2, acc);
  return madd4(v128.load(x, 48), w3, acc);
}

/**
 * Columns [col0, col0 + cols) of out = x @ dequant(W)^T, all m rows. x: [m, k] f32,
 * q: n rows of k * bits / 8 bytes, scales: [n, k / groupSize] f32, out: [m, n] f32 (byte
 * addresses). k is a multiple of groupSize, which is a multiple of 32 (the host validated).
 */
export function qmatmul_f32_part(x: usize, q: usize, scales: usize, out: usize, m: i32, n: i32, k: i32, bits: i32, groupSize: i32, col0: i32, cols: i32): void {
  const groups = k / groupSize;
  const steps = groupSize >> 4;
  const rowBytes = <usize>((k * bits) >> 3);
  const xRow = <usize>k << 2;
  for (let j = col0; j < col0 + cols; j++) {
    const qrow = q + <usize>j * rowBytes;
    const srow = scales + (<usize>(j * groups) << 2);
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      const x0 = x + <usize>i * xRow;
      const x1 = x0 + xRow;
      const x2 = x1 + xRow;
      const x3 = x2 + xRow;
      let t0 = f32x4.splat(0);
      let t1 = f32x4.splat(0);
      let t2 = f32x4.splat(0);
      let t3 = f32x4.splat(0);
      for (let g = 0; g < groups; g++) {
        let a0 = f32x4.splat(0);
        let a1 = f32x4.splat(0);
        let a2 = f32x4.splat(0);
        let a3 = f32x4.splat(0);
        for (let s = g * steps; s < (g + 1) * steps; s++) {
          const off = <usize>s << 6;
          const v = values16(qrow, s, bits);
          const lo = i16x8.extend_low_i8x16_s(v);
          const hi = i16x8.extend_high_i8x16_s(v);
          const w0 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo));
          const w1 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo));
          const w2 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi));
          const w3 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi));
          a0 = dot16(x0 + off, w0, w1, w2, w3, a0);
          a1 = dot16(x1 + off, w0, w1, w2, w3, a1);
          a2 = dot16(x2 + off, w0, w1, w2, w3, a2);
          a3 = dot16(x3 + off, w0, w1, w2, w3, a3);
        }
        const sc = v128.load32_splat(srow + (<usize>g << 2));
        t0 = madd4(a0, sc, t0);
        t1 = madd4(a1, sc, t1);
        t2 = madd4(a2, sc, t2);
        t3 = madd4(a3, sc, t3);
      }
      const o = out + ((<usize>i * <usize>n + <usize>j) << 2);
      const on = <usize>n << 2;
      store<f32>(o, hsum(t0));
      store<f32>(o + on, hsum(t1));
      store<f32>(o + 2 * on, hsum(t2));
      store<f32>(o + 3 * on, hsum(t3));
    }
    for (; i < m; i++) {
      const x0 = x + <usize>i * xRow;
      let t0 = f32x4.splat(0);
      for (let g = 0; g < groups; g++) {
        let a0 = f32x4.splat(0);
        for (let s = g * steps; s < (g + 1) * steps; s++) {
          const off = <usize>s << 6;
          const v = values16(qrow, s, bits);
          const lo = i16x8.extend_low_i8x16_s(v);
          const hi = i16x8.extend_high_i8x16_s(v);
          const w0 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo));
          const w1 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo));
          const w2 = f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi));
          const w3 = f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi));
          a0 = dot16(x0 + off, w0, w1, w2, w3, a0);
        }
        t0 = madd4(a0, v128.load32_splat(srow + (<usize>g << 2)), t0);
      }
      store<f32>(out + ((<usize>i * <usize>n + <usize>j) << 2), hsum(t0));
    }
  }
}
