// Reductions and softmax of the wasm backend (both builds) against the reference backend:
// the shared conformance suites (conformance/reduce.ts, which gives the tolerances; wasm adds
// f32 block partials in float64) and wasm-only error checks.
import { describe, expect, it } from 'vitest';
import { BoundsError, DisposedError } from '../src/errors.js';
import { createWasmBackend } from '../src/wasm/backend.js';
import { reduceConformance, softmaxConformance, type ReduceOptions } from './conformance/reduce.js';
import { describeBuilds } from './helpers.js';

const OPTS: ReduceOptions = {
  // A long contiguous axis (several SIMD blocks) and a short odd inner size.
  shapes: [[1, 1000, 1], [2, 129, 2]],
  softmaxWide: 1000,
};

describeBuilds('reduce', (twin) => {
  reduceConformance(twin, OPTS);
});

describeBuilds('softmax', (twin) => {
  softmaxConformance(twin, OPTS);
});

describe('reduce / softmax errors on the wasm backend', () => {
  it('BoundsError for operands past their storage, DisposedError for freed storage; nothing written', async () => {
    const be = await createWasmBackend({ simd: 'simd128' });
    const x = be.alloc(12 * 4);
    const out = be.alloc(12 * 4);
    be.write(out, new Float32Array(12).fill(5));
    const d = (s: typeof x, offset = 0) => ({ storage: s, offset });
    expect(() => be.reduce({ op: 'sum', x: d(x), out: d(out), outer: 2, axisLen: 7, inner: 1 })).toThrow(BoundsError);
    expect(() => be.reduce({ op: 'argmax', x: d(x), out: d(out, 11), outer: 2, axisLen: 3, inner: 2 })).toThrow(BoundsError);
    expect(() => be.softmax({ x: d(x, 1), out: d(out), rows: 3, cols: 4 })).toThrow(BoundsError);
    expect(() => be.softmaxBackward({ y: d(x), dy: d(x), dx: d(out, 4), rows: 3, cols: 4 })).toThrow(BoundsError);
    expect(Array.from(be.readSync(out, 'f32'))).toEqual(new Array(12).fill(5));
    be.free(x);
    expect(() => be.reduce({ op: 'max', x: d(x), out: d(out), outer: 1, axisLen: 4, inner: 1 })).toThrow(DisposedError);
    expect(() => be.softmax({ x: d(x), out: d(out), rows: 1, cols: 4 })).toThrow(DisposedError);
  });
});
