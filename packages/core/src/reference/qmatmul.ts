import type { QMatmulParams } from '../backend.js';
import { quantizeActivations, quantizedValue } from '../quant.js';
import type { Views } from './views.js';

/**
 * out[i, j] = sum over groups g of scale[j, g] * sum_{l in g} x[i, l] * q[j, l], in float64
 * (q * scale is exact in float64, so this is x @ dequant(W)^T with exact products). The
 * values are unpacked from the i32 words arithmetically (src/quant.ts's layout), so the
 * float64 mode, whose i32 data is a separate array, reads them the same way. With
 * `activations: 'int8'`, x is first quantized per row and group (quant.ts
 * quantizeActivations) and each group's dot product is the exact integer sum.
 */
export function qmatmul(v: Views, p: QMatmulParams): void {
  const { m, n, k, bits, groupSize } = p;
  const X = v.f32(p.x.storage);
  const Q = v.i32(p.q.storage);
  const S = v.f32(p.scales.storage);
  const O = v.f32(p.out.storage);
  const groups = k / groupSize;
  const w = new Float64Array(k);
  if (p.activations === 'int8') {
    // Integer dot products per group (exact: |sum| <= 128 * 127 * 127 < 2^53), scaled in float64.
    const { xq, scales: sx } = quantizeActivations(X.subarray(p.x.offset, p.x.offset + m * k), m, k, groupSize);
    for (let j = 0; j < n; j++) {
      for (let l = 0; l < k; l++) w[l] = quantizedValue(Q, p.q.offset, bits, k, j, l);
      for (let i = 0; i < m; i++) {
        let acc = 0;
        for (let g = 0; g < groups; g++) {
          let dot = 0;
          for (let l = g * groupSize; l < (g + 1) * groupSize; l++) dot += xq[i * k + l] * w[l];
          acc += dot * sx[i * groups + g] * S[p.scales.offset + j * groups + g];
        }
        O[p.out.offset + i * n + j] = acc;
      }
    }
    return;
  }
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
