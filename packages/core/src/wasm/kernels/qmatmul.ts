import type { QMatmulParams } from '../../backend.js';
import { chunkRanges, type WasmContext } from '../context.js';
import { MATMUL_PARALLEL_MIN } from './matmul.js';

/** Columns per packed-GEMM panel (assembly/gemm.ts NR): threads split the columns on its multiples. */
const NR = 8;

/**
 * out = x @ dequant(W)^T on the wasm heap (assembly/qmatmul.ts; operands validated by the
 * backend). Few rows run the GEMV kernels, many rows the packed f32 GEMM over B panels
 * dequantized per block (the module decides from m; qmatmul_pack_bytes is 0 for the GEMV
 * path). Threads split the output columns (the weight's rows) on panel boundaries, as the
 * f32 GEMV splits its outputs: each part reads only its columns' quantized bytes, packs
 * into scratch of its own thread, and every output is computed by the same instruction
 * sequence on any split, so the result has the same bits on any number of threads. Threads
 * start at the f32 matmul's crossover in multiply-adds (each multiply-add here also widens
 * a value, so it is not cheaper). `activations: 'int8'` quantizes x per row and group into
 * scratch first and runs the integer kernel (assembly/qmatmul-int8x.ts), split the same way.
 */
export function qmatmul(ctx: WasmContext, p: QMatmulParams): void {
  const { m, n, k } = p;
  if (m === 0 || n === 0) return;
  const [x, q, scales, out] = [ctx.addr(p.x), ctx.addr(p.q), ctx.addr(p.scales), ctx.addr(p.out)];
  if (k === 0) {
    ctx.heapF32().fill(0, out / 4, out / 4 + m * n);
    return;
  }
  const e = ctx.exports;
  const threads = ctx.threadsFor(m * n * k, MATMUL_PARALLEL_MIN, Math.ceil(n / NR));
  if (p.activations === 'int8') {
    // x quantized once on this thread (O(m k)), then the integer kernel split over columns.
    const groups = (m * k) / p.groupSize;
    const xq = ctx.scratch('qmatmul.xq', m * k);
    const xs = ctx.scratch('qmatmul.xs', groups * 4);
    const xsum = ctx.scratch('qmatmul.xsum', groups * 4);
    e.qmatmul_quantize_rows(x, xq, xs, xsum, m, k, p.groupSize);
    ctx.runSplit('qmatmul_int8x_part', chunkRanges(n, threads, 4), (start, count) => [xq, xs, xsum, q, scales, out, m, n, k, p.bits, p.groupSize, start, count]);
    return;
  }
  const bytesA = e.qmatmul_pack_bytes(m, n, k, 0);
  const bytesB = e.qmatmul_pack_bytes(m, n, k, 1);
  // scratch() may grow memory; operand addresses are byte offsets and stay valid.
  const scratch = (t: number): [number, number] => [
    bytesA > 0 ? ctx.scratch(t ? `qmatmul.a#${t}` : 'qmatmul.a', bytesA) : 0,
    bytesB > 0 ? ctx.scratch(t ? `qmatmul.b#${t}` : 'qmatmul.b', bytesB) : 0,
  ];
  ctx.runSplit('qmatmul_f32_part', chunkRanges(n, threads, NR), (start, count) => [x, q, scales, out, m, n, k, p.bits, p.groupSize, start, count], scratch);
}
