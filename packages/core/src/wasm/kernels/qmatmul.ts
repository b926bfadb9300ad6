import type { QMatmulParams } from '../../backend.js';
import { chunkRanges, type WasmContext } from '../context.js';
import { MATMUL_PARALLEL_MIN } from './matmul.js';

/**
 * out = x @ dequant(W)^T on the wasm heap (assembly/qmatmul.ts; operands validated by the
 * backend). Threads split the output columns (the weight's rows), as the f32 GEMV splits
 * its outputs: each part reads only its columns' quantized bytes, and every output is
 * computed by the same instruction sequence on any split, so the result has the same bits
 * on any number of threads. Threads start at the f32 matmul's crossover in multiply-adds
 * (each multiply-add here also widens a value, so it is not cheaper).
 */
export function qmatmul(ctx: WasmContext, p: QMatmulParams): void {
  const { m, n, k } = p;
  if (m === 0 || n === 0) return;
  const [x, q, scales, out] = [ctx.addr(p.x), ctx.addr(p.q), ctx.addr(p.scales), ctx.addr(p.out)];
  if (k === 0) {
    ctx.heapF32().fill(0, out / 4, out / 4 + m * n);
    return;
  }
  const threads = ctx.threadsFor(m * n * k, MATMUL_PARALLEL_MIN, n);
  ctx.runSplit('qmatmul_f32_part', chunkRanges(n, threads), (start, count) => [x, q, scales, out, m, n, k, p.bits, p.groupSize, start, count]);
}
