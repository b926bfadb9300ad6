import type { MatmulParams } from '../backend.js';
import type { Views } from './views.js';

/** Naive triple loop with float64 accumulation. */
export function matmul(v: Views, p: MatmulParams): void {
  const { m, n, k } = p;
  const batch = p.batch ?? 1;
  const sa = p.strideA ?? m * k;
  const sb = p.strideB ?? k * n;
  const A = v.f32(p.a.storage);
  const B = v.f32(p.b.storage);
  const C = v.f32(p.out.storage);
  for (let bi = 0; bi < batch; bi++) {
    const ao = p.a.offset + bi * sa;
    const bo = p.b.offset + bi * sb;
    const co = p.out.offset + bi * m * n;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let l = 0; l < k; l++) {
          const a = p.transA ? A[ao + l * m + i] : A[ao + i * k + l];
          const b = p.transB ? B[bo + j * k + l] : B[bo + l * n + j];
          acc += a * b;
        }
        C[co + i * n + j] = p.accumulate ? C[co + i * n + j] + acc : acc;
      }
    }
  }
}
