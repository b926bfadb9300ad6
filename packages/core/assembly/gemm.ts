// GEMM / GEMV machinery behind the matmul kernels (assembly/matmul.ts, which explains the
// paths, the tile shape and the blocking) and the attention kernels (assembly/attention.ts).
// Internal: nothing here is a wasm export.

import { dotKernel, dotKernelFixed, hasDotKernelFixed } from './generated/dot-fixed';
import { packPanelsQ } from './qpack';

export const MR: i32 = 4;
export const NR: i32 = 8;
export const KC: i32 = 256;
export const MC: i32 = 48;
export const NC: i32 = 2048;
/** Bytes of one packed A value (a 4-lane splat). */
export const A_BYTES: i32 = 16;
// Path thresholds (measured, docs/benchmarks.md). B untransposed: in place when A has at
// most DIRECT_ROWS rows, or when B has at most DIRECT_COLS columns and DIRECT_B_ELEMS
// elements (64 KiB, so it stays in cache for every 4-row strip). B transposed (A not): 2 x 4
// dot-form tiles when A has at most 4 rows, or at most DOT_ROWS rows and k >= DOT_MIN_K (the
// lane sums at the end of each tile need a long k to amortise). Packing a transposed B
// means a transpose of every 4 x 4 block, which for 64 rows of A against GPT-2's
// 50257 x 768 embedding (the LM head) cost more than the products.
const DIRECT_ROWS: i32 = 16;
const DIRECT_COLS: i32 = 128;
const DIRECT_B_ELEMS: i64 = 16384;
export const DOT_ROWS: i32 = 64;
export const DOT_MIN_K: i32 = 256;

export const TRANS_A: i32 = 1;
export const TRANS_B: i32 = 2;
export const ACCUMULATE: i32 = 4;

/** a * b + c: fused (relaxed-SIMD build) or a separate multiply and add (SIMD128 build). */
@inline export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

@inline export function roundUp(x: i32, q: i32): i32 {
  return ((x + q - 1) / q) * q;
}

/**
 * Whether `product` takes the packed GEMM path (see assembly/matmul.ts): in-place tiles beat
 * packing while B is small and narrow or A has few rows (packing B is then not amortised).
 */
@inline export function packs(m: i32, n: i32, k: i32, flags: i32): bool {
  if (m <= 1 || n <= 1 || k == 0) return false;
  if ((flags & TRANS_B) == 0) return m > DIRECT_ROWS && (n > DIRECT_COLS || <i64>k * <i64>n > DIRECT_B_ELEMS);
  return (flags & TRANS_A) != 0 || !dotRows(m, k);
}

/** Whether A (untransposed) has few enough rows for the dot-form tiles against rows of B along k. */
@inline function dotRows(m: i32, k: i32): bool {
  return m <= 4 || (m <= DOT_ROWS && k >= DOT_MIN_K);
}

/**
 * Start of part `part` of `parts` over [0, len): equal chunks rounded up to a multiple of
 * `q`, so every part but the last covers whole q-blocks and the last one holds the rest.
 */
@inline export function partStart(len: i32, q: i32, part: i32, parts: i32): i32 {
  const chunk = roundUp((len + parts - 1) / parts, q);
  return min(len, part * chunk);
}

/**
 * One product, or part `part` of `parts` of it. GEMV: a range of outputs in multiples of 4
 * (the kernels' 4-row / 4-lane blocks). In place: rows in multiples of 4 (gemmDirect's row
 * groups), or for the dot form a range of columns in multiples of 4. Packed: rows in
 * multiples of MR when packing B again per part costs less than packing A again (n <= 4m),
 * else columns in multiples of NR; every element then runs through the micro-kernel with
 * the same k blocks, whichever tile it falls in.
 */
export function product(a: usize, b: usize, c: usize, m: i32, n: i32, k: i32, flags: i32, packA: usize, packB: usize, part: i32, parts: i32, prepacked: usize = 0): void {
  const transA = (flags & TRANS_A) != 0;
  const transB = (flags & TRANS_B) != 0;
  const add = (flags & ACCUMULATE) != 0;
  const ldc = <usize>n << 2;
  if (k == 0) {
    const r0 = partStart(m, 1, part, parts);
    const r1 = partStart(m, 1, part + 1, parts);
    if (!add && r1 > r0) memory.fill(c + <usize>r0 * ldc, 0, <usize>(r1 - r0) * ldc);
    return;
  }
  if (m == 1) {
    // x = A: k contiguous values either way; B rows run along n (axpy) or along k (transB: dot).
    const j0 = partStart(n, 4, part, parts);
    const len = partStart(n, 4, part + 1, parts) - j0;
    if (len <= 0) return;
    if (transB) gemvDot(b + <usize>j0 * (<usize>k << 2), <usize>k << 2, a, c + (<usize>j0 << 2), len, k, add);
    else gemvAxpy(b + (<usize>j0 << 2), <usize>n << 2, a, 4, c + (<usize>j0 << 2), len, k, add);
    return;
  }
  if (n == 1) {
    // x = B: k contiguous values either way; A rows run along k (dot) or along m (transA: axpy).
    const i0 = partStart(m, 4, part, parts);
    const len = partStart(m, 4, part + 1, parts) - i0;
    if (len <= 0) return;
    if (transA) gemvAxpy(a + (<usize>i0 << 2), <usize>m << 2, b, 4, c + (<usize>i0 << 2), len, k, add);
    else gemvDot(a + <usize>i0 * (<usize>k << 2), <usize>k << 2, b, c + (<usize>i0 << 2), len, k, add);
    return;
  }
  if (!transB && prepacked != 0) {
    // An untransposed B prepacked is its transposed copy (prepackB): rows of k values, one
    // per column of B. A reads it with the dot-form tiles, as a transposed B, 64 rows at a
    // time (the fast path for a prompt through a Conv1D weight) when A has few rows or k is
    // long enough for the tiles' lane sums; otherwise B is packed as usual.
    if (!transA && (m <= 4 || k >= DOT_MIN_K)) {
      const j0 = partStart(n, 4, part, parts);
      const len = partStart(n, 4, part + 1, parts) - j0;
      if (len > 0) gemmDot(a, prepacked + <usize>j0 * (<usize>k << 2), c + (<usize>j0 << 2), ldc, m, len, k, add);
      return;
    }
    prepacked = 0;
  }
  // Byte steps of op(A)(i, l) along i / l and of op(B)(l, j) along l / j.
  const aRow: usize = transA ? 4 : <usize>k << 2;
  const aCol: usize = transA ? <usize>m << 2 : 4;
  if (!packs(m, n, k, flags)) {
    if (!transB) {
      const i0 = partStart(m, 4, part, parts);
      const len = partStart(m, 4, part + 1, parts) - i0;
      if (len > 0) gemmDirect(a + <usize>i0 * aRow, aRow, aCol, b, <usize>n << 2, c + <usize>i0 * ldc, len, n, k, add);
    } else {
      // Rows of A and rows of B both run along k: dot-form tiles, 2 rows of A by 4 rows of B.
      const j0 = partStart(n, 4, part, parts);
      const len = partStart(n, 4, part + 1, parts) - j0;
      if (len > 0) gemmDot(a, b + <usize>j0 * (<usize>k << 2), c + (<usize>j0 << 2), ldc, m, len, k, add);
    }
    return;
  }
  const bRow: usize = transB ? 4 : <usize>n << 2;
  const bCol: usize = transB ? <usize>k << 2 : 4;
  if (parts == 1) {
    gemm(a, aRow, aCol, b, bRow, bCol, c, ldc, m, n, k, add, packA, packB, prepacked);
  } else if (n <= 4 * m || n < parts * NR) {
    const i0 = partStart(m, MR, part, parts);
    const len = partStart(m, MR, part + 1, parts) - i0;
    if (len > 0) gemm(a + <usize>i0 * aRow, aRow, aCol, b, bRow, bCol, c + <usize>i0 * ldc, ldc, len, n, k, add, packA, packB, prepacked);
  } else {
    const j0 = partStart(n, NR, part, parts);
    const len = partStart(n, NR, part + 1, parts) - j0;
    // A prepacked B starts this part at panel j0 / NR (each panel: k rows of NR floats).
    const pre = prepacked != 0 ? prepacked + ((<usize>j0 * <usize>k) << 2) : 0;
    if (len > 0) gemm(a, aRow, aCol, b + <usize>j0 * bCol, bRow, bCol, c + (<usize>j0 << 2), ldc, m, len, k, add, packA, packB, pre);
  }
}

/**
 * Packed GEMM of op(A) [m, k] by op(B) [k, n] into C (rows ldc bytes apart). `prepacked`,
 * when not 0, holds a transposed B's op(B) already in panels (matmul_prepack_b: panel p = columns
 * NR p .. NR p + NR - 1, k rows of NR floats, zero-padded), so the (jc, pc) blocks read
 * their kc x NR slices from it instead of packing B: the micro-kernel sees the same panels
 * in the same order, and the result has the same bits. With qBits != 0, b is a weight-only
 * quantized B (n rows of k values, src/quant.ts; scales at qScales, qGroup values per scale)
 * whose blocks packPanelsQ dequantizes into the same panels (bRow, bCol unused).
 */
export function gemm(
  a: usize, aRow: usize, aCol: usize, b: usize, bRow: usize, bCol: usize,
  c: usize, ldc: usize, m: i32, n: i32, k: i32, accumulate: bool, packA: usize, packB: usize, prepacked: usize,
  qScales: usize = 0, qBits: i32 = 0, qGroup: i32 = 0,
): void {
  const tile = packB + ((<usize>min(KC, k) * <usize>min(NC, roundUp(n, NR))) << 2);
  for (let jc = 0; jc < n; jc += NC) {
    const nc = min(NC, n - jc);
    for (let pc = 0; pc < k; pc += KC) {
      const kc = min(KC, k - pc);
      // The first k block overwrites C unless the caller accumulates; later ones add.
      const add = accumulate || pc > 0;
      // Panel jr / NR of this block: kc x NR floats, at bBlock + jr * panelStep.
      let bBlock = packB;
      let panelStep = <usize>kc << 2;
      if (prepacked != 0) {
        bBlock = prepacked + ((<usize>jc * <usize>k + <usize>pc * NR) << 2);
        panelStep = <usize>k << 2;
      } else if (qBits != 0) {
        packPanelsQ(packB, b, qScales, k, qBits, qGroup, jc, pc, kc, nc);
      } else {
        packPanelsB(packB, b + <usize>pc * bRow + <usize>jc * bCol, bRow, bCol, kc, nc);
      }
      for (let ic = 0; ic < m; ic += MC) {
        const mc = min(MC, m - ic);
        packSliversA(packA, a + <usize>ic * aRow + <usize>pc * aCol, aRow, aCol, mc, kc);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = min(NR, nc - jr);
          const bp = bBlock + <usize>jr * panelStep;
          for (let ir = 0; ir < mc; ir += MR) {
            const mr = min(MR, mc - ir);
            const ap = packA + <usize>ir * <usize>kc * A_BYTES;
            const cp = c + <usize>(ic + ir) * ldc + (<usize>(jc + jr) << 2);
            if (mr == MR && nr == NR) {
              microKernel(ap, bp, kc, cp, ldc, add);
            } else {
              microKernel(ap, bp, kc, tile, NR << 2, false);
              writeEdge(tile, cp, ldc, mr, nr, add);
            }
          }
        }
      }
    }
  }
}

/**
 * Unpacked product, B rows contiguous (ldb bytes apart): 4 x 8 and 4 x 4 tiles read A (element
 * (i, l) at a + i*aRow + l*aCol) with splat loads and B rows in place; the last n % 4 columns
 * and the last m % 4 rows go through gemvAxpy, row by row.
 */
function gemmDirect(a: usize, aRow: usize, aCol: usize, b: usize, ldb: usize, c: usize, m: i32, n: i32, k: i32, add: bool): void {
  const ldc = <usize>n << 2;
  const m4 = m & ~3;
  const n8 = n & ~7;
  const n4 = n & ~3;
  for (let i = 0; i < m4; i += 4) {
    const ai = a + <usize>i * aRow;
    const ci = c + <usize>i * ldc;
    for (let j = 0; j < n8; j += 8) directKernel(ai, aRow, aCol, b + (<usize>j << 2), ldb, k, ci + (<usize>j << 2), ldc, add);
    if (n8 < n4) directKernel4(ai, aRow, aCol, b + (<usize>n8 << 2), ldb, k, ci + (<usize>n8 << 2), ldc, add);
    if (n4 < n) {
      for (let r = 0; r < 4; r++) {
        gemvAxpy(b + (<usize>n4 << 2), ldb, ai + <usize>r * aRow, aCol, ci + <usize>r * ldc + (<usize>n4 << 2), n - n4, k, add);
      }
    }
  }
  for (let i = m4; i < m; i++) gemvAxpy(b, ldb, a + <usize>i * aRow, aCol, c + <usize>i * ldc, n, k, add);
}

/**
 * Unpacked product with B transposed, A untransposed: rows of A and rows of B (both k floats,
 * contiguous) run along k. A is taken DOT_ROWS rows at a time (a block that stays in L2);
 * for every group of 4 rows of B (which stays in L1) the block's rows stream past in pairs,
 * each pair making a 2 x 4 tile of dot products (dotKernel); an odd last row of A and the
 * last n % 4 rows of B go through gemvDot. C rows are ldc bytes apart. Each element is one
 * tile's (or gemvDot's) sum in the same order, whatever the blocking.
 */
export function gemmDot(a: usize, b: usize, c: usize, ldc: usize, m: i32, n: i32, k: i32, add: bool): void {
  const ld = <usize>k << 2;
  for (let i0 = 0; i0 < m; i0 += DOT_ROWS) {
    gemmDotRows(a + <usize>i0 * ld, b, c + <usize>i0 * ldc, ldc, min(DOT_ROWS, m - i0), n, k, add);
  }
}

/** gemmDot for at most DOT_ROWS rows of A. */
function gemmDotRows(a: usize, b: usize, c: usize, ldc: usize, m: i32, n: i32, k: i32, add: bool): void {
  const ld = <usize>k << 2;
  const m2 = m & ~1;
  const n4 = n & ~3;
  // A common k has a tile with its row stride as constant offsets (assembly/generated/,
  // scripts/gen-dot-kernels.mjs): same operations, fewer address adds a step.
  const fixed = hasDotKernelFixed(k);
  for (let j = 0; j < n4; j += 4) {
    const bj = b + <usize>j * ld;
    const cj = c + (<usize>j << 2);
    if (fixed) {
      for (let i = 0; i < m2; i += 2) dotKernelFixed(k, a + <usize>i * ld, bj, cj + <usize>i * ldc, ldc, add);
    } else {
      for (let i = 0; i < m2; i += 2) dotKernel(a + <usize>i * ld, bj, ld, k, cj + <usize>i * ldc, ldc, add);
    }
    if (m2 < m) gemvDot(bj, ld, a + <usize>m2 * ld, cj + <usize>m2 * ldc, 4, k, add);
  }
  if (n4 < n) {
    for (let i = 0; i < m; i++) gemvDot(b + <usize>n4 * ld, ld, a + <usize>i * ld, c + <usize>i * ldc + (<usize>n4 << 2), n - n4, k, add);
  }
}

// The 2 x 4 dot tiles themselves (dotKernel, and dotKernelFixed for common k) come from one
// template in scripts/gen-dot-kernels.mjs: 8 vector accumulators, 2 A loads and 4 B loads per
// 4 values of k, lanes summed once at the end (gemvDot's order, so a row computes the same
// bits on either).

/** Writes (or adds) a dot tile's two rows of 4 sums to C (rows ldc bytes apart). */
@inline export function storeDotTile(c: usize, ldc: usize, add: bool, s0: v128, s1: v128): void {
  if (add) {
    s0 = f32x4.add(s0, v128.load(c));
    s1 = f32x4.add(s1, v128.load(c + ldc));
  }
  v128.store(c, s0);
  v128.store(c + ldc, s1);
}

/** Lane r of the result is the sum of the lanes of a_r (transpose-and-add). */
@inline export function sumLanes4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const t0 = f32x4.add(i32x4.shuffle(a0, a1, 0, 4, 1, 5), i32x4.shuffle(a0, a1, 2, 6, 3, 7));
  const t1 = f32x4.add(i32x4.shuffle(a2, a3, 0, 4, 1, 5), i32x4.shuffle(a2, a3, 2, 6, 3, 7));
  return f32x4.add(i64x2.shuffle(t0, t1, 0, 2), i64x2.shuffle(t0, t1, 1, 3));
}

/** Lane r: sum over l in [l0, l1) of x[l] * row_r[l], rows of mat ld bytes apart (scalar tail). */
export function dotTail4(x: usize, mat: usize, ld: usize, l0: i32, l1: i32): v128 {
  const r0 = mat, r1 = r0 + ld, r2 = r1 + ld, r3 = r2 + ld;
  let s0: f32 = 0, s1: f32 = 0, s2: f32 = 0, s3: f32 = 0;
  for (let l = l0; l < l1; l++) {
    const o = <usize>l << 2;
    const xs = load<f32>(x + o);
    s0 += xs * load<f32>(r0 + o);
    s1 += xs * load<f32>(r1 + o);
    s2 += xs * load<f32>(r2 + o);
    s3 += xs * load<f32>(r3 + o);
  }
  let tail = f32x4.splat(s0);
  tail = f32x4.replace_lane(tail, 1, s1);
  tail = f32x4.replace_lane(tail, 2, s2);
  return f32x4.replace_lane(tail, 3, s3);
}

/** C[0:4, 0:4] (+)= A[0:4, 0:k] @ B[0:k, 0:4] read in place (see gemmDirect for the layouts). */
function directKernel4(a: usize, aRow: usize, aCol: usize, b: usize, ldb: usize, k: i32, c: usize, ldc: usize, add: bool): void {
  let c0 = f32x4.splat(0), c1 = f32x4.splat(0), c2 = f32x4.splat(0), c3 = f32x4.splat(0);
  const r2 = aRow << 1, r3 = r2 + aRow;
  for (let l = 0; l < k; l++) {
    const b0 = v128.load(b);
    c0 = madd(v128.load32_splat(a), b0, c0);
    c1 = madd(v128.load32_splat(a + aRow), b0, c1);
    c2 = madd(v128.load32_splat(a + r2), b0, c2);
    c3 = madd(v128.load32_splat(a + r3), b0, c3);
    a += aCol;
    b += ldb;
  }
  const p1 = c + ldc, p2 = p1 + ldc, p3 = p2 + ldc;
  if (add) {
    c0 = f32x4.add(c0, v128.load(c));
    c1 = f32x4.add(c1, v128.load(p1));
    c2 = f32x4.add(c2, v128.load(p2));
    c3 = f32x4.add(c3, v128.load(p3));
  }
  v128.store(c, c0);
  v128.store(p1, c1);
  v128.store(p2, c2);
  v128.store(p3, c3);
}

/** C[0:4, 0:8] (+)= A[0:4, 0:k] @ B[0:k, 0:8] read in place (see gemmDirect for the layouts). */
function directKernel(a: usize, aRow: usize, aCol: usize, b: usize, ldb: usize, k: i32, c: usize, ldc: usize, add: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  const r2 = aRow << 1, r3 = r2 + aRow;
  for (let l = 0; l < k; l++) {
    const b0 = v128.load(b);
    const b1 = v128.load(b, 16);
    const a0 = v128.load32_splat(a);
    c00 = madd(a0, b0, c00);
    c01 = madd(a0, b1, c01);
    const a1 = v128.load32_splat(a + aRow);
    c10 = madd(a1, b0, c10);
    c11 = madd(a1, b1, c11);
    const a2 = v128.load32_splat(a + r2);
    c20 = madd(a2, b0, c20);
    c21 = madd(a2, b1, c21);
    const a3 = v128.load32_splat(a + r3);
    c30 = madd(a3, b0, c30);
    c31 = madd(a3, b1, c31);
    a += aCol;
    b += ldb;
  }
  storeTile(c, ldc, add, c00, c01, c10, c11, c20, c21, c30, c31);
}

/**
 * C[0:4, 0:8] (+)= sliver (kc x 4 splats) @ panel (kc x 8). Accumulators c{row}{half}.
 * One k step: 2 B loads, 4 A loads, 8 multiply-adds (see the file comment for the shape).
 */
function microKernel(ap: usize, bp: usize, kc: i32, c: usize, ldc: usize, add: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  // One induction variable: o steps B by NR floats (32 bytes) and A by twice that (4 splats,
  // 4 * A_BYTES), so V8 forms both addresses with one lea each (base + o, base + o * 2) and
  // the loop is 19 macro-ops a step instead of 21 (two pointer phis cost an add and a
  // zero-extending mov each); same bits.
  const bStep: usize = NR << 2;
  const end = <usize>kc * bStep;
  for (let o: usize = 0; o < end; o += bStep) {
    const pb = bp + o;
    const pa = ap + o * <usize>((4 * A_BYTES) / (NR << 2));
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    const a0 = v128.load(pa);
    c00 = madd(a0, b0, c00);
    c01 = madd(a0, b1, c01);
    const a1 = v128.load(pa, 16);
    c10 = madd(a1, b0, c10);
    c11 = madd(a1, b1, c11);
    const a2 = v128.load(pa, 32);
    c20 = madd(a2, b0, c20);
    c21 = madd(a2, b1, c21);
    const a3 = v128.load(pa, 48);
    c30 = madd(a3, b0, c30);
    c31 = madd(a3, b1, c31);
  }
  storeTile(c, ldc, add, c00, c01, c10, c11, c20, c21, c30, c31);
}

/** Writes (or adds) a 4 x 8 tile of accumulators to C (rows ldc bytes apart). */
@inline function storeTile(
  c: usize, ldc: usize, add: bool,
  c00: v128, c01: v128, c10: v128, c11: v128, c20: v128, c21: v128, c30: v128, c31: v128,
): void {
  const c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
  if (add) {
    c00 = f32x4.add(c00, v128.load(c));
    c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c1));
    c11 = f32x4.add(c11, v128.load(c1, 16));
    c20 = f32x4.add(c20, v128.load(c2));
    c21 = f32x4.add(c21, v128.load(c2, 16));
    c30 = f32x4.add(c30, v128.load(c3));
    c31 = f32x4.add(c31, v128.load(c3, 16));
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c1, c10);
  v128.store(c1, c11, 16);
  v128.store(c2, c20);
  v128.store(c2, c21, 16);
  v128.store(c3, c30);
  v128.store(c3, c31, 16);
}

/** Copies (or adds) the valid mr x nr corner of an MR x NR tile into C. */
function writeEdge(tile: usize, c: usize, ldc: usize, mr: i32, nr: i32, add: bool): void {
  for (let i = 0; i < mr; i++) {
    const src = tile + (<usize>(i * NR) << 2);
    const dst = c + <usize>i * ldc;
    for (let j = 0; j < nr; j++) {
      const o = <usize>j << 2;
      const t = load<f32>(src + o);
      store<f32>(dst + o, add ? load<f32>(dst + o) + t : t);
    }
  }
}

/**
 * Packs op(A)[0:mc, 0:kc] (element (i, l) at a + i*rowStep + l*colStep) into MR-row slivers:
 * sliver s holds, for each l, the 4 values of rows 4s..4s+3 each splatted to 16 bytes. Rows
 * past mc are zeros.
 */
function packSliversA(dst: usize, a: usize, rowStep: usize, colStep: usize, mc: i32, kc: i32): void {
  for (let ir = 0; ir < mc; ir += MR) {
    const mr = min(MR, mc - ir);
    let s = a + <usize>ir * rowStep;
    if (mr == MR) {
      const r2 = rowStep << 1;
      const r3 = r2 + rowStep;
      for (let l = 0; l < kc; l++) {
        v128.store(dst, v128.load32_splat(s));
        v128.store(dst, v128.load32_splat(s + rowStep), 16);
        v128.store(dst, v128.load32_splat(s + r2), 32);
        v128.store(dst, v128.load32_splat(s + r3), 48);
        s += colStep;
        dst += 4 * A_BYTES;
      }
    } else {
      for (let l = 0; l < kc; l++) {
        for (let i = 0; i < MR; i++) {
          let v = f32x4.splat(0);
          if (i < mr) v = v128.load32_splat(s + <usize>i * rowStep);
          v128.store(dst + <usize>i * A_BYTES, v);
        }
        s += colStep;
        dst += 4 * A_BYTES;
      }
    }
  }
}

/**
 * Packs op(B)[0:kc, 0:nc] (element (l, j) at b + l*rowStep + j*colStep) into NR-column
 * panels: panel p holds, for each l, the 8 values of columns 8p..8p+7. Columns past nc are zeros.
 */
function packPanelsB(dst: usize, b: usize, rowStep: usize, colStep: usize, kc: i32, nc: i32): void {
  let jr = 0;
  if (colStep == 4) {
    // Rows of B are contiguous: two panels per pass, so each row's 64-byte line is read
    // whole once. (One panel per pass reads half a line per row; with a row stride that is
    // a multiple of 4 KiB, as for n = 3072, all kc rows fall in one L1 set and the other
    // half is evicted before the next panel wants it.)
    const panel = (<usize>kc * NR) << 2;
    for (; jr + 2 * NR <= nc; jr += 2 * NR) {
      let s = b + (<usize>jr << 2);
      let d = dst + <usize>(jr / NR) * panel;
      for (let l = 0; l < kc; l++) {
        v128.store(d, v128.load(s));
        v128.store(d, v128.load(s, 16), 16);
        v128.store(d + panel, v128.load(s, 32));
        v128.store(d + panel, v128.load(s, 48), 16);
        s += rowStep;
        d += NR << 2;
      }
    }
    dst += <usize>(jr / NR) * panel;
  }
  for (; jr < nc; jr += NR) {
    const nr = min(NR, nc - jr);
    let s = b + <usize>jr * colStep;
    if (nr == NR && colStep == 4) {
      // Rows of B are contiguous: two vector copies per k.
      for (let l = 0; l < kc; l++) {
        v128.store(dst, v128.load(s));
        v128.store(dst, v128.load(s, 16), 16);
        s += rowStep;
        dst += NR << 2;
      }
    } else if (nr == NR && rowStep == 4) {
      // transB: columns of op(B) are contiguous; transpose 4 x 4 blocks (k by 4, columns by 4).
      const kc4 = kc & ~3;
      for (let l = 0; l < kc4; l += 4) {
        transpose4(dst, s, colStep);
        transpose4(dst + 16, s + (colStep << 2), colStep);
        s += 16;
        dst += 4 * (NR << 2);
      }
      for (let l = kc4; l < kc; l++) {
        for (let j = 0; j < NR; j++) store<f32>(dst + (<usize>j << 2), load<f32>(s + <usize>j * colStep));
        s += 4;
        dst += NR << 2;
      }
    } else {
      for (let l = 0; l < kc; l++) {
        for (let j = 0; j < NR; j++) {
          let v: f32 = 0;
          if (j < nr) v = load<f32>(s + <usize>j * colStep);
          store<f32>(dst + (<usize>j << 2), v);
        }
        s += rowStep;
        dst += NR << 2;
      }
    }
  }
}

/**
 * Reads 4 rows of 4 contiguous floats (row r at src + r*srcStep) and writes their transpose
 * as 4 vectors NR floats apart: dst[q*NR + r] = src[r][q].
 */
@inline function transpose4(dst: usize, src: usize, srcStep: usize): void {
  const r0 = v128.load(src);
  const r1 = v128.load(src + srcStep);
  const r2 = v128.load(src + (srcStep << 1));
  const r3 = v128.load(src + srcStep * 3);
  const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5); // r0[0] r1[0] r0[1] r1[1]
  const t1 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const t2 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(dst, i64x2.shuffle(t0, t1, 0, 2));
  v128.store(dst, i64x2.shuffle(t0, t1, 1, 3), NR << 2);
  v128.store(dst, i64x2.shuffle(t2, t3, 0, 2), NR << 3);
  v128.store(dst, i64x2.shuffle(t2, t3, 1, 3), (NR << 2) * 3);
}

/**
 * GEMV, axpy form: out[j] (+)= sum_l x[l] * M[l, j] for j < len, l < k; M rows ld bytes
 * apart, x values xStep bytes apart. Streams M four rows at a time, adding into the output
 * row (which stays in L1).
 */
function gemvAxpy(mat: usize, ld: usize, x: usize, xStep: usize, out: usize, len: i32, k: i32, add: bool): void {
  if (!add) memory.fill(out, 0, <usize>len << 2);
  const len4 = len & ~3;
  let l = 0;
  for (; l + 4 <= k; l += 4) {
    const r0 = mat + <usize>l * ld, r1 = r0 + ld, r2 = r1 + ld, r3 = r2 + ld;
    const xp = x + <usize>l * xStep;
    const s0 = load<f32>(xp), s1 = load<f32>(xp + xStep);
    const s2 = load<f32>(xp + (xStep << 1)), s3 = load<f32>(xp + xStep * 3);
    const x0 = f32x4.splat(s0), x1 = f32x4.splat(s1), x2 = f32x4.splat(s2), x3 = f32x4.splat(s3);
    for (let j = 0; j < len4; j += 4) {
      const o = <usize>j << 2;
      let acc = v128.load(out + o);
      acc = madd(x0, v128.load(r0 + o), acc);
      acc = madd(x1, v128.load(r1 + o), acc);
      acc = madd(x2, v128.load(r2 + o), acc);
      acc = madd(x3, v128.load(r3 + o), acc);
      v128.store(out + o, acc);
    }
    for (let j = len4; j < len; j++) {
      const o = <usize>j << 2;
      let acc = load<f32>(out + o);
      acc += s0 * load<f32>(r0 + o);
      acc += s1 * load<f32>(r1 + o);
      acc += s2 * load<f32>(r2 + o);
      acc += s3 * load<f32>(r3 + o);
      store<f32>(out + o, acc);
    }
  }
  for (; l < k; l++) {
    const r0 = mat + <usize>l * ld;
    const s0 = load<f32>(x + <usize>l * xStep);
    const x0 = f32x4.splat(s0);
    for (let j = 0; j < len4; j += 4) {
      const o = <usize>j << 2;
      v128.store(out + o, madd(x0, v128.load(r0 + o), v128.load(out + o)));
    }
    for (let j = len4; j < len; j++) {
      const o = <usize>j << 2;
      store<f32>(out + o, load<f32>(out + o) + s0 * load<f32>(r0 + o));
    }
  }
}

/**
 * Finishes 4 rows of gemvDot: transpose-and-add (lane r of the sum is row r's total), the
 * scalar tail over [k4, k) of rows r0.. (ld bytes apart), then (+)= into out at op.
 */
@inline function storeDot4(a0: v128, a1: v128, a2: v128, a3: v128, x: usize, r0: usize, ld: usize, k4: i32, k: i32, op: usize, add: bool): void {
  let sum = sumLanes4(a0, a1, a2, a3);
  if (k4 < k) sum = f32x4.add(sum, dotTail4(x, r0, ld, k4, k));
  if (add) sum = f32x4.add(sum, v128.load(op));
  v128.store(op, sum);
}

/**
 * GEMV, dot form: out[j] (+)= sum_l x[l] * M[j, l] for j < len, l < k; M rows ld bytes apart.
 * Four rows at a time share each load of x; lanes are summed once per row at the end.
 */
function gemvDot(mat: usize, ld: usize, x: usize, out: usize, len: i32, k: i32, add: bool): void {
  const k4 = k & ~3;
  let j = 0;
  // Eight rows at a time: twice the streams in flight per x load. Each row keeps its one
  // accumulator and lane order, so every output has the bits of the four-row loop below.
  for (; j + 8 <= len; j += 8) {
    const r0 = mat + <usize>j * ld, r1 = r0 + ld, r2 = r1 + ld, r3 = r2 + ld;
    const r4 = r3 + ld, r5 = r4 + ld, r6 = r5 + ld, r7 = r6 + ld;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
    for (let l = 0; l < k4; l += 4) {
      const o = <usize>l << 2;
      const xv = v128.load(x + o);
      a0 = madd(xv, v128.load(r0 + o), a0);
      a1 = madd(xv, v128.load(r1 + o), a1);
      a2 = madd(xv, v128.load(r2 + o), a2);
      a3 = madd(xv, v128.load(r3 + o), a3);
      a4 = madd(xv, v128.load(r4 + o), a4);
      a5 = madd(xv, v128.load(r5 + o), a5);
      a6 = madd(xv, v128.load(r6 + o), a6);
      a7 = madd(xv, v128.load(r7 + o), a7);
    }
    const op = out + (<usize>j << 2);
    storeDot4(a0, a1, a2, a3, x, r0, ld, k4, k, op, add);
    storeDot4(a4, a5, a6, a7, x, r4, ld, k4, k, op + 16, add);
  }
  for (; j + 4 <= len; j += 4) {
    const r0 = mat + <usize>j * ld, r1 = r0 + ld, r2 = r1 + ld, r3 = r2 + ld;
    let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
    for (let l = 0; l < k4; l += 4) {
      const o = <usize>l << 2;
      const xv = v128.load(x + o);
      a0 = madd(xv, v128.load(r0 + o), a0);
      a1 = madd(xv, v128.load(r1 + o), a1);
      a2 = madd(xv, v128.load(r2 + o), a2);
      a3 = madd(xv, v128.load(r3 + o), a3);
    }
    storeDot4(a0, a1, a2, a3, x, r0, ld, k4, k, out + (<usize>j << 2), add);
  }
  for (; j < len; j++) {
    const r0 = mat + <usize>j * ld;
    let a0 = f32x4.splat(0);
    for (let l = 0; l < k4; l += 4) {
      const o = <usize>l << 2;
      a0 = madd(v128.load(x + o), v128.load(r0 + o), a0);
    }
    let s = f32x4.extract_lane(a0, 0) + f32x4.extract_lane(a0, 1) + f32x4.extract_lane(a0, 2) + f32x4.extract_lane(a0, 3);
    for (let l = k4; l < k; l++) {
      const o = <usize>l << 2;
      s += load<f32>(x + o) * load<f32>(r0 + o);
    }
    const op = out + (<usize>j << 2);
    store<f32>(op, add ? load<f32>(op) + s : s);
  }
}

/** Bytes of a prepacked B [k, n] (prepackB): NR-column panels, or for an untransposed B its transposed copy (fewer). */
export function prepackBBytes(n: i32, k: i32): i64 {
  return (<i64>roundUp(n, NR) * <i64>k) << 2;
}

/**
 * Packs B once for `product`. A transposed B (rows of k values already) goes whole into
 * NR-column panels of k rows each, zero-padded, for the packed path (few rows of A read its
 * rows in place). An untransposed B [k, n] becomes its transposed copy, [n, k] row-major,
 * which the dot-form tiles read for few rows of A; more rows of A pack B per call as usual.
 */
export function prepackB(dst: usize, b: usize, n: i32, k: i32, flags: i32): void {
  if (n == 0 || k == 0) return;
  if ((flags & TRANS_B) != 0) {
    packPanelsB(dst, b, 4, <usize>k << 2, k, n);
    return;
  }
  // dst[j][l] = b[l][j], in 8 x 8 blocks so both sides stay in cache lines.
  for (let l0 = 0; l0 < k; l0 += 8) {
    const l1 = min(l0 + 8, k);
    for (let j0 = 0; j0 < n; j0 += 8) {
      const j1 = min(j0 + 8, n);
      for (let j = j0; j < j1; j++) {
        const d = dst + ((<usize>j * <usize>k) << 2);
        for (let l = l0; l < l1; l++) store<f32>(d + (<usize>l << 2), load<f32>(b + ((<usize>l * <usize>n + <usize>j) << 2)));
      }
    }
  }
}

/** Bytes of the A packing scratch `product` needs for one [m, k] x [k, n] product (0: none). */
export function packABytes(m: i32, n: i32, k: i32, flags: i32): i32 {
  if (!packs(m, n, k, flags)) return 0;
  return min(MC, roundUp(m, MR)) * min(KC, k) * A_BYTES;
}

/** Bytes of the B packing scratch (packed panels + one MR x NR edge tile; 0: none). */
export function packBBytes(m: i32, n: i32, k: i32, flags: i32): i32 {
  if (!packs(m, n, k, flags)) return 0;
  return (min(KC, k) * min(NC, roundUp(n, NR)) + MR * NR) * 4;
}
