import type { QEmbeddingParams } from '../../backend.js';
import { checkIndexRange } from '../../reference/select.js';
import { chunkRanges, type WasmContext } from '../context.js';
import { ROWS_PARALLEL_MIN } from './reduce.js';

/**
 * out[c] = dequant(W)[indices[c]] on the wasm heap (assembly/qembedding.ts). The indices
 * are range-checked here first (an IndexError naming the first bad one, nothing written);
 * threads split the rows, each computed by the same instructions on any split.
 */
export function qembedding(ctx: WasmContext, p: QEmbeddingParams): void {
  checkIndexRange(ctx.heapI32(), ctx.addr(p.indices) >> 2, p.count, p.n, 'qembedding');
  if (p.count === 0 || p.k === 0) return;
  const [q, scales, idx, out] = [ctx.addr(p.q), ctx.addr(p.scales), ctx.addr(p.indices), ctx.addr(p.out)];
  const threads = ctx.threadsFor(p.count * p.k, ROWS_PARALLEL_MIN, p.count);
  ctx.runSplit('qembedding_f32_part', chunkRanges(p.count, threads), (c0, count) => [q, scales, idx, out, p.k, p.bits, p.groupSize, c0, count]);
}
