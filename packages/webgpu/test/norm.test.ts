// LayerNorm forward / backward of the WebGPU backend against the reference: the shared
// conformance suite (core/test/conformance/norm.ts; row and column sums are compensated f32
// here) at 1100 columns for the 256-wide workgroups, and WebGPU-only aliasing cases.
import { it } from 'vitest';
import { layerNormForward, normConformance } from '../../core/test/conformance/norm.js';
import { describeGPU, expectClose, maxAbs, randF32, rng } from './helpers.js';

describeGPU('layerNorm', (twin) => {
  normConformance(twin, { wide: 1100, wideLabel: ' (256-wide workgroups)' });

  it('backward in place (dx = dy) and with dgamma, dbeta in one flat gradient storage', async () => {
    const t = twin();
    const r = rng(94);
    const [rows, cols] = [5, 17];
    const b = layerNormForward(t, randF32(r, rows * cols, -2, 3), randF32(r, cols, 0.5, 1.5), randF32(r, cols, -1, 1), rows, cols, 1e-5);
    const mean = t.upload((await t.readAll(b.mean, 'f32')).ref.subarray(1, 1 + rows));
    const rstd = t.upload((await t.readAll(b.rstd, 'f32')).ref.subarray(2, 2 + rows));
    const dy = t.upload(randF32(r, rows * cols, -1, 1), 4);
    const grads = t.upload(randF32(r, 2 * cols, -1, 1), 1);
    t.run((be, s) =>
      be.layerNormBackward({
        dy: t.d(dy, s), x: t.d(b.x, s), gamma: t.d(b.gamma, s), mean: t.d(mean, s), rstd: t.d(rstd, s),
        dx: t.d(dy, s), dgamma: t.d(grads, s, 1), dbeta: t.d(grads, s, 1 + cols), rows, cols,
      }),
    );
    const rdx = await t.readAll(dy, 'f32');
    expectClose(rdx.dev, rdx.ref, 1e-5, 1e-5 * maxAbs(rdx.ref), 'dx written over dy');
    const rg = await t.readAll(grads, 'f32');
    expectClose(rg.dev, rg.ref, 1e-5, 1e-6, 'dgamma and dbeta in one storage');
    t.free(...Object.values(b), mean, rstd, dy, grads);
  });
});
