import type { MatmulParams } from '../../backend.js';
import type { WasmContext } from '../context.js';

const TRANS_A = 1;
const TRANS_B = 2;
const ACCUMULATE = 4;

/**
 * out[b] = op(A[b]) @ op(B[b]) (+ out[b]) on the wasm heap. Operands were validated by
 * the backend (bounds, liveness, no output/input overlap). The batch loop, the GEMV paths
 * (m == 1 or n == 1) and the packed GEMM all run inside `matmul_f32`; the host only
 * provides the packing scratch, sized by the module for this shape.
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
  // scratch() may grow memory; operand addresses are byte offsets and stay valid.
  const packA = bytesA > 0 ? ctx.scratch('matmul.a', bytesA) : 0;
  const packB = bytesB > 0 ? ctx.scratch('matmul.b', bytesB) : 0;
  e.matmul_f32(ctx.addr(p.a), ctx.addr(p.b), ctx.addr(p.out), m, n, k, flags, batch, strideA, strideB, packA, packB);
}
