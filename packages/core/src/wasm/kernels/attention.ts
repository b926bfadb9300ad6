// Host side of the attention family (assembly/attention.ts).
import type { AttentionBackwardParams, AttentionParams } from '../../backend.js';
import type { WasmContext } from '../context.js';

export function attention(ctx: WasmContext, p: AttentionParams): void {
  if (p.heads === 0 || p.tq === 0) return;
  const scale = p.scale ?? 1 / Math.sqrt(p.d);
  ctx.exports.attn_forward(ctx.addr(p.q), ctx.addr(p.k), ctx.addr(p.v), ctx.addr(p.out), ctx.addr(p.probs), p.heads, p.tq, p.tk, p.d, p.causal ? 1 : 0, scale);
}

export function attentionBackward(ctx: WasmContext, p: AttentionBackwardParams): void {
  if (p.heads === 0) return;
  const scale = p.scale ?? 1 / Math.sqrt(p.d);
  // One row of dP = dOut v^T.
  const scratch = ctx.scratch('attentionBackward', p.tk * 4);
  ctx.exports.attn_backward(
    ctx.addr(p.q), ctx.addr(p.k), ctx.addr(p.v), ctx.addr(p.probs), ctx.addr(p.dOut),
    ctx.addr(p.dq), ctx.addr(p.dk), ctx.addr(p.dv), p.heads, p.tq, p.tk, p.d, scale, scratch,
  );
}
