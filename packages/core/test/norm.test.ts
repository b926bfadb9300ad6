// LayerNorm forward / backward of the wasm backend (both builds) against the reference.
// Tolerances: 1e-5 relative; outputs that may cancel (gamma xhat + beta, dx) also get an
// absolute floor of 1e-5 times their scale. Row sums are float64 on both sides; the
// elementwise work is f32 in wasm and float64 in the reference.
import { describe, expect, it } from 'vitest';
import { BoundsError, DisposedError } from '../src/errors.js';
import { createWasmBackend } from '../src/wasm/backend.js';
import { ODD_SIZES, describeBuilds, expectClose, maxAbs, randF32, rng, type Twin, type TwinBuf } from './helpers.js';

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


describeBuilds('layerNorm', (twin) => {
  it('forward at odd widths and 768, saving mean and rstd', () => {
    const t = twin();
    const r = rng(91);
    for (const cols of [...ODD_SIZES, 768]) {
      for (const rows of [1, 3]) {
        const b = forward(t, randF32(r, rows * cols, -2, 3), randF32(r, cols, 0.5, 1.5), randF32(r, cols, -1, 1), rows, cols, 1e-5);
        const out = t.readAll(b.out, 'f32');
        expectClose(out.wasm, out.ref, 1e-5, 1e-5 * maxAbs(out.ref), `out ${rows}x${cols}`);
        const mean = t.readAll(b.mean, 'f32');
        expectClose(mean.wasm, mean.ref, 1e-6, 1e-7, `mean ${rows}x${cols}`);
        const rstd = t.readAll(b.rstd, 'f32');
        expectClose(rstd.wasm, rstd.ref, 1e-5, 0, `rstd ${rows}x${cols}`);
        t.free(...Object.values(b));
      }
    }
  });

  it('forward keeps precision when |mean| >> std, and handles constant rows (rstd = 1/sqrt(eps))', () => {
    const t = twin();
    const r = rng(92);
    const cols = 63;
    const x = Float32Array.from([...randF32(r, cols, 999, 1001), ...new Float32Array(cols).fill(3), ...randF32(r, cols, -1e-3, 1e-3)]);
    const b = forward(t, x, new Float32Array(cols).fill(1), new Float32Array(cols), 3, cols, 1e-5);
    for (const k of ['out', 'mean', 'rstd'] as const) {
      const res = t.readAll(b[k], 'f32');
      expectClose(res.wasm, res.ref, 1e-5, 1e-6, `${k} large-mean / constant / tiny rows`);
    }
    t.free(...Object.values(b));
  });

  it('backward writes dx and accumulates into dgamma / dbeta', () => {
    const t = twin();
    const r = rng(93);
    for (const cols of [...ODD_SIZES, 768]) {
      for (const rows of [1, 7]) {
        const b = forward(t, randF32(r, rows * cols, -2, 3), randF32(r, cols, 0.5, 1.5), randF32(r, cols, -1, 1), rows, cols, 1e-5);
        // Identical saved statistics on both sides (the reference's).
        const mean = t.upload(t.readAll(b.mean, 'f32').ref.subarray(1, 1 + rows));
        const rstd = t.upload(t.readAll(b.rstd, 'f32').ref.subarray(2, 2 + rows));
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
        const rdx = t.readAll(dx, 'f32');
        expectClose(rdx.wasm, rdx.ref, 1e-5, 1e-5 * maxAbs(rdx.ref), `dx ${rows}x${cols}`);
        const rdg = t.readAll(dgamma, 'f32');
        expectClose(rdg.wasm, rdg.ref, 1e-5, 1e-6, `dgamma ${rows}x${cols}`);
        const rdb = t.readAll(dbeta, 'f32');
        expectClose(rdb.wasm, rdb.ref, 1e-6, 1e-7, `dbeta ${rows}x${cols}`);
        t.free(...Object.values(b), mean, rstd, dy, dx, dgamma, dbeta);
      }
    }
  });

  it('zero rows write nothing', () => {
    const t = twin();
    const b = forward(t, new Float32Array(4), new Float32Array(4), new Float32Array(4), 0, 4, 1e-5);
    const out = t.readAll(b.out, 'f32');
    expect(Array.from(out.wasm)).toEqual(Array.from(out.ref));
    t.free(...Object.values(b));
  });
});

describe('layerNorm errors on the wasm backend', () => {
  it('BoundsError for short gamma / dgamma, DisposedError for freed storage; nothing written', async () => {
    const be = await createWasmBackend({ simd: 'simd128' });
    const x = be.alloc(12 * 4);
    const g = be.alloc(3 * 4);
    const out = be.alloc(12 * 4);
    be.write(out, new Float32Array(12).fill(5));
    const d = (s: typeof x, offset = 0) => ({ storage: s, offset });
    const fwd = { x: d(x), gamma: d(g), beta: d(g), out: d(out), mean: d(out, 8), rstd: d(out, 10), rows: 2, cols: 4, eps: 1e-5 };
    expect(() => be.layerNorm(fwd)).toThrow(BoundsError);
    expect(() => be.layerNormBackward({ dy: d(x), x: d(x), gamma: d(x), mean: d(x), rstd: d(x), dx: d(out), dgamma: d(g), dbeta: d(x), rows: 3, cols: 4 })).toThrow(BoundsError);
    expect(Array.from(be.readSync(out, 'f32'))).toEqual(new Array(12).fill(5));
    be.free(g);
    expect(() => be.layerNorm({ ...fwd, cols: 3, rows: 1 })).toThrow(DisposedError);
  });
});
