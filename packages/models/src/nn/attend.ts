/**
 * Multi-head attention as a function of per-head q, k, v, plus the reshapes
 * around it. Without a padding mask (and without dropout on the attention
 * probabilities) it is the fused scaledDotProductAttention kernel; with one it
 * is composed from matmul, an additive mask and softmax.
 */

import { ShapeError, fmtShape } from '@tessera/core';
import { add, matmul, mul, scaledDotProductAttention, softmax, sub, tensor, tidy, transpose, type Tensor } from '@tessera/tensor';
import type { Dropout } from './dropout.js';

/** What masked logits get added: exp() of it is exactly 0 in f32, yet it stays finite when two masks add up. */
export const MASK_VALUE = -1e9;

/** Options of `attend`. */
export interface AttendOptions {
  /** Query i sees key j only when j <= i + (Tk - Tq). */
  causal?: boolean;
  /** [B, Tk]: 1 where a key is a real token, 0 where it is padding (f32 or i32). */
  keyPaddingMask?: Tensor | null;
  /** Dropout on the attention probabilities (applied when it is in training mode with p > 0). */
  dropout?: Dropout | null;
  /** Logit scale; default 1/sqrt(D). */
  scale?: number;
}

/** [Tq, Tk] additive causal mask: 0 where allowed, MASK_VALUE above the (offset) diagonal. */
export function causalMask(tq: number, tk: number): Tensor {
  const m = new Float32Array(tq * tk);
  for (let i = 0; i < tq; i++) for (let j = i + (tk - tq) + 1; j < tk; j++) m[i * tk + j] = MASK_VALUE;
  return tensor(m, [tq, tk]);
}

/**
 * softmax(q k^T * scale + masks) v over q: [B, H, Tq, D], k and v: [B, H, Tk, D] -> [B, H, Tq, D].
 * @example attend(q, k, v, { causal: true, keyPaddingMask: mask })
 */
export function attend(q: Tensor, k: Tensor, v: Tensor, options: AttendOptions = {}): Tensor {
  const mask = options.keyPaddingMask ?? null;
  const drop = options.dropout && options.dropout.training && options.dropout.p > 0 ? options.dropout : null;
  if (!mask && !drop) return scaledDotProductAttention(q, k, v, { causal: options.causal ?? false, scale: options.scale });
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) {
    throw new ShapeError(`attend: q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)} and v ${fmtShape(v.shape)} must be [B, H, T, D]`);
  }
  const [B, , Tq, D] = q.shape;
  const Tk = k.shape[2];
  if (mask && (mask.rank !== 2 || mask.shape[0] !== B || mask.shape[1] !== Tk)) {
    throw new ShapeError(`attend: keyPaddingMask ${fmtShape(mask.shape)} must be [batch, keys] = [${B}, ${Tk}]`);
  }
  if (options.causal && Tq > Tk) throw new ShapeError(`attend: causal attention needs Tq <= Tk, got Tq ${Tq}, Tk ${Tk}`);
  return tidy(() => {
    let scores = mul(matmul(q, transpose(k, -2, -1)), options.scale ?? 1 / Math.sqrt(D)); // [B, H, Tq, Tk]
    if (options.causal) scores = add(scores, causalMask(Tq, Tk));
    if (mask) {
      // (mask - 1) * 1e9: 0 for tokens, MASK_VALUE for padding; [B, 1, 1, Tk] broadcasts over heads and queries.
      const additive = mul(sub(mask.dtype === 'f32' ? mask : mask.float(), 1), -MASK_VALUE);
      scores = add(scores, additive.reshape([B, 1, 1, Tk]));
    }
    let probs = softmax(scores, -1);
    if (drop) probs = drop.forward(probs);
    return matmul(probs, v);
  });
}

/** qkv: [B, T, 3C] (q, k, v side by side) -> q, k, v as [B, H, T, C/H] views. */
export function splitHeads(qkv: Tensor, numHeads: number): [Tensor, Tensor, Tensor] {
  const [B, T, C3] = qkv.shape;
  const C = C3 / 3;
  const D = C / numHeads;
  return tidy(() => {
    const five = qkv.reshape([B, T, 3, numHeads, D]);
    const part = (i: number): Tensor => five.narrow(2, i, 1).reshape([B, T, numHeads, D]).permute([0, 2, 1, 3]);
    return [part(0), part(1), part(2)] as [Tensor, Tensor, Tensor];
  });
}

/** y: [B, H, T, D] -> [B, T, H*D] */
export function mergeHeads(y: Tensor): Tensor {
  const [B, H, T, D] = y.shape;
  return tidy(() => y.permute([0, 2, 1, 3]).reshape([B, T, H * D]));
}
