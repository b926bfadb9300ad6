// LayerNorm forward / backward conformance: the device under test against the reference.
// Tolerances: 1e-5 relative; outputs that may cancel (gamma xhat + beta, dx) also get an
// absolute floor of 1e-5 times their scale. Row (and column) sums are float64 in the
// reference; the backends use float64 (wasm) or compensated f32 (WebGPU).
import { expect, it } from 'vitest';
import { ODD_SIZES, expectClose, maxAbs, randF32, rng } from '../checks.js';
import type { Twin, TwinBuf } from './twin.js';

export interface NormOptions {
  /** A wide row size beyond ODD_SIZES that reaches the backend's own blocking (e.g. 768, or 1100 for 256-wide workgroups). */
  wide: number;
  /** What `wide` exercises, appended to the test names (e.g. ' (256-wide workgroups)'). */
  wideLabel?: string;
}

export interface LnBufs {
  x: TwinBuf;
  gamma: TwinBuf;
  beta: TwinBuf;
  out: TwinBuf;
  mean: TwinBuf;
  rstd: TwinBuf;
}

/** Runs layerNorm on both sides with offsets on every operand. */
export function layerNormForward(t: Twin, x: Float32Array, gamma: Float32Array, beta: Float32Array, rows: number, cols: number, eps: number): LnBufs {
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

/** The shared layerNorm tests; call inside the backend's describe. */
export function normConformance(twin: () => Twin, opts: NormOptions): void {
  const label = opts.wideLabel ?? '';

  it(`forward at odd widths and ${opts.wide}${label}, saving mean and rstd`, async () => {
    const t = twin();
    const r = rng(91);
    for (const cols of [...ODD_SIZES, opts.wide]) {
      for (const rows of [1, 3]) {
        const b = layerNormForward(t, randF32(r, rows * cols, -2, 3), randF32(r, cols, 0.5, 1.5), randF32(r, cols, -1, 1), rows, cols, 1e-5);
        const out = await t.readAll(b.out, 'f32');
        expectClose(out.dev, out.ref, 1e-5, 1e-5 * maxAbs(out.ref), `out ${rows}x${cols}`);
        const mean = await t.readAll(b.mean, 'f32');
        expectClose(mean.dev, mean.ref, 1e-6, 1e-7, `mean ${rows}x${cols}`);
        const rstd = await t.readAll(b.rstd, 'f32');
        expectClose(rstd.dev, rstd.ref, 1e-5, 0, `rstd ${rows}x${cols}`);
        t.free(...Object.values(b));
      }
    }
  });

  it('forward keeps precision when |mean| >> std, and handles constant rows (rstd = 1/sqrt(eps))', async () => {
    const t = twin();
    const r = rng(92);
    const cols = 63;
    const x = Float32Array.from([...randF32(r, cols, 999, 1001), ...new Float32Array(cols).fill(3), ...randF32(r, cols, -1e-3, 1e-3)]);
    const b = layerNormForward(t, x, new Float32Array(cols).fill(1), new Float32Array(cols), 3, cols, 1e-5);
    for (const k of ['out', 'mean', 'rstd'] as const) {
      const res = await t.readAll(b[k], 'f32');
      expectClose(res.dev, res.ref, 1e-5, 1e-6, `${k} large-mean / constant / tiny rows`);
    }
    t.free(...Object.values(b));
  });

  it('backward writes dx and accumulates into dgamma / dbeta', async () => {
    const t = twin();
    const r = rng(93);
    for (const cols of [...ODD_SIZES, opts.wide]) {
      for (const rows of [1, 7]) {
        const b = layerNormForward(t, randF32(r, rows * cols, -2, 3), randF32(r, cols, 0.5, 1.5), randF32(r, cols, -1, 1), rows, cols, 1e-5);
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
        expectClose(rdx.dev, rdx.ref, 1e-5, 1e-5 * maxAbs(rdx.ref), `dx ${rows}x${cols}`);
        const rdg = await t.readAll(dgamma, 'f32');
        expectClose(rdg.dev, rdg.ref, 1e-5, 1e-6, `dgamma ${rows}x${cols}`);
        const rdb = await t.readAll(dbeta, 'f32');
        expectClose(rdb.dev, rdb.ref, 1e-6, 1e-7, `dbeta ${rows}x${cols}`);
        t.free(...Object.values(b), mean, rstd, dy, dx, dgamma, dbeta);
      }
    }
  });

  it('zero rows write nothing; short operands throw BoundsError before any work', async () => {
    const t = twin();
    const b = layerNormForward(t, new Float32Array(4), new Float32Array(4), new Float32Array(4), 0, 4, 1e-5);
    const out = await t.readAll(b.out, 'f32');
    expect(Array.from(out.dev)).toEqual(Array.from(out.ref));
    const d = (buf: TwinBuf, offset = buf.offset) => t.d(buf, 'dev', offset);
    expect(() => t.dev.layerNorm({ x: d(b.x), gamma: d(b.gamma), beta: d(b.beta), out: d(b.out), mean: d(b.mean), rstd: d(b.rstd), rows: 2, cols: 4, eps: 1e-5 })).toThrow(t.errors.BoundsError);
    t.free(...Object.values(b));
  });
}
