// Kernel family: qmatmul. out[m, n] = x[m, k] @ dequant(W)^T for a weight-only quantized W
// of n rows of k int8 or int4 values with one f32 scale per group of `groupSize` values
// along k (format: src/quant.ts). Host side: src/wasm/kernels/qmatmul.ts. Two paths, chosen
// from m alone (so every output of a call takes the same one, on any number of threads):
//
// - Few rows (m < QGEMM_ROWS: decoding, GEMV). Per output (i, j) and group g the kernel
//   widens 16 quantized values at a time to f32 in registers (int8 -> i16 -> i32 -> f32;
//   int4: mask / shift the nibbles and subtract 8 first), multiply-adds them with x's values
//   into a 4-lane group sum, and adds scale[j, g] * (group sum) to the row's 4-lane total;
//   the total's lanes are summed ((l0 + l1) + (l2 + l3)) at the end: the group scale is
//   applied once per group, not per value. Rows in 4-row tiles share the widened weights;
//   the other rows (a decoding step's one row) take 4 columns per pass, so each load of x
//   serves 4 weight rows. Both run that same sequence per output, so a row has the same
//   bits alone or in a tile, and the column split across threads changes nothing.
// - Many rows (a prompt), at most 64 with k >= 256 (gemm.ts's choice of the dot form for a
//   transposed B): QDOT_COLS weight rows at a time are dequantized into an f32 block and
//   multiplied by the f32 dot-form tiles (gemmDot), as the f32 model's weights would be.
// - Many rows otherwise. The f32 packed GEMM of assembly/gemm.ts with B packed from the
//   quantized weight: each KC x NC block is dequantized once (fround(q * scale), exactly the
//   dequantized weight; assembly/qpack.ts) into the micro-kernel's panels, so the 4 x 8
//   register tiles run at the f32 GEMM's speed on a B read from memory at a quarter (int8)
//   or an eighth (int4) of its f32 bytes. Threads split the columns (NR-aligned), each
//   packing its own columns' panels; every output runs through the same k blocks whatever
//   the split, so the result has the same bits on any number of threads.
//
// Registers of the 4-row tile: 4 widened weight vectors + 4 group sums + 4 totals + the
// x load and product: 14 of V8's 15 allocatable xmm registers.

import { A_BYTES, DOT_MIN_K, DOT_ROWS, KC, MC, MR, NC, NR, gemm, gemmDot, roundUp } from './gemm';
import { madd4 } from './vmath';

/**
 * Rows of x from which the packed GEMM path runs (measured: benchmarks/quant.bench.mjs; below
 * it, dequantizing a block costs more than the few rows that reuse it save).
 */
const QGEMM_ROWS: i32 = 5;
/** Weight rows dequantized per block for the dot-form tiles (a multiple of 4: their column groups). */
const QDOT_COLS: i32 = 16;

/**
 * Whether m rows (>= QGEMM_ROWS) take the dot-form tiles over dequantized weight rows
 * rather than the packed GEMM: the f32 matmul's own choice for a transposed B (gemm.ts
 * dotRows), so a prompt runs the kernel the f32 model would run on the same shape.
 */
@inline function dotForm(m: i32, k: i32): bool {
  return m <= DOT_ROWS && k >= DOT_MIN_K;
}

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

/** The 4 f32x4 of 16 quantized values (values16's lanes widened: int8 -> i16 -> i32 -> f32). */
@inline function widen0(v: v128): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(v)));
}
@inline function widen1(v: v128): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(i16x8.extend_low_i8x16_s(v)));
}
@inline function widen2(v: v128): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(i16x8.extend_high_i8x16_s(v)));
}
@inline function widen3(v: v128): v128 {
  return f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(i16x8.extend_high_i8x16_s(v)));
}

/**
 * Bytes of the packing scratch qmatmul_f32_part needs per thread for m rows and n columns:
 * which 0 the A slivers, 1 the B panels plus one MR x NR edge tile; 0 on the GEMV path.
 */
export function qmatmul_pack_bytes(m: i32, n: i32, k: i32, which: i32): i32 {
  if (m < QGEMM_ROWS || n == 0 || k == 0) return 0;
  if (dotForm(m, k)) return which == 0 ? 0 : QDOT_COLS * k * 4;
  if (which == 0) return min(MC, roundUp(m, MR)) * min(KC, k) * A_BYTES;
  return (min(KC, k) * min(NC, roundUp(n, NR)) + MR * NR) * 4;
}

/**
 * Columns [col0, col0 + cols) of out = x @ dequant(W)^T, all m rows. x: [m, k] f32,
 * q: n rows of k * bits / 8 bytes, scales: [n, k / groupSize] f32, out: [m, n] f32 (byte
 * addresses). k is a multiple of groupSize, which is a multiple of 32 (the host validated).
 * packA / packB: the calling thread's scratch of qmatmul_pack_bytes(m, n, k, 0 / 1) bytes,
 * 16-byte aligned (unused on the GEMV path).
 */
export function qmatmul_f32_part(
  x: usize, q: usize, scales: usize, out: usize, m: i32, n: i32, k: i32, bits: i32, groupSize: i32,
  col0: i32, cols: i32, packA: usize, packB: usize,
): void {
  if (cols <= 0) return;
  const groups = k / groupSize;
  const rowBytes = <usize>((k * bits) >> 3);
  if (m >= QGEMM_ROWS && dotForm(m, k)) {
    // QDOT_COLS weight rows at a time dequantized into packB ([rows, k] f32, the layout of
    // a transposed B), then the f32 dot-form tiles.
    for (let j0 = col0; j0 < col0 + cols; j0 += QDOT_COLS) {
      const nb = min(QDOT_COLS, col0 + cols - j0);
      dequantRows(packB, q + <usize>j0 * rowBytes, scales + ((<usize>j0 * <usize>groups) << 2), nb, k, bits, groupSize);
      gemmDot(x, packB, out + (<usize>j0 << 2), <usize>n << 2, m, nb, k, false);
    }
    return;
  }
  if (m >= QGEMM_ROWS) {
    const xRow = <usize>k << 2;
    gemm(
      x, xRow, 4, q + <usize>col0 * rowBytes, 0, 0, out + (<usize>col0 << 2), <usize>n << 2, m, cols, k, false,
      packA, packB, 0, scales + ((<usize>col0 * <usize>groups) << 2), bits, groupSize,
    );
    return;
  }
  const m4 = m & ~3;
  for (let j = col0; j < col0 + cols; j++) {
    for (let i = 0; i < m4; i += 4) rowTile4(x, q, scales, out, i, j, n, k, bits, groupSize);
  }
  for (let i = m4; i < m; i++) {
    let j = col0;
    for (; j + 4 <= col0 + cols; j += 4) rowCols4(x, q, scales, out, i, j, n, k, bits, groupSize);
    for (; j < col0 + cols; j++) rowCol1(x, q, scales, out, i, j, n, k, bits, groupSize);
  }
}

/** out[i..i+4, j]: 4 rows of x sharing each widened 16 values of weight row j. */
@inline function rowTile4(x: usize, q: usize, scales: usize, out: usize, i: i32, j: i32, n: i32, k: i32, bits: i32, groupSize: i32): void {
  const groups = k / groupSize;
  const steps = groupSize >> 4;
  const qrow = q + <usize>j * <usize>((k * bits) >> 3);
  const srow = scales + (<usize>(j * groups) << 2);
  const xRow = <usize>k << 2;
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
      const w0 = widen0(v);
      const w1 = widen1(v);
      const w2 = widen2(v);
      const w3 = widen3(v);
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

/**
 * out[i, j..j+4]: one row of x against 4 weight rows, each load of x serving all 4. Per
 * output the same operations in the same order as rowTile4 and rowCol1.
 */
@inline function rowCols4(x: usize, q: usize, scales: usize, out: usize, i: i32, j: i32, n: i32, k: i32, bits: i32, groupSize: i32): void {
  const groups = k / groupSize;
  const steps = groupSize >> 4;
  const rowBytes = <usize>((k * bits) >> 3);
  const q0 = q + <usize>j * rowBytes;
  const q1 = q0 + rowBytes;
  const q2 = q1 + rowBytes;
  const q3 = q2 + rowBytes;
  const s0 = scales + (<usize>(j * groups) << 2);
  const sStep = <usize>groups << 2;
  const xi = x + ((<usize>i * <usize>k) << 2);
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
      const xp = xi + (<usize>s << 6);
      const xv0 = v128.load(xp);
      const xv1 = v128.load(xp, 16);
      const xv2 = v128.load(xp, 32);
      const xv3 = v128.load(xp, 48);
      let v = values16(q0, s, bits);
      a0 = madd4(xv3, widen3(v), madd4(xv2, widen2(v), madd4(xv1, widen1(v), madd4(xv0, widen0(v), a0))));
      v = values16(q1, s, bits);
      a1 = madd4(xv3, widen3(v), madd4(xv2, widen2(v), madd4(xv1, widen1(v), madd4(xv0, widen0(v), a1))));
      v = values16(q2, s, bits);
      a2 = madd4(xv3, widen3(v), madd4(xv2, widen2(v), madd4(xv1, widen1(v), madd4(xv0, widen0(v), a2))));
      v = values16(q3, s, bits);
      a3 = madd4(xv3, widen3(v), madd4(xv2, widen2(v), madd4(xv1, widen1(v), madd4(xv0, widen0(v), a3))));
    }
    const so = s0 + (<usize>g << 2);
    t0 = madd4(a0, v128.load32_splat(so), t0);
    t1 = madd4(a1, v128.load32_splat(so + sStep), t1);
    t2 = madd4(a2, v128.load32_splat(so + 2 * sStep), t2);
    t3 = madd4(a3, v128.load32_splat(so + 3 * sStep), t3);
  }
  const o = out + ((<usize>i * <usize>n + <usize>j) << 2);
  store<f32>(o, hsum(t0));
  store<f32>(o, hsum(t1), 4);
  store<f32>(o, hsum(t2), 8);
  store<f32>(o, hsum(t3), 12);
}

/** out[i, j] alone (the last cols % 4 columns of a part). */
@inline function rowCol1(x: usize, q: usize, scales: usize, out: usize, i: i32, j: i32, n: i32, k: i32, bits: i32, groupSize: i32): void {
  const groups = k / groupSize;
  const steps = groupSize >> 4;
  const qrow = q + <usize>j * <usize>((k * bits) >> 3);
  const srow = scales + (<usize>(j * groups) << 2);
  const x0 = x + ((<usize>i * <usize>k) << 2);
  let t0 = f32x4.splat(0);
  for (let g = 0; g < groups; g++) {
    let a0 = f32x4.splat(0);
    for (let s = g * steps; s < (g + 1) * steps; s++) {
      const v = values16(qrow, s, bits);
      a0 = dot16(x0 + (<usize>s << 6), widen0(v), widen1(v), widen2(v), widen3(v), a0);
    }
    t0 = madd4(a0, v128.load32_splat(srow + (<usize>g << 2)), t0);
  }
  store<f32>(out + ((<usize>i * <usize>n + <usize>j) << 2), hsum(t0));
}

/** dst[r, l] = fround(q[r, l] * scale[r, l / groupSize]) for rows r < rows (dst: [rows, k] f32). */
function dequantRows(dst: usize, q: usize, scales: usize, rows: i32, k: i32, bits: i32, groupSize: i32): void {
  const groups = k / groupSize;
  const steps = groupSize >> 4;
  const rowBytes = <usize>((k * bits) >> 3);
  for (let r = 0; r < rows; r++) {
    const qrow = q + <usize>r * rowBytes;
    const srow = scales + (<usize>(r * groups) << 2);
    const drow = dst + ((<usize>r * <usize>k) << 2);
    for (let g = 0; g < groups; g++) {
      const sc = v128.load32_splat(srow + (<usize>g << 2));
      for (let s = g * steps; s < (g + 1) * steps; s++) {
        const v = values16(qrow, s, bits);
        const d = drow + (<usize>s << 6);
        v128.store(d, f32x4.mul(widen0(v), sc));
        v128.store(d, f32x4.mul(widen1(v), sc), 16);
        v128.store(d, f32x4.mul(widen2(v), sc), 32);
        v128.store(d, f32x4.mul(widen3(v), sc), 48);
      }
    }
  }
}
