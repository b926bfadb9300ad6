// Host side of the attention family (assembly/attention.ts).
//
// Threads: heads are independent problems, so a call is split into contiguous ranges of
// heads, each thread with scratch of its own (GEMM packing, and dS in backward); a head's
// result is the same bits on any number of threads.
import type { AttentionBackwardParams, AttentionParams } from '../../backend.js';
import { chunkRanges, type Split, type WasmContext } from '../context.js';

/**
 * heads x tq x tk x d from which an attention call runs on two threads: the two-thread
 * crossover of attn_forward (8 heads, d 64, causal), measured by
 * `node benchmarks/threads-crossover.mjs` (its results: docs/benchmarks.md).
 */
export const ATTN_PARALLEL_MIN = 32768;

function headParts(ctx: WasmContext, heads: number, tq: number, tk: number, d: number): Split {
  const threads = ctx.threadsFor(heads * tq * tk * d, ATTN_PARALLEL_MIN, heads);
  return chunkRanges(heads, threads);
}

export function attention(ctx: WasmContext, p: AttentionParams): void {
  if (p.heads === 0 || p.tq === 0) return;
  const scale = p.scale ?? 1 / Math.sqrt(p.d);
  const [q, k, v, out, probs] = [ctx.addr(p.q), ctx.addr(p.k), ctx.addr(p.v), ctx.addr(p.out), ctx.addr(p.probs)];
  // k/v heads are kvStride elements apart (>= tk * d, checked by the validator); a thread's
  // range of heads starts at its first head's rows, wherever the stride puts them.
  const kvStride = p.kvHeadStride ?? p.tk * p.d;
  const qb = p.tq * p.d * 4;
  const kb = kvStride * 4;
  const pb = p.tq * p.tk * 4;
  ctx.runSplit(
    'attn_forward',
    headParts(ctx, p.heads, p.tq, p.tk, p.d),
    (h, n) => [q + h * qb, k + h * kb, v + h * kb, out + h * qb, probs + h * pb, n, p.tq, p.tk, p.d, kvStride, p.causal ? 1 : 0, scale],
    // GEMM packing scratch of the running thread.
    (t) => [ctx.scratch(`attention#${t}`, ctx.exports.attn_forward_scratch_bytes(p.tq, p.tk, p.d))],
  );
}

export function attentionBackward(ctx: WasmContext, p: AttentionBackwardParams): void {
  if (p.heads === 0) return;
  const scale = p.scale ?? 1 / Math.sqrt(p.d);
  const [q, k, v, probs, dOut] = [ctx.addr(p.q), ctx.addr(p.k), ctx.addr(p.v), ctx.addr(p.probs), ctx.addr(p.dOut)];
  const [dq, dk, dv] = [ctx.addr(p.dq), ctx.addr(p.dk), ctx.addr(p.dv)];
  const qb = p.tq * p.d * 4;
  const kb = p.tk * p.d * 4;
  const pb = p.tq * p.tk * 4;
  ctx.runSplit(
    'attn_backward',
    headParts(ctx, p.heads, p.tq, p.tk, p.d),
    (h, n) => [
      q + h * qb, k + h * kb, v + h * kb, probs + h * pb, dOut + h * qb, dq + h * qb, dk + h * kb, dv + h * kb,
      n, p.tq, p.tk, p.d, scale,
    ],
    // dS [tq, tk] and GEMM packing scratch of the running thread.
    (t) => [ctx.scratch(`attentionBackward#${t}`, ctx.exports.attn_backward_scratch_bytes(p.tq, p.tk, p.d))],
  );
}
