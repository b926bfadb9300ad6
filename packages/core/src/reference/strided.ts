/**
 * Odometer over a shape that yields, for each element in row-major order, the
 * element offsets of several strided operands. Plain and slow on purpose: this
 * is the oracle.
 */
export function stridedOffsets(shape: readonly number[], operands: readonly { offset: number; strides: readonly number[] }[]): Int32Array[] {
  let n = 1;
  for (const d of shape) n *= d;
  const out = operands.map(() => new Int32Array(n));
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  const cur = operands.map((o) => o.offset);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < operands.length; j++) out[j][i] = cur[j];
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]++;
      for (let j = 0; j < operands.length; j++) cur[j] += operands[j].strides[d];
      if (idx[d] < shape[d]) break;
      for (let j = 0; j < operands.length; j++) cur[j] -= operands[j].strides[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}
