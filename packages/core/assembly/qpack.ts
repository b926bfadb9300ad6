// Dequantizing packer of the packed GEMM (assembly/gemm.ts): the blocks of a weight-only
// quantized B (src/quant.ts: n rows of k int8 / int4 values, one f32 scale per group of
// `group` values along k) written as the f32 NR-column panels the micro-kernel reads, so a
// prompt's product with a quantized weight runs the f32 GEMM's register tiles on
// fround(q * scale), the dequantized weight itself. Internal: no wasm exports here.
//
// Cost: each weight value is dequantized once per call (per thread, for the columns that
// thread owns) and then read by every row of A from L1/L2 as f32, so the dequantization is
// amortised over the m rows (about 2 instructions per value against m / 4 multiply-adds).

import { NR } from './gemm';

/**
 * q values [l, l + 4) of a weight row at qrow as f32x4 (not yet scaled). int8: 4 bytes at l.
 * int4: within the 32-value block l >> 5, values t < 16 are the low nibbles of bytes t,
 * values t >= 16 the high nibbles of bytes t - 16, each stored as q + 8.
 */
@inline export function quantValues4(qrow: usize, l: i32, bits: i32): v128 {
  if (bits == 8) {
    const b = v128.load32_zero(qrow + <usize>l);
    return f32x4.convert_i32x4_s(i32x4.extend_low_i16x8_s(i16x8.extend_low_i8x16_s(b)));
  }
  const b = v128.load32_zero(qrow + (<usize>(l >> 5) << 4) + <usize>(l & 15));
  const u = (l & 16) == 0 ? v128.and(b, i8x16.splat(0x0f)) : i8x16.shr_u(b, 4);
  const w = i32x4.extend_low_i16x8_u(i16x8.extend_low_i8x16_u(u));
  return f32x4.convert_i32x4_s(i32x4.sub(w, i32x4.splat(8)));
}

/**
 * Packs the block [pc, pc + kc) x [jc, jc + nc) of op(B) = dequant(W)^T (W: n rows of k
 * values at q, scales at scales, `group` values per scale) into NR-column panels at dst:
 * panel p holds, for each l of the block, the NR values fround(q[j, l] * scale[j, l / group])
 * of columns j = jc + NR p .. jc + NR p + NR - 1; columns past nc are zeros (packPanelsB's
 * layout). pc and kc are multiples of 4 (k is a multiple of 32, KC of 4), so 4 values along
 * l share one group.
 */
export function packPanelsQ(dst: usize, q: usize, scales: usize, k: i32, bits: i32, group: i32, jc: i32, pc: i32, kc: i32, nc: i32): void {
  const rowBytes = <usize>((k * bits) >> 3);
  const groups = k / group;
  const panel = (<usize>kc * NR) << 2;
  const rowStep = <usize>NR << 2;
  for (let jr = 0; jr < nc; jr += NR) {
    const base = dst + <usize>(jr / NR) * panel;
    // Two halves of 4 columns: each a 4 x 4 transpose per 4 values of l.
    for (let h = 0; h < NR; h += 4) {
      const j = jc + jr + h;
      const valid = min(4, nc - jr - h);
      const d0 = base + (<usize>h << 2);
      if (valid == 4) {
        const q0 = q + <usize>j * rowBytes, q1 = q0 + rowBytes, q2 = q1 + rowBytes, q3 = q2 + rowBytes;
        const s0 = scales + ((<usize>j * <usize>groups) << 2);
        const sStep = <usize>groups << 2;
        let d = d0;
        for (let l = pc; l < pc + kc; l += 4) {
          const so = s0 + (<usize>(l / group) << 2);
          const c0 = f32x4.mul(quantValues4(q0, l, bits), v128.load32_splat(so));
          const c1 = f32x4.mul(quantValues4(q1, l, bits), v128.load32_splat(so + sStep));
          const c2 = f32x4.mul(quantValues4(q2, l, bits), v128.load32_splat(so + 2 * sStep));
          const c3 = f32x4.mul(quantValues4(q3, l, bits), v128.load32_splat(so + 3 * sStep));
          // Row r of the 4 x 4 block is lane r of every column.
          const t0 = i32x4.shuffle(c0, c1, 0, 4, 1, 5);
          const t1 = i32x4.shuffle(c2, c3, 0, 4, 1, 5);
          const t2 = i32x4.shuffle(c0, c1, 2, 6, 3, 7);
          const t3 = i32x4.shuffle(c2, c3, 2, 6, 3, 7);
          v128.store(d, i64x2.shuffle(t0, t1, 0, 2));
          v128.store(d + rowStep, i64x2.shuffle(t0, t1, 1, 3));
          v128.store(d + 2 * rowStep, i64x2.shuffle(t2, t3, 0, 2));
          v128.store(d + 3 * rowStep, i64x2.shuffle(t2, t3, 1, 3));
          d += 4 * rowStep;
        }
      } else {
        // The last panel's partial half: columns past nc are zeros.
        for (let c = 0; c < 4; c++) {
          let d = d0 + (<usize>c << 2);
          if (c >= valid) {
            for (let l = 0; l < kc; l++) store<f32>(d + <usize>l * rowStep, 0);
            continue;
          }
          const qr = q + <usize>(j + c) * rowBytes;
          const sr = scales + ((<usize>(j + c) * <usize>groups) << 2);
          for (let l = pc; l < pc + kc; l += 4) {
            const v = f32x4.mul(quantValues4(qr, l, bits), v128.load32_splat(sr + (<usize>(l / group) << 2)));
            store<f32>(d, f32x4.extract_lane(v, 0));
            store<f32>(d + rowStep, f32x4.extract_lane(v, 1));
            store<f32>(d + 2 * rowStep, f32x4.extract_lane(v, 2));
            store<f32>(d + 3 * rowStep, f32x4.extract_lane(v, 3));
            d += 4 * rowStep;
          }
        }
      }
    }
  }
}
