// qmatmul on WebGPU against the float64 reference and an f32 matmul of the dequantized
// weights: the shared conformance suite (core/test/conformance/qmatmul.ts, which states the
// tolerance: int8 and int4 at every group size, odd shapes, element offsets, typed errors),
// and the tensor-level ops on WebGPU, whose reads are asynchronous only.
import { expect, it } from 'vitest';
import { qmatmulConformance } from '../../core/test/conformance/qmatmul.js';
import { dequantizeWeight, matmul, quantizeWeight, quantizedMatmul, randn, setBackend } from '../../tensor/src/index.js';
import { describeGPU } from './helpers.js';

describeGPU('qmatmul', (twin) => {
  qmatmulConformance(twin);

  it('quantizeWeight / quantizedMatmul / dequantizeWeight on WebGPU tensors (async reads): int4 product within 1e-5 of the terms of matmul with the dequantized weight', async () => {
    await setBackend(twin().dev);
    try {
      const x = randn([3, 96], { seed: 1 });
      const w = randn([96, 7], { seed: 2 });
      const qw = await quantizeWeight(w, { bits: 4, groupSize: 32, transposed: false });
      const wd = await dequantizeWeight(qw, { transposed: false });
      const [got, want, mag] = await Promise.all([quantizedMatmul(x, qw).data(), matmul(x, wd).data(), matmul(x.abs(), wd.abs()).data()]);
      for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-5 * mag[i] + 1e-7);
      qw.dispose();
    } finally {
      await setBackend('reference');
    }
  });
});
