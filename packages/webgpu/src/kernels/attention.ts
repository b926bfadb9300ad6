/**
 * Scaled dot-product attention built from the tiled matmul and the row
 * softmax kernels, batched over heads (q: [H, tq, d], k/v: [H, tk, d]; in the
 * forward, k/v heads are kvHeadStride elements apart, the matmul's B batch
 * stride, so a [H, capacity, d] KV cache is read in place).
 *
 * Forward: probs = q k^T * scale (matmul with alpha = scale, straight into the
 * probs output), then a causal-masked softmax in place (masked entries become
 * 0; query i sees keys j <= i + tk - tq, so a KV cache works), then
 * out = probs v.
 *
 * Backward: dv = P^T dOut; dP = dOut v^T (scratch [H, tq, tk]);
 * dS = scale * P * (dP - rowsum(dP * P)) in place (the softmax backward row
 * kernel); dq = dS k; dk = dS^T q. Masked entries have P = 0, so dS = 0 there.
 */

import type { AttentionBackwardParams, AttentionParams } from '@tessera/core';
import type { GpuContext } from '../runtime/context.js';
import { bufferOf } from '../storage.js';
import { encodeMatmul, type MatmulJob } from './matmul.js';
import { encodeSoftmax, encodeSoftmaxBackward } from './reduce.js';

type Buf = { buffer: GPUBuffer; offset: number };

function buf(d: { storage: import('@tessera/core').Storage; offset: number }): Buf {
  return { buffer: bufferOf(d.storage), offset: d.offset };
}

/** Batched (over heads) matmul job with dense per-head strides, except B's where `strideB` is given. */
function job(a: Buf, b: Buf, out: Buf, m: number, n: number, k: number, transA: boolean, transB: boolean, heads: number, alpha = 1, strideB = k * n): MatmulJob {
  return { a, b, out, m, n, k, transA, transB, batch: heads, strideA: m * k, strideB, accumulate: false, alpha };
}

export function attention(ctx: GpuContext, p: AttentionParams): void {
  const { heads, tq, tk, d } = p;
  if (heads === 0 || tq === 0) return;
  const scale = p.scale ?? 1 / Math.sqrt(d);
  const q = buf(p.q);
  const k = buf(p.k);
  const v = buf(p.v);
  const probs = buf(p.probs);
  const out = buf(p.out);
  const kvStride = p.kvHeadStride ?? tk * d;
  if (tk === 0) {
    // No keys: out is an empty sum (zeros); probs has no elements.
    encodeMatmul(ctx, job(probs, v, out, tq, d, 0, false, false, heads));
    return;
  }
  encodeMatmul(ctx, job(q, k, probs, tq, tk, d, false, true, heads, scale, kvStride));
  encodeSoftmax(ctx, probs, probs, heads * tq, tk, false, p.causal ? { tq, shift: tk - tq } : null);
  encodeMatmul(ctx, job(probs, v, out, tq, d, tk, false, false, heads, 1, kvStride));
}

export function attentionBackward(ctx: GpuContext, p: AttentionBackwardParams): void {
  const { heads, tq, tk, d } = p;
  if (heads === 0) return;
  const scale = p.scale ?? 1 / Math.sqrt(d);
  const q = buf(p.q);
  const k = buf(p.k);
  const v = buf(p.v);
  const probs = buf(p.probs);
  const dOut = buf(p.dOut);
  const dq = buf(p.dq);
  const dk = buf(p.dk);
  const dv = buf(p.dv);
  // dv: [tk, d] = P^T [tk, tq] @ dOut [tq, d]
  encodeMatmul(ctx, job(probs, dOut, dv, tk, d, tq, true, false, heads));
  const nS = heads * tq * tk;
  const scratch = nS > 0 ? ctx.storagePool.acquire(nS * 4) : null;
  const dS = { buffer: scratch ?? probs.buffer, offset: 0 };
  if (scratch) {
    // dP: [tq, tk] = dOut [tq, d] @ v^T
    encodeMatmul(ctx, job(dOut, v, dS, tq, tk, d, false, true, heads));
    encodeSoftmaxBackward(ctx, probs, dS, dS, heads * tq, tk, false, scale);
  }
  // dq: [tq, d] = dS [tq, tk] @ k [tk, d]; dk: [tk, d] = dS^T [tk, tq] @ q [tq, d]
  encodeMatmul(ctx, job(dS, k, dq, tq, d, tk, false, false, heads));
  encodeMatmul(ctx, job(dS, q, dk, tk, d, tq, true, false, heads));
  if (scratch) ctx.storagePool.release(scratch);
}
