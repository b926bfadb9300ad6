/**
 * Scaled dot-product attention: softmax(q k^T * scale [+ causal mask]) v over
 * independent [..., T, D] problems. On a backend with the fused attention
 * kernel the forward saves the attention probabilities and the backward is the
 * fused attentionBackward kernel (or, where that is missing, its formula as
 * ops); without the fused forward the same function is composed from matmul,
 * maskedFill and softmax, and autograd differentiates it.
 */

import { ShapeError, fmtShape, fusedKernel, sizeOf, type Backend, type Dense } from '@tessera/core';
import { attachGrad } from '../autograd.js';
import { backendOf, dense, empty, expectDType, withDense } from '../kernels.js';
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { maskedFill, mul, sub } from './elementwise.js';
import { matmul } from './matmul.js';
import { softmax } from './nn.js';
import { sum } from './reduce.js';
import { fromHost, reshape, transpose } from './shape.js';

/** Options for `scaledDotProductAttention`. */
export interface AttentionOptions {
  /** Query i sees key j only when j <= i + (Tk - Tq) (default false). */
  causal?: boolean;
  /** Logit scale; default 1/sqrt(D). */
  scale?: number;
}

/**
 * Attention over q: [..., Tq, D], k and v: [..., Tk, D] (same leading dims) -> [..., Tq, D].
 * With `causal`, queries are the last Tq of Tk positions (so a KV cache works). The fused
 * kernel reads k and v in place, without a copy, when each head's [Tk, D] rows are contiguous
 * and the heads lie a common stride apart: the first Tk rows of a [H, P, D] KV cache,
 * `cache.narrow(1, 0, Tk)`, are such a view.
 * @example scaledDotProductAttention(q, k, v, { causal: true }) // q, k, v: [B, H, T, Dh]
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): Tensor {
  const be = backendOf('scaledDotProductAttention', q, k, v);
  for (const [name, t] of [['q', q], ['k', k], ['v', v]] as const) expectDType('scaledDotProductAttention', t, 'f32', name);
  const context = `scaledDotProductAttention(q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)})`;
  if (q.rank < 2) throw new ShapeError(`${context}: inputs need at least 2 dims [..., T, D]`);
  const lead = q.shape.slice(0, -2);
  const sameLead = (t: Tensor) => t.rank === q.rank && t.shape.slice(0, -2).every((d, i) => d === lead[i]);
  if (!sameLead(k) || !sameLead(v)) throw new ShapeError(`${context}: q, k and v must have the same leading dims`);
  const tq = q.shape[q.rank - 2];
  const d = q.shape[q.rank - 1];
  const tk = k.shape[k.rank - 2];
  if (k.shape[k.rank - 1] !== d || v.shape[v.rank - 2] !== tk || v.shape[v.rank - 1] !== d) {
    throw new ShapeError(`${context}: k and v must be [..., Tk, ${d}] with the same Tk`);
  }
  const causal = options.causal ?? false;
  if (causal && tq > tk) throw new ShapeError(`${context}: causal attention needs Tq <= Tk (queries are the last Tq positions), got Tq ${tq}, Tk ${tk}`);
  const forward = fusedKernel(be, 'attention');
  if (!forward) return attentionComposed(be, q, k, v, causal, options.scale ?? 1 / Math.sqrt(d));
  const heads = sizeOf(lead);
  const scale = options.scale;
  const out = empty(be, q.shape, 'f32');
  const probs = empty(be, [heads, tq, tk], 'f32', false);
  try {
    if (out.size > 0) {
      const run = (qd: Dense, kd: Dense, vd: Dense, kvHeadStride?: number) =>
        forward({ q: qd, k: kd, v: vd, out: dense(out), probs: dense(probs), heads, tq, tk, d, causal, scale, kvHeadStride });
      const kvHeadStride = kvHeadStrideOf(k);
      if (kvHeadStride !== null && kvHeadStride === kvHeadStrideOf(v)) withDense([q], (qd) => run(qd, dense(k), dense(v), kvHeadStride));
      else withDense([q, k, v], (qd, kd, vd) => run(qd, kd, vd));
    }
    attachGrad('Attention', out, [q, k, v], (save) => {
      const Q = save(q);
      const K = save(k);
      const V = save(v);
      const P = save(probs);
      return (g) => {
        const gb = backendOf('attention backward', g, Q);
        const backward = fusedKernel(gb, 'attentionBackward');
        if (!backward) return attentionBackwardComposed(Q, K, V, reshape(P, [...lead, tq, tk]), g, scale ?? 1 / Math.sqrt(d));
        const dq = empty(gb, Q.shape, 'f32');
        const dk = empty(gb, K.shape, 'f32');
        const dv = empty(gb, V.shape, 'f32');
        if (dq.size + dk.size > 0) {
          withDense([Q, K, V, g], (qd, kd, vd, gd) =>
            backward({ q: qd, k: kd, v: vd, probs: dense(P), dOut: gd, dq: dense(dq), dk: dense(dk), dv: dense(dv), heads, tq, tk, d, scale }),
          );
        }
        return [dq, dk, dv];
      };
    });
  } finally {
    probs.dispose();
  }
  return out;
}

/**
 * The element distance between consecutive heads of t: [..., Tk, D] (the leading dims
 * flattened row-major) when the fused kernel can read t in place: each head's rows contiguous
 * (strides [D, 1] where those dims exceed 1) and the leading dims, size-1 ones aside,
 * collapsing to one stride >= Tk * D. A [H, P, D] cache narrowed to [H, Tk, D] gives P * D, a
 * contiguous t gives Tk * D. Null otherwise (transposed, broadcast or interleaved heads):
 * then t is copied dense.
 */
function kvHeadStrideOf(t: Tensor): number | null {
  const r = t.rank;
  const tk = t.shape[r - 2];
  const d = t.shape[r - 1];
  if ((tk > 1 && t.strides[r - 2] !== d) || (d > 1 && t.strides[r - 1] !== 1)) return null;
  let stride: number | null = null; // of the innermost leading dim longer than 1
  let inner = 1; // heads in the leading dims inside dim i
  for (let i = r - 3; i >= 0; i--) {
    if (t.shape[i] === 1) continue;
    if (stride === null) stride = t.strides[i];
    else if (t.strides[i] !== stride * inner) return null;
    inner *= t.shape[i];
  }
  if (stride === null) return tk * d; // one head: any stride reads it
  return stride >= tk * d ? stride : null;
}

/** mask[i, j] = 1 where key j lies after query i's position i + (tk - tq) (the KV-cache offset). */
function causalMask(be: Backend, tq: number, tk: number): Tensor {
  const m = new Float32Array(tq * tk);
  for (let i = 0; i < tq; i++) for (let j = i + tk - tq + 1; j < tk; j++) m[i * tk + j] = 1;
  return fromHost(m, [tq, tk], 'f32', be);
}

/** Attention from ops: softmax(q k^T * scale, masked to -inf above the causal diagonal) v. */
function attentionComposed(be: Backend, q: Tensor, k: Tensor, v: Tensor, causal: boolean, scale: number): Tensor {
  return tidy(() => {
    // q: [..., Tq, D], k, v: [..., Tk, D] -> scores: [..., Tq, Tk]
    const tq = q.shape[q.rank - 2];
    const tk = k.shape[k.rank - 2];
    let scores = mul(matmul(q, transpose(k, -2, -1)), scale);
    if (causal) scores = maskedFill(scores, causalMask(be, tq, tk), -Infinity);
    return matmul(softmax(scores, -1), v);
  });
}

/**
 * The fused forward's backward as ops, from its saved probabilities P: dv = P^T dOut;
 * dP = dOut v^T; dS = P (dP - rowsum(dP P)) scale; dq = dS k; dk = dS^T q.
 */
function attentionBackwardComposed(q: Tensor, k: Tensor, v: Tensor, p: Tensor, dOut: Tensor, scale: number): Tensor[] {
  // q, dOut: [..., Tq, D]; k, v: [..., Tk, D]; p: [..., Tq, Tk]
  const dp = matmul(dOut, transpose(v, -2, -1));
  const ds = mul(mul(p, sub(dp, sum(mul(dp, p), -1, true))), scale);
  return [matmul(ds, k), matmul(transpose(ds, -2, -1), q), matmul(transpose(p, -2, -1), dOut)];
}
