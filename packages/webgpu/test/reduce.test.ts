// Reductions and (log-)softmax of the WebGPU backend against the reference backend: the
// shared conformance suites (core/test/conformance/reduce.ts, which gives the tolerances;
// Kahan-compensated f32 partials combined by a tree here) at the sizes that switch between
// the 64- and 256-wide kernels, plus WebGPU-only error and aliasing checks.
import { BoundsError, DisposedError } from '@tessera/core';
import { expect, it } from 'vitest';
import { reduceConformance, softmaxConformance, type ReduceOptions } from '../../core/test/conformance/reduce.js';
import { describeGPU, expectClose, randF32, rng } from './helpers.js';

const OPTS: ReduceOptions = {
  // Contiguous axes below and above 64 (the two kernels).
  shapes: [[1, 1500, 1], [4, 100, 1]],
  softmaxWide: 1500,
  softmaxLabel: ' (64- and 256-wide workgroups)',
};

describeGPU('reduce', (twin) => {
  reduceConformance(twin, OPTS);

  it('BoundsError / DisposedError before anything is enqueued', async () => {
    const be = twin().dev;
    const x = be.alloc(12 * 4);
    const out = be.alloc(12 * 4);
    be.write(out, new Float32Array(12).fill(5));
    const d = (s: typeof x, offset = 0) => ({ storage: s, offset });
    expect(() => be.reduce({ op: 'sum', x: d(x), out: d(out), outer: 2, axisLen: 7, inner: 1 })).toThrow(BoundsError);
    expect(() => be.softmax({ x: d(x, 1), out: d(out), rows: 3, cols: 4 })).toThrow(BoundsError);
    expect(Array.from(await be.read(out, 'f32'))).toEqual(new Array(12).fill(5));
    be.free(x);
    expect(() => be.reduce({ op: 'max', x: d(x), out: d(out), outer: 1, axisLen: 4, inner: 1 })).toThrow(DisposedError);
    be.free(out);
  });
});

describeGPU('softmax', (twin) => {
  softmaxConformance(twin, OPTS);

  it('softmax in place (out = x)', async () => {
    const t = twin();
    const x = t.upload(randF32(rng(83), 3 * 63, -5, 5), 1);
    t.run((be, s) => be.softmax({ x: t.d(x, s), out: t.d(x, s), rows: 3, cols: 63 }));
    const res = await t.readAll(x, 'f32');
    expectClose(res.dev, res.ref, 1e-5, 1e-30, 'softmax in place');
    t.free(x);
  });
});
