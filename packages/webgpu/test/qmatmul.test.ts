// qmatmul on WebGPU against the float64 reference and an f32 matmul of the dequantized
// weights: the shared conformance suite (core/test/conformance/qmatmul.ts, which states the
// tolerance: int8 and int4 at every group size, odd shapes, element offsets, typed errors),
// and the tensor-level ops on WebGPU, whose reads are asynchronous only.
import { int8ActivationRows } from '@tessera/core';
import { expect, it } from 'vitest';
import { checkQMatmul, qmatmulConformance } from '../../core/test/conformance/qmatmul.js';
import { TILED_MIN_ROWS } from '../src/kernels/qmatmul.js';
import { dequantizeWeight, matmul, quantizeWeight, quantizedMatmul, randn, setBackend } from '../../tensor/src/index.js';
import { describeGPU } from './helpers.js';

describeGPU('qmatmul', (twin) => {
  qmatmulConformance(twin);

  it('the tiled prompt shader at its edges: m from its threshold to past one 64-row tile, n past one 64-column tile, one and several groups', async () => {
    let seed = 100;
    for (const [m, n, k] of [
      [TILED_MIN_ROWS, 65, 32],
      [TILED_MIN_ROWS - 1, 9, 64],
      [65, 130, 160],
      [130, 67, 256],
    ]) {
      for (const bits of [8, 4] as const) {
        for (const groupSize of [32, 64, 128] as const) if (k % groupSize === 0) await checkQMatmul(twin(), { m, n, k, bits, groupSize }, seed++);
      }
    }
  });

  it("activations 'int8' is an UnsupportedError naming the mode (WGSL's division is not correctly rounded, so the integers could differ from the reference's)", () => {
    const t = twin();
    const X = t.upload(new Float32Array(32));
    const Q = t.upload(new Int32Array(8));
    const S = t.upload(new Float32Array(1));
    const O = t.upload(new Float32Array(1));
    expect(() => t.dev.qmatmul!({ x: t.d(X, 'dev'), q: t.d(Q, 'dev'), scales: t.d(S, 'dev'), out: t.d(O, 'dev'), m: 1, n: 1, k: 32, bits: 8, groupSize: 32, activations: 'int8' })).toThrow(
      /activations 'int8' is not implemented on WebGPU/,
    );
    t.free(X, Q, S, O);
  });

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

  it("a weight that allows int8 activations runs on WebGPU with f32 activations (int8ActivationRows 0), the f32 product bit for bit, at decode and prompt rows", async () => {
    const dev = twin().dev;
    expect(int8ActivationRows(dev)).toBe(0);
    await setBackend(dev);
    try {
      const w = randn([7, 96], { seed: 3 });
      const [qf, q8] = await Promise.all([quantizeWeight(w, { bits: 8, transposed: true }), quantizeWeight(w, { bits: 8, transposed: true, activations: 'int8' })]);
      for (const m of [1, 17]) {
        const x = randn([m, 96], { seed: 4 + m });
        const [a, b] = await Promise.all([quantizedMatmul(x, q8).data(), quantizedMatmul(x, qf).data()]);
        expect(Array.from(a)).toEqual(Array.from(b));
      }
      [qf, q8].forEach((q) => q.dispose());
    } finally {
      await setBackend('reference');
    }
  });
});
