import type { MatmulParams, PrepackMatmulBParams } from '../../backend.js';
import type { WasmContext } from '../context.js';

const TRANS_A = 1;
const TRANS_B = 2;
const ACCUMULATE = 4;

/**
 * Multiply-adds (batch x m x n x k) from which a matmul runs on two threads: the two-thread
 * crossover of square products, measured by `node benchmarks/threads-crossover.mjs`
 * (its results: docs/benchmarks.md).
 */
export const MATMUL_PARALLEL_MIN = 48 * 48 * 48;

/**
 * out[b] = op(A[b]) @ op(B[b]) (+ out[b]) on the wasm heap. Operands were validated by
 * the backend (bounds, liveness, no output/input overlap). The batch loop, the GEMV paths
 * (m == 1 or n == 1) and the packed GEMM all run inside `matmul_f32`; the host only
 * provides the packing scratch, sized by the module for this shape.
 *
 * Threads: `matmul_f32_part` runs part t of T of the same call (whole batches, or ranges of
 * rows / columns on the kernel's block boundaries; see assembly/matmul.ts), each part with
 * packing scratch of its own. The result has the same bits on any number of threads.
 */
export function matmul(ctx: WasmContext, p: MatmulParams): void {
  const { m, n, k } = p;
  const batch = p.batch ?? 1;
  if (batch === 0 || m === 0 || n === 0) return;
  const e = ctx.exports;
  const flags = (p.transA ? TRANS_A : 0) | (p.transB ? TRANS_B : 0) | (p.accumulate ? ACCUMULATE : 0);
  const strideA = p.strideA ?? m * k;
  const strideB = p.strideB ?? k * n;
  const bytesA = e.matmul_pack_a_bytes(m, n, k, flags, batch, strideA, strideB);
  const bytesB = e.matmul_pack_b_bytes(m, n, k, flags, batch, strideA, strideB);
  const [a, b, out] = [ctx.addr(p.a), ctx.addr(p.b), ctx.addr(p.out)];
  const bPacked = p.bPacked ? ctx.addr(p.bPacked) : 0;
  const threads = ctx.threadsFor(batch * m * n * Math.max(k, 1), MATMUL_PARALLEL_MIN);
  // scratch() may grow memory; operand addresses are byte offsets and stay valid. Each
  // thread packs into scratch of its own (the per-thread tail of every part it runs).
  const scratch = (t: number): [number, number, number] => [
    bytesA > 0 ? ctx.scratch(t ? `matmul.a#${t}` : 'matmul.a', bytesA) : 0,
    bytesB > 0 ? ctx.scratch(t ? `matmul.b#${t}` : 'matmul.b', bytesB) : 0,
    bPacked,
  ];
  if (threads === 1) {
    e.matmul_f32(a, b, out, m, n, k, flags, batch, strideA, strideB, ...scratch(0));
    return;
  }
  const parts: number[][] = [];
  for (let t = 0; t < threads; t++) parts.push([a, b, out, m, n, k, flags, batch, strideA, strideB, t, threads]);
  ctx.run('matmul_f32_part', parts, threads, scratch);
}

/** f32 elements of a B of [k, n] packed whole into the GEMM's panels (columns rounded up to 8). */
export function prepackedElements(ctx: WasmContext, k: number, n: number): number {
  return ctx.exports.matmul_prepack_b_bytes(n, k) / 4;
}

/** Packs B ([k, n], or [n, k] when transB) into p.out for MatmulParams.bPacked (validated by the backend). */
export function prepackB(ctx: WasmContext, p: PrepackMatmulBParams): void {
  if (p.k === 0 || p.n === 0) return;
  ctx.exports.matmul_prepack_b(ctx.addr(p.b), ctx.addr(p.out), p.n, p.k, p.transB ? TRANS_B : 0);
}
