// Kernel family: attention. Scaled dot-product attention over `heads` independent
// problems, q: [heads, tq, d], k/v: [heads, tk, d] (forward: heads kvStride elements
// apart, so the first tk rows of a [heads, capacity, d] KV cache are read in place;
// backward: dense), with the saved probabilities
// probs: [heads, tq, tk] doubling as the score buffer. Causal: query i sees keys
// j <= i + (tk - tq), so a KV cache of tk - tq earlier positions works.
//
// Each head is a handful of matrix products run through the matmul family's GEMM / GEMV
// code (assembly/gemm.ts, the same paths and blocking as matmul_f32), plus row-wise work:
//   forward:  S = q k^T; per row: scale, causal mask, softmax (f64 sums) -> probs; out = P v
//   backward: dv = P^T dOut; dP = dOut v^T; dS = P * (dP - rowsum(dP * P)) * scale;
//             dq = dS k; dk = dS^T q
// With a causal mask the products also multiply the masked (zero) entries: twice the
// arithmetic of a triangular loop, but at GEMM speed rather than one row-vector operation
// at a time, which is faster at GPT-2 training sizes (docs/benchmarks.md, "Kernel design").

import { TRANS_A, TRANS_B, packABytes, packBBytes, product, roundUp } from './gemm';
import { rowDotF64, rowExpShift, rowMax, rowScale } from './rowops';
import { loadPartial, storePartial } from './vmath';

/** Packing scratch: the larger of what two products need, A block then B block (16-byte aligned). */
@inline function packBytes2(aBytes: i32, bBytes: i32): i32 {
  return roundUp(aBytes, 16) + bBytes;
}

/** Scratch bytes attn_forward needs per call (per thread when heads are split). */
export function attn_forward_scratch_bytes(tq: i32, tk: i32, d: i32): i32 {
  const a = max(packABytes(tq, tk, d, TRANS_B), packABytes(tq, d, tk, 0));
  const b = max(packBBytes(tq, tk, d, TRANS_B), packBBytes(tq, d, tk, 0));
  return packBytes2(a, b);
}

/** Scratch bytes attn_backward needs per call (per thread when heads are split): dS + packing. */
export function attn_backward_scratch_bytes(tq: i32, tk: i32, d: i32): i32 {
  const a = max(max(packABytes(tk, d, tq, TRANS_A), packABytes(tq, tk, d, TRANS_B)), packABytes(tq, d, tk, 0));
  const b = max(max(packBBytes(tk, d, tq, TRANS_A), packBBytes(tq, tk, d, TRANS_B)), packBBytes(tq, d, tk, 0));
  return roundUp(tq * tk * 4, 16) + packBytes2(a, b);
}

/**
 * probs = softmax(q k^T * scale, causal mask) (masked entries 0), out = probs v.
 * k/v head h is the [tk, d] rows at pk/pv + h * kvStride elements (kvStride >= tk * d).
 * A query that sees no key gets a zero output row. scratch: attn_forward_scratch_bytes.
 */
export function attn_forward(pq: usize, pk: usize, pv: usize, po: usize, pp: usize, heads: i32, tq: i32, tk: i32, d: i32, kvStride: i32, causal: i32, scale: f32, scratch: usize): void {
  const qBytes = <usize>tq * <usize>d << 2;
  const kBytes = <usize>kvStride << 2;
  const pBytes = <usize>tq * <usize>tk << 2;
  const packA = scratch;
  const packB = scratch + <usize>roundUp(max(packABytes(tq, tk, d, TRANS_B), packABytes(tq, d, tk, 0)), 16);
  const shift = tk - tq;
  for (let h = 0; h < heads; h++) {
    const q = pq + <usize>h * qBytes;
    const k = pk + <usize>h * kBytes;
    const v = pv + <usize>h * kBytes;
    const p = pp + <usize>h * pBytes;
    const out = po + <usize>h * qBytes;
    // S = q k^T: [tq, tk] (k = 0 when d = 0: all zeros).
    product(q, k, p, tq, tk, d, TRANS_B, packA, packB, 0, 1);
    for (let i = 0; i < tq; i++) {
      const row = p + (<usize>i * <usize>tk << 2);
      const n = causal != 0 ? max(0, min(i + shift + 1, tk)) : tk;
      if (n < tk) memory.fill(row + (<usize>n << 2), 0, <usize>(tk - n) << 2);
      if (n == 0) continue;
      rowScale(row, n, scale);
      const s = rowExpShift(row, n, rowMax(row, n), row);
      rowScale(row, n, <f32>(1.0 / s));
    }
    // out = P v: [tq, d]; a row of P that is all zeros gives a zero row.
    product(p, v, out, tq, d, tk, 0, packA, packB, 0, 1);
  }
}

/**
 * dv = P^T dOut; dP = dOut v^T; dS = P * (dP - rowsum(dP * P)) * scale; dq = dS k; dk = dS^T q.
 * dq, dk, dv are overwritten. Entries with P = 0 (masked) get dS = 0 whatever dP is.
 * scratch: attn_backward_scratch_bytes.
 */
export function attn_backward(pq: usize, pk: usize, pv: usize, pp: usize, pdo: usize, pdq: usize, pdk: usize, pdv: usize, heads: i32, tq: i32, tk: i32, d: i32, scale: f32, scratch: usize): void {
  const qBytes = <usize>tq * <usize>d << 2;
  const kBytes = <usize>tk * <usize>d << 2;
  const pBytes = <usize>tq * <usize>tk << 2;
  const ds = scratch;
  const packA = ds + <usize>roundUp(tq * tk * 4, 16);
  const aBytes = max(max(packABytes(tk, d, tq, TRANS_A), packABytes(tq, tk, d, TRANS_B)), packABytes(tq, d, tk, 0));
  const packB = packA + <usize>roundUp(aBytes, 16);
  const sv = f32x4.splat(scale);
  const zero = f32x4.splat(0);
  for (let h = 0; h < heads; h++) {
    const q = pq + <usize>h * qBytes;
    const k = pk + <usize>h * kBytes;
    const v = pv + <usize>h * kBytes;
    const p = pp + <usize>h * pBytes;
    const dOut = pdo + <usize>h * qBytes;
    const dq = pdq + <usize>h * qBytes;
    const dk = pdk + <usize>h * kBytes;
    const dv = pdv + <usize>h * kBytes;
    if (d == 0) continue;
    if (tq == 0 || tk == 0) {
      memory.fill(dq, 0, qBytes);
      memory.fill(dk, 0, kBytes);
      memory.fill(dv, 0, kBytes);
      continue;
    }
    // dv = P^T dOut: [tk, d].
    product(p, dOut, dv, tk, d, tq, TRANS_A, packA, packB, 0, 1);
    // dP = dOut v^T: [tq, tk], then dS in place, row by row.
    product(dOut, v, ds, tq, tk, d, TRANS_B, packA, packB, 0, 1);
    for (let i = 0; i < tq; i++) {
      const pr = p + (<usize>i * <usize>tk << 2);
      const dr = ds + (<usize>i * <usize>tk << 2);
      const rd = f32x4.splat(<f32>rowDotF64(dr, pr, tk));
      let j = 0;
      for (; j < tk; j += 4) {
        const o = <usize>j << 2;
        const rem = tk - j;
        const pv4 = rem >= 4 ? v128.load(pr + o) : loadPartial(pr + o, 1, rem);
        const dp4 = rem >= 4 ? v128.load(dr + o) : loadPartial(dr + o, 1, rem);
        const s4 = v128.and(f32x4.mul(f32x4.mul(pv4, f32x4.sub(dp4, rd)), sv), f32x4.ne(pv4, zero));
        if (rem >= 4) v128.store(dr + o, s4);
        else storePartial(dr + o, s4, rem);
      }
    }
    // dq = dS k: [tq, d]; dk = dS^T q: [tk, d].
    product(ds, k, dq, tq, d, tk, 0, packA, packB, 0, 1);
    product(ds, q, dk, tk, d, tq, TRANS_A, packA, packB, 0, 1);
  }
}
