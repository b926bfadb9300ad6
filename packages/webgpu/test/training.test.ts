// Training through @tessera/tensor's autograd on WebGPU matches the same run on wasm: a
// one-block transformer LM (embedding, layerNorm, causal attention, GELU MLP, tied head,
// cross-entropy; see fixtures/tiny-transformer.ts), 20 SGD steps from identical parameters.
//
// Tolerance: each step's loss within 1e-5 relative of the wasm run's. Both backends compute
// in f32 but sum in different orders (tiles of 16 vs 4-lane SIMD blocks, tree vs sequential
// row sums); those ~1e-7 relative differences enter the parameters at every step and grow
// mildly through 20 updates (measured: 4.6e-7 worst on lavapipe), while a wrong gradient
// anywhere changes the loss curve by far more than 1e-5.
import { createWasmBackend } from '@tessera/core';
import { setBackend } from '@tessera/tensor';
import { expect, it } from 'vitest';
import { train } from './fixtures/tiny-transformer.js';
import { describeGPU } from './helpers.js';

describeGPU('training', (twin) => {
  it('20 SGD steps of a tiny transformer give the wasm run\'s losses (1e-5 relative) and leak no storage', async () => {
    await setBackend(await createWasmBackend({ simd: 'simd128' }));
    const want = await train(20, 0.2);
    const be = twin().dev;
    await setBackend(be);
    const liveBefore = be.memoryInfo().liveStorages;
    const got = await train(20, 0.2);
    let worst = 0;
    got.forEach((l, i) => {
      worst = Math.max(worst, Math.abs(l - want[i]) / Math.abs(want[i]));
    });
    console.log(`losses wasm   ${want.map((l) => l.toFixed(5)).join(' ')}`);
    console.log(`losses webgpu ${got.map((l) => l.toFixed(5)).join(' ')}`);
    console.log(`worst relative difference ${worst.toExponential(2)}`);
    expect(worst).toBeLessThan(1e-5);
    // It learns: the loss falls substantially over the 20 steps.
    expect(got[19]).toBeLessThan(0.7 * got[0]);
    expect(be.memoryInfo().liveStorages).toBe(liveBefore);
  });
});
