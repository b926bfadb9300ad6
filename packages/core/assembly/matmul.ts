// Kernel family: matmul. out[b] = op(A[b]) @ op(B[b]) (+ out[b] when accumulating), f32,
// row-major; op() transposes when its flag is set. Host side: src/wasm/kernels/matmul.ts.
// The machinery lives in assembly/gemm.ts (shared with the attention kernels), where
// `product` picks one of three paths per matrix product (thresholds measured on the
// benchmark machine of docs/benchmarks.md by timing both sides of each):
//
// - GEMV, m == 1 or n == 1 (one token against a weight matrix when decoding with a KV
//   cache): no packing, the matrix is streamed once, in an "axpy" form when its rows run
//   along the output and a "dot" form when they run along k.
// - In place, B untransposed with few rows of A or a small, narrow B: 4 x 8 register tiles
//   read A with splat loads and B rows where they lie (packing would cost as much as the
//   arithmetic). B transposed with few rows of A (at most 4; at most 64 when k >= 256, as
//   in a prompt's LM head): 2 x 4 tiles of dot products along k, B rows read in place
//   (tiles specialised for common k are generated, see scripts/gen-dot-kernels.mjs). The
//   same tiles read an untransposed B's prepacked transposed copy (matmul_prepack_b), 64
//   rows of A at a time, when A has at most 4 rows or k >= 256.
// - Packed GEMM, everything else, GotoBLAS / BLIS style: loops nc -> kc -> mc; per (nc, kc)
//   block op(B) is packed into KC x NR panels, per (mc, kc) block op(A) into MR x KC slivers,
//   and an MR x NR micro-kernel multiplies one sliver by one panel. Packing reads any layout
//   (that is where transA / transB are handled) and pads edge slivers / panels with zeros,
//   so the micro-kernel has one code path; an edge tile is computed into a scratch tile and
//   only its valid part is written to C.
//
// Why a 4 x 8 tile, with every packed A value stored as a 4-lane splat: V8's x64 backend
// has 15 allocatable xmm registers and its scheduler hoists all loads of a loop body to the
// top, so the live set of the k loop is accumulators + every load of one k step (+ one
// product temporary when mul and add are separate): 8 + 4 + 2 + 1 = 15. Larger tiles (6x8,
// 5x8, 4x12) or unrolling k spill accumulators to the stack. Pre-broadcast A turns the
// per-step load32_splat (vbroadcastss: a load plus an FP-pipe shuffle on Zen 3) into a plain
// vector load (what that bought: docs/benchmarks.md, "Kernel design").
//
// Blocking for a 32 KiB L1d / 512 KiB L2 core: a B micro-panel (KC x NR x 4 B = 8 KiB) stays
// in L1 while the A block (MC x KC x 16 B = 192 KiB) streams from L2; the B block
// (KC x NC x 4 B = 2 MiB) lives in L3.

import { TRANS_A, packABytes, packBBytes, partStart, prepackB, prepackBBytes, product } from './gemm';

/**
 * Rows of the products matmul_f32 runs: batch * m when every batch shares one B and the A
 * batches are untransposed and back to back (then out's batches are too), else m.
 */
@inline function productRows(m: i32, k: i32, flags: i32, batch: i32, strideA: i32, strideB: i32): i32 {
  return batch > 1 && strideB == 0 && (flags & TRANS_A) == 0 && strideA == m * k ? m * batch : m;
}

/** Bytes of the A packing scratch matmul_f32 needs for these arguments (0: it packs nothing). */
export function matmul_pack_a_bytes(m: i32, n: i32, k: i32, flags: i32, batch: i32, strideA: i32, strideB: i32): i32 {
  return packABytes(productRows(m, k, flags, batch, strideA, strideB), n, k, flags);
}

/** Bytes of the B packing scratch (packed panels + one MR x NR edge tile; 0: it packs nothing). */
export function matmul_pack_b_bytes(m: i32, n: i32, k: i32, flags: i32, batch: i32, strideA: i32, strideB: i32): i32 {
  return packBBytes(productRows(m, k, flags, batch, strideA, strideB), n, k, flags);
}

/**
 * out[b] = op(A[b]) @ op(B[b]) for b < batch. A: [m, k] ([k, m] when transposed), B: [k, n]
 * ([n, k]), out: [m, n]; strideA / strideB are element distances between batch matrices
 * (0 broadcasts). flags: 1 transA, 2 transB, 4 accumulate into out. packA / packB: scratch
 * of matmul_pack_a_bytes / matmul_pack_b_bytes bytes (same arguments), 16-byte aligned.
 * bPacked: 0, or B prepacked by matmul_prepack_b (same n, k, transB), used where every batch
 * shares B. A transposed B's panels serve the packed path (same bits as packing per call).
 * An untransposed B's transposed copy serves A (when m <= 4 or k >= 256) through the
 * dot-form tiles, 64 rows at a time: every row gets the bits of its one-row product with
 * the transposed copy (gemvDot's order), not those of the untransposed paths (a different
 * order of the same sums); with m > 4 and k < 256 it is ignored.
 */
export function matmul_f32(
  a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, flags: i32,
  batch: i32, strideA: i32, strideB: i32, packA: usize, packB: usize, bPacked: usize,
): void {
  matmul_f32_part(a, b, c, m, n, k, flags, batch, strideA, strideB, 0, 1, packA, packB, bPacked);
}

/** Bytes matmul_prepack_b writes for a B of [k, n] ([n, k] when transposed), as f64 (may exceed 2^31). */
export function matmul_prepack_b_bytes(n: i32, k: i32): f64 {
  return <f64>prepackBBytes(n, k);
}

/**
 * Packs B ([k, n], or [n, k] with flags & 2) once for products with this B (a weight, at
 * inference): a transposed B into the panels the packed GEMM reads, an untransposed one into
 * its transposed copy for the dot-form tiles (see matmul_f32's bPacked). Pass the result as
 * matmul_f32's bPacked. dst: matmul_prepack_b_bytes bytes, 16-byte aligned.
 */
export function matmul_prepack_b(b: usize, dst: usize, n: i32, k: i32, flags: i32): void {
  prepackB(dst, b, n, k, flags);
}

/**
 * Part `part` of `parts` of matmul_f32 (same arguments; packA / packB are the running
 * thread's own scratch): threads run the parts of one call side by side, each writing a disjoint block of
 * out. Whole batches when there are enough of them, else a range of each product's rows or
 * columns (see `product`). The path (GEMV, in place, packed) is chosen from the whole
 * product's shape and the ranges start on the paths' vector / tile boundaries with the
 * remainder in the last part, so each output element is computed by the same code in the
 * same order as with one part: the result has the same bits for any number of parts.
 */
export function matmul_f32_part(
  a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, flags: i32,
  batch: i32, strideA: i32, strideB: i32, part: i32, parts: i32, packA: usize, packB: usize, bPacked: usize,
): void {
  if (m == 0 || n == 0) return;
  // A prepacked B serves every batch only when they all share it.
  if (batch > 1 && strideB != 0) bPacked = 0;
  const rows = productRows(m, k, flags, batch, strideA, strideB);
  if (rows != m) {
    m = rows;
    batch = 1;
  }
  const sa = <usize>strideA << 2;
  const sb = <usize>strideB << 2;
  const sc = (<usize>m * <usize>n) << 2;
  if (parts > 1 && batch >= parts && (batch % parts == 0 || batch >= 4 * parts)) {
    // Whole products per part: balanced (an equal count, or at least 4 each).
    const b1 = partStart(batch, 1, part + 1, parts);
    for (let i = partStart(batch, 1, part, parts); i < b1; i++) {
      product(a + <usize>i * sa, b + <usize>i * sb, c + <usize>i * sc, m, n, k, flags, packA, packB, 0, 1, bPacked);
    }
    return;
  }
  for (let i = 0; i < batch; i++) {
    product(a + <usize>i * sa, b + <usize>i * sb, c + <usize>i * sc, m, n, k, flags, packA, packB, part, parts, bPacked);
  }
}

/** Floating-point operations per iteration of matmul_peak_probe in this build. */
export function matmul_peak_flops(): i32 {
  // relaxed: 12 chains x 2 steps of one fused multiply-add (2 flops x 4 lanes);
  // SIMD128: (6 multiply + 6 add chains) x 2 steps (1 flop x 4 lanes each).
  return ASC_FEATURE_RELAXED_SIMD ? 12 * 2 * 8 : 12 * 2 * 4;
}

/**
 * Register-only throughput probe for the benchmark: `iters` iterations of independent
 * f32x4 chains (multiply chains and add chains in the SIMD128 build, fused multiply-add
 * chains in the relaxed build), enough of them to cover the operation latency. Returns the
 * sum of the lanes so the work is observable; call with y = 1 to keep every value finite
 * and normal.
 */
export function matmul_peak_probe(iters: i32, y: f32): f32 {
  const yv = f32x4.splat(y);
  if (ASC_FEATURE_RELAXED_SIMD) {
    let a0 = f32x4.splat(0.0), a1 = f32x4.splat(0.1), a2 = f32x4.splat(0.2), a3 = f32x4.splat(0.3);
    let a4 = f32x4.splat(0.4), a5 = f32x4.splat(0.5), a6 = f32x4.splat(0.6), a7 = f32x4.splat(0.7);
    let a8 = f32x4.splat(0.8), a9 = f32x4.splat(0.9), a10 = f32x4.splat(1.0), a11 = f32x4.splat(1.1);
    for (let i = 0; i < iters; i++) {
      // Two steps per iteration so the loop's own overhead stays small.
      a0 = f32x4.relaxed_madd(a0, yv, yv); a1 = f32x4.relaxed_madd(a1, yv, yv);
      a2 = f32x4.relaxed_madd(a2, yv, yv); a3 = f32x4.relaxed_madd(a3, yv, yv);
      a4 = f32x4.relaxed_madd(a4, yv, yv); a5 = f32x4.relaxed_madd(a5, yv, yv);
      a6 = f32x4.relaxed_madd(a6, yv, yv); a7 = f32x4.relaxed_madd(a7, yv, yv);
      a8 = f32x4.relaxed_madd(a8, yv, yv); a9 = f32x4.relaxed_madd(a9, yv, yv);
      a10 = f32x4.relaxed_madd(a10, yv, yv); a11 = f32x4.relaxed_madd(a11, yv, yv);
      a0 = f32x4.relaxed_madd(a0, yv, yv); a1 = f32x4.relaxed_madd(a1, yv, yv);
      a2 = f32x4.relaxed_madd(a2, yv, yv); a3 = f32x4.relaxed_madd(a3, yv, yv);
      a4 = f32x4.relaxed_madd(a4, yv, yv); a5 = f32x4.relaxed_madd(a5, yv, yv);
      a6 = f32x4.relaxed_madd(a6, yv, yv); a7 = f32x4.relaxed_madd(a7, yv, yv);
      a8 = f32x4.relaxed_madd(a8, yv, yv); a9 = f32x4.relaxed_madd(a9, yv, yv);
      a10 = f32x4.relaxed_madd(a10, yv, yv); a11 = f32x4.relaxed_madd(a11, yv, yv);
    }
    const s = f32x4.add(
      f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7))),
      f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11)),
    );
    return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
  }
  let p0 = f32x4.splat(1.0), p1 = f32x4.splat(1.1), p2 = f32x4.splat(1.2);
  let p3 = f32x4.splat(1.3), p4 = f32x4.splat(1.4), p5 = f32x4.splat(1.5);
  let s0 = f32x4.splat(0.0), s1 = f32x4.splat(0.1), s2 = f32x4.splat(0.2);
  let s3 = f32x4.splat(0.3), s4 = f32x4.splat(0.4), s5 = f32x4.splat(0.5);
  for (let i = 0; i < iters; i++) {
    p0 = f32x4.mul(p0, yv); s0 = f32x4.add(s0, yv); p1 = f32x4.mul(p1, yv); s1 = f32x4.add(s1, yv);
    p2 = f32x4.mul(p2, yv); s2 = f32x4.add(s2, yv); p3 = f32x4.mul(p3, yv); s3 = f32x4.add(s3, yv);
    p4 = f32x4.mul(p4, yv); s4 = f32x4.add(s4, yv); p5 = f32x4.mul(p5, yv); s5 = f32x4.add(s5, yv);
    p0 = f32x4.mul(p0, yv); s0 = f32x4.add(s0, yv); p1 = f32x4.mul(p1, yv); s1 = f32x4.add(s1, yv);
    p2 = f32x4.mul(p2, yv); s2 = f32x4.add(s2, yv); p3 = f32x4.mul(p3, yv); s3 = f32x4.add(s3, yv);
    p4 = f32x4.mul(p4, yv); s4 = f32x4.add(s4, yv); p5 = f32x4.mul(p5, yv); s5 = f32x4.add(s5, yv);
  }
  const t = f32x4.add(
    f32x4.add(f32x4.add(f32x4.add(p0, p1), f32x4.add(p2, p3)), f32x4.add(p4, p5)),
    f32x4.add(f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3)), f32x4.add(s4, s5)),
  );
  return f32x4.extract_lane(t, 0) + f32x4.extract_lane(t, 1) + f32x4.extract_lane(t, 2) + f32x4.extract_lane(t, 3);
}
