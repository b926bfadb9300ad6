// Select kernels of the wasm backend (both builds) against the reference: the shared
// conformance suite (conformance/select.ts; logsumexp in float64 on both sides here) and the
// wasm contract for out-of-range indices: IndexError thrown before anything is written.
import { expect, it } from 'vitest';
import { BoundsError, DisposedError, IndexError } from '../src/errors.js';
import { selectConformance } from './conformance/select.js';
import { describeBuilds, expectSameValues, randF32, rng, type TwinBuf } from './helpers.js';

describeBuilds('select', (twin) => {
  selectConformance(twin, { crossEntropyWide: 1000, confidentRtol: 1e-6 });

  it('out-of-range indices throw IndexError naming the index, and nothing is written', () => {
    const t = twin();
    const be = t.dev;
    const r = rng(104);
    const x = t.upload(randF32(r, 2 * 5 * 3));
    const out = t.upload(randF32(r, 2 * 4 * 3));
    const before = be.readSync(out.dev, 'f32');
    const beforeX = be.readSync(x.dev, 'f32');
    for (const bad of [[0, 5, 1, 2], [0, 1, -1, 2], [4, 4, 4, 2147483647]]) {
      const idx = t.upload(Int32Array.from(bad));
      const d = (b: TwinBuf) => t.d(b, 'dev');
      expect(() => be.indexSelect({ x: d(x), indices: d(idx), out: d(out), outer: 2, axisLen: 5, inner: 3, count: 4 })).toThrow(IndexError);
      expect(() => be.indexSelect({ x: d(x), indices: d(idx), out: d(out), outer: 2, axisLen: 5, inner: 3, count: 4 })).toThrow(/index -?\d+ at position \d+ is out of range \[0, 5\)/);
      expect(() => be.indexAdd({ dOut: d(out), indices: d(idx), dx: d(x), outer: 2, axisLen: 5, inner: 3, count: 4 })).toThrow(IndexError);
      expect(() => be.gather({ x: d(x), indices: d(idx), out: d(out), outer: 1, axisLen: 2, inner: 1, count: 4 })).toThrow(IndexError);
      expect(() => be.scatterAdd({ dOut: d(out), indices: d(idx), dx: d(x), outer: 1, axisLen: 2, inner: 1, count: 4 })).toThrow(IndexError);
      expect(() => be.crossEntropy({ logits: d(x), targets: d(idx), losses: d(out), rows: 4, cols: 3, ignoreIndex: -100 })).toThrow(IndexError);
      expect(() => be.crossEntropyBackward({ logits: d(x), targets: d(idx), dLosses: d(x), dLogits: d(out), rows: 4, cols: 3, ignoreIndex: -100 })).toThrow(IndexError);
      expectSameValues(be.readSync(out.dev, 'f32'), before, 'out after a rejected call');
      expectSameValues(be.readSync(x.dev, 'f32'), beforeX, 'dx after a rejected call');
      t.free(idx);
    }
    // Indices past their storage are a BoundsError (validation), freed storage a DisposedError.
    const short = t.upload(Int32Array.from([0, 1]), 0, 0);
    expect(() => be.indexSelect({ x: t.d(x, 'dev'), indices: t.d(short, 'dev'), out: t.d(out, 'dev'), outer: 2, axisLen: 5, inner: 3, count: 4 })).toThrow(BoundsError);
    t.free(short);
    expect(() => be.gather({ x: t.d(x, 'dev'), indices: t.d(short, 'dev'), out: t.d(out, 'dev'), outer: 1, axisLen: 2, inner: 1, count: 2 })).toThrow(DisposedError);
    expectSameValues(be.readSync(out.dev, 'f32'), before, 'out after rejected calls');
  });
});
