// qembedding on WebGPU: the shared conformance suite (core/test/conformance/qembedding.ts:
// bit-exact rows against the reference, int8 and int4 at every group size, offsets, bad
// indices rejected at the next read with nothing written, typed errors), and the
// tensor-level lookup of a quantized table on WebGPU tensors (asynchronous reads only).
import { expect, it } from 'vitest';
import { qembeddingConformance } from '../../core/test/conformance/qembedding.js';
import { dequantizeWeight, quantizeWeight, quantizedEmbedding, randn, setBackend, tensor } from '../../tensor/src/index.js';
import { describeGPU } from './helpers.js';

describeGPU('qembedding', (twin) => {
  qembeddingConformance(twin);

  it('quantizedEmbedding on WebGPU tensors gathers the dequantized rows bit for bit (int4)', async () => {
    await setBackend(twin().dev);
    try {
      const w = randn([9, 64], { seed: 4 });
      const qw = await quantizeWeight(w, { bits: 4, groupSize: 32, transposed: true });
      const table = await (await dequantizeWeight(qw, { transposed: true })).data();
      const ids = [8, 0, 3, 3];
      const got = await quantizedEmbedding(qw, tensor(ids, [2, 2], 'i32')).data();
      ids.forEach((row, c) => expect(Array.from(got.subarray(c * 64, (c + 1) * 64))).toEqual(Array.from(table.subarray(row * 64, (row + 1) * 64))));
      qw.dispose();
    } finally {
      await setBackend('reference');
    }
  });
});
