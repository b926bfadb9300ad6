// Kernel family: qembedding. out[c, :] = dequant(W)[indices[c], :] for a weight-only
// quantized table W of n rows of k int8 / int4 values with one f32 scale per group of
// `groupSize` values (format: src/quant.ts). Host side: src/wasm/kernels/qembedding.ts,
// which range-checks the indices first.
//
// 16 values at a time: the bytes are widened to four f32x4 (int8 -> i16 -> i32 -> f32;
// int4: the 16 bytes of a 32-value block give values 0-15 in their low nibbles and 16-31 in
// their high ones, each q + 8) and multiplied by the group's scale. One f32 multiply per
// value, correctly rounded, so every element has the bits of fround(q * scale): the
// reference's and every other backend's.

/** Values [16 s, 16 s + 16) of the row at qrow as 16 signed 8-bit lanes. */
@inline function rowValues16(qrow: usize, s: i32, bits: i32): v128 {
  if (bits == 8) return v128.load(qrow + (<usize>s << 4));
  const b = v128.load(qrow + (<usize>(s >> 1) << 4));
  return i8x16.sub((s & 1) == 0 ? v128.and(b, i8x16.splat(0x0f)) : i8x16.shr_u(b, 4), i8x16.splat(8));
}

/**
 * Rows [c0, c0 + count) of the gather. q: n rows of k * bits / 8 bytes, scales: [n, k /
 * groupSize] f32, idx: i32 row indices, out: [*, k] f32 (byte addresses). k is a multiple
 * of groupSize, a multiple of 32, and every index is in range (the host checked).
 */
export function qembedding_f32_part(q: usize, scales: usize, idx: usize, out: usize, k: i32, bits: i32, groupSize: i32, c0: i32, count: i32): void {
  const groups = k / groupSize;
  const rowBytes = <usize>((k * bits) >> 3);
  const steps = groupSize >> 4;
  for (let c = c0; c < c0 + count; c++) {
    const j = load<i32>(idx + (<usize>c << 2));
    const qrow = q + <usize>j * rowBytes;
    const srow = scales + (<usize>(j * groups) << 2);
    let o = out + (<usize>c * <usize>k << 2);
    for (let g = 0; g < groups; g++) {
      const sc = f32x4.splat(load<f32>(srow + (<usize>g << 2)));
      for (let t = 0; t < steps; t++) {
        const v = rowValues16(qrow, g * steps + t, bits);
        const lo = i16x8.extend_low_i8x16_s(v);
        const hi = i16x8.extend_high_i8x16_s(v);
        v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(lo)), sc));
        v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(lo)), sc), 16);
        v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(hi)), sc), 32);
        v128.store(o, f32x4.mul(f32x4.convert_i32x4_s(i32x4.extend_high_i16x8_s(hi)), sc), 48);
        o += 64;
      }
    }
  }
}
