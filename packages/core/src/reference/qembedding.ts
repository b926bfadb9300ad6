import type { QEmbeddingParams } from '../backend.js';
import { quantizedValue } from '../quant.js';
import { checkIndexRange } from './select.js';
import type { Views } from './views.js';

/**
 * out[c, l] = q[indices[c], l] * scale (rounded to f32 as it is stored): the rows of the
 * dequantized table, unpacked arithmetically from the i32 words (src/quant.ts's layout).
 * Indices are checked before anything is written (IndexError).
 */
export function qembedding(v: Views, p: QEmbeddingParams): void {
  const I = v.i32(p.indices.storage);
  checkIndexRange(I, p.indices.offset, p.count, p.n, 'qembedding');
  const Q = v.i32(p.q.storage);
  const S = v.f32(p.scales.storage);
  const O = v.f32(p.out.storage);
  const { k, bits, groupSize } = p;
  const groups = k / groupSize;
  for (let c = 0; c < p.count; c++) {
    const j = I[p.indices.offset + c];
    for (let l = 0; l < k; l++) {
      O[p.out.offset + c * k + l] = Math.fround(quantizedValue(Q, p.q.offset, bits, k, j, l) * S[p.scales.offset + j * groups + Math.floor(l / groupSize)]);
    }
  }
}
