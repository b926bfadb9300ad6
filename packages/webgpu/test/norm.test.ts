// LayerNorm forward / backward of the WebGPU backend against the reference.
// Tolerances (as the wasm tests): 1e-5 relative; outputs that may cancel (gamma xhat + beta,
// dx) also get an absolute floor of 1e-5 times their scale. Row and column sums are
// compensated f32 here and float64 in the reference.
import { BoundsError } from '@tessera/core';
import { expect, it } from 'vitest';
import { ODD_SIZES, describeGPU, expectClose, maxAbs, randF32, rng, type Twin, type TwinBuf } from './helpers.js';

interface LnBufs {
  x: TwinBuf;
  gamma: TwinBuf;
  beta: TwinBuf;
  out: TwinBuf;
  mean: TwinBuf;
  rstd: TwinBuf;
}

function forward(t: Twin, x: Float32Array, gamma: Float32Array, beta: Float32Array, rows: number, cols: number, eps: number): LnBufs {
  const b: LnBufs = {
    x: t.upload(x, 3),
    gamma: t.upload(gamma, 1),
    beta: t.upload(beta, 2),
    out: t.empty(rows * cols, 5),
    mean: t.empty(rows, 1),
    rstd: t.empty(rows, 2),
  };
  t.run((be, s) =>
    be.layerNorm({ x: t.d(b.x, s), gamma: t.d(b.gamma, s), beta: t.d(b.beta, s), out: t.d(b.out, s), mean: t.d(b.mean, s), rstd: t.d(b.rstd, s), rows, cols, eps }),
  );
  return b;
}

describeGPU('layerNorm', (twin) => {
  it('forward at odd widths and 1100 (256-wide workgroups), saving mean and rstd', async () => {
    const t = twin();
    const r = rng(91);
    for (const cols of [...ODD_SIZES, 1100]) {
      for (const rows of [1, 3]) {
        const b = forward(t, randF32(r, rows * cols, -2, 3), randF32(r, cols, 0.5, 1.5), randF32(r, cols, -1, 1), rows, cols, 1e-5);
        const out = await t.readAll(b.out, 'f32');
        expectClose(out.gpu, out.ref, 1e-5, 1e-5 * maxAbs(out.ref), `out ${rows}x${cols}`);
        const mean = await t.readAll(b.mean, 'f32');
        expectClose(mean.gpu, mean.ref, 1e-6, 1e-7, `mean ${rows}x${cols}`);
        const rstd = await t.readAll(b.rstd, 'f32');
        expectClose(rstd.gpu, rstd.ref, 1e-5, 0, `rstd ${rows}x${cols}`);
        t.free(...Object.values(b));
      }
    }
  });

  it('forward keeps precision when |mean| >> std, and handles constant rows (rstd = 1/sqrt(eps))', async () => {
    const t = twin();
    const r = rng(92);
    const cols = 63;
    const x = Float32Array.from([...randF32(r, cols, 999, 1001), ...new Float32Array(cols).fill(3), ...randF32(r, cols, -1e-3, 1e-3)]);
    const b = forward(t, x, new Float32Array(cols).fill(1), new Float32Array(cols), 3, cols, 1e-5);
    for (const k of ['out', 'mean', 'rstd'] as const) {
      const res = await t.readAll(b[k], 'f32');
      expectClose(res.gpu, res.ref, 1e-5, 1e-6, `${k} large-mean / constant / tiny rows`);
    }
    t.free(...Object.values(b));
  });

  it('backward writes dx and accumulates into dgamma / dbeta', async () => {
    const t = twin();
    const r = rng(93);
    for (const cols of [...ODD_SIZES, 1100]) {
      for (const rows of [1, 7]) {
        const b = forward(t, randF32(r, rows * cols, -2, 3), randF32(r, cols, 0.5, 1.5), randF32(r, cols, -1, 1), rows, cols, 1e-5);
        // Identical saved statistics on both sides (the reference's).
        const mean = t.upload((await t.readAll(b.mean, 'f32')).ref.subarray(1, 1 + rows));
        const rstd = t.upload((await t.readAll(b.rstd, 'f32')).ref.subarray(2, 2 + rows));
        const dy = t.upload(randF32(r, rows * cols, -1, 1), 4);
        const dx = t.empty(rows * cols, 2);
        const dgamma = t.upload(randF32(r, cols, -1, 1), 1);
        const dbeta = t.upload(randF32(r, cols, -1, 1), 3);
        t.run((be, s) =>
          be.layerNormBackward({
            dy: t.d(dy, s), x: t.d(b.x, s), gamma: t.d(b.gamma, s), mean: t.d(mean, s), rstd: t.d(rstd, s),
            dx: t.d(dx, s), dgamma: t.d(dgamma, s), dbeta: t.d(dbeta, s), rows, cols,
          }),
        );
        const rdx = await t.readAll(dx, 'f32');
        expectClose(rdx.gpu, rdx.ref, 1e-5, 1e-5 * maxAbs(rdx.ref), `dx ${rows}x${cols}`);
        const rdg = await t.readAll(dgamma, 'f32');
        expectClose(rdg.gpu, rdg.ref, 1e-5, 1e-6, `dgamma ${rows}x${cols}`);
        const rdb = await t.readAll(dbeta, 'f32');
        expectClose(rdb.gpu, rdb.ref, 1e-6, 1e-7, `dbeta ${rows}x${cols}`);
        t.free(...Object.values(b), mean, rstd, dy, dx, dgamma, dbeta);
      }
    }
  });

  it('backward in place (dx = dy) and with dgamma, dbeta in one flat gradient storage', async () => {
    const t = twin();
    const r = rng(94);
    const [rows, cols] = [5, 17];
    const b = forward(t, randF32(r, rows * cols, -2, 3), randF32(r, cols, 0.5, 1.5), randF32(r, cols, -1, 1), rows, cols, 1e-5);
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
    expectClose(rdx.gpu, rdx.ref, 1e-5, 1e-5 * maxAbs(rdx.ref), 'dx written over dy');
    const rg = await t.readAll(grads, 'f32');
    expectClose(rg.gpu, rg.ref, 1e-5, 1e-6, 'dgamma and dbeta in one storage');
    t.free(...Object.values(b), mean, rstd, dy, grads);
  });

  it('zero rows write nothing; short operands throw BoundsError before any work', async () => {
    const t = twin();
    const b = forward(t, new Float32Array(4), new Float32Array(4), new Float32Array(4), 0, 4, 1e-5);
    const out = await t.readAll(b.out, 'f32');
    expect(Array.from(out.gpu)).toEqual(Array.from(out.ref));
    const be = t.gpu;
    const d = (buf: TwinBuf, offset = buf.offset) => t.d(buf, 'gpu', offset);
    expect(() => be.layerNorm({ x: d(b.x), gamma: d(b.gamma), beta: d(b.beta), out: d(b.out), mean: d(b.mean), rstd: d(b.rstd), rows: 2, cols: 4, eps: 1e-5 })).toThrow(BoundsError);
    t.free(...Object.values(b));
  });
});
