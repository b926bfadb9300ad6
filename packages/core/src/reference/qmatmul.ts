import type { QMatmulParams } from '../backend.js';
import { quantizedValue } from '../quant.js';
import type { Views } from './views.js';

/**
 * out[i, j] = sum over groups g of scale[j, g] * sum_{l in g} x[i, l] * q[j, l], in float64
 * (q * scale is exact in float64, so this is x @ dequant(W)^T with exact products). The
 * values are unpacked from the i32 words arithmetically (src/quant.ts's layout), so the
 * float64 mode, whose i32 data is a separate array, reads them the same way.
 */
export function qmatmul(v: Views, p: QMatmulParams): void {
  const { m, n, k, bits, groupSize } = p;
  const X = v.f32(p.x.storage);
  const Q = v.i32(p.q.storage);
  const S = v.f32(p.scales.storage);
  const O = v.f32(p.out.storage);
  const groups = k / groupSize;
  const w = new Float64Array(k);
  for (let j = 0; j < n; j++) {
    for (let l = 0; l < k; l++) w[l] = quantizedValue(Q, p.q.offset, bits, k, j, l);
    for (let i = 0; i < m; i++) {
      const xo = p.x.offset + i * k;
      let acc = 0;
      for (let g = 0; g < groups; g++) {
        let dot = 0;
        for (let l = g * groupSize; l < (g + 1) * groupSize; l++) dot += X[xo + l] * w[l];
        acc += dot * S[p.scales.offset + j * groups + g];
      }
      O[p.out.offset + i * n + j] = acc;
    }
  }
}
