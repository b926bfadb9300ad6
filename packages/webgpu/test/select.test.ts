// Index kernels of the WebGPU backend against the reference: the shared conformance suite
// (core/test/conformance/select.ts; the GPU sorts positions so that indexAdd / scatterAdd add
// each destination's contributions in the reference's order, and keeps the confident-row
// loss to 1e-5) and the WebGPU contract for out-of-range indices: the kernel writes nothing
// and the IndexError surfaces at the next read() / sync() (see README).
import { BoundsError, DisposedError, IndexError } from '@tessera/core';
import { expect, it } from 'vitest';
import { selectConformance } from '../../core/test/conformance/select.js';
import { describeGPU, expectSameValues, randF32, randI32, rng, type TwinBuf } from './helpers.js';

describeGPU('select', (twin) => {
  selectConformance(twin, { crossEntropyWide: 1500, confidentRtol: 1e-5 });

  it('indexAdd with many indices (an embedding gradient: 300 tokens over a 50-row table)', async () => {
    const t = twin();
    const r = rng(105);
    const [axisLen, count, inner] = [50, 300, 17];
    const idx = t.upload(randI32(r, count, 0, axisLen));
    const dOut = t.upload(randF32(r, count * inner));
    const dx = t.upload(new Float32Array(axisLen * inner), 2);
    const before = t.dev.ctx.dispatches;
    t.run((be, s) => be.indexAdd({ dOut: t.d(dOut, s), indices: t.d(idx, s), dx: t.d(dx, s), outer: 1, axisLen, inner, count }));
    // The bitonic sort of 300 -> 512 keys is 9 * 10 / 2 = 45 compare-exchange passes; with the
    // index check, the sort's init and the accumulation that is 48 dispatches, not thousands.
    expect(t.dev.ctx.dispatches - before).toBe(48);
    const res = await t.readAll(dx, 'f32');
    expectSameValues(res.dev, res.ref, 'indexAdd 300 tokens');
    t.free(idx, dOut, dx);
  });

  it('out-of-range indices: nothing is written and read() rejects with an IndexError naming kernel, index and position', async () => {
    const t = twin();
    const be = t.dev;
    const r = rng(104);
    const x = t.upload(randF32(r, 2 * 5 * 3));
    const out = t.upload(randF32(r, 2 * 4 * 3));
    const before = await be.read(out.dev, 'f32');
    const beforeX = await be.read(x.dev, 'f32');
    const d = (b: TwinBuf) => t.d(b, 'dev');
    const calls: [string, RegExp, (idx: TwinBuf) => void][] = [
      ['indexSelect', /^indexSelect: index -?\d+ at position \d+ is out of range \[0, 5\)/, (idx) => be.indexSelect({ x: d(x), indices: d(idx), out: d(out), outer: 2, axisLen: 5, inner: 3, count: 4 })],
      ['indexAdd', /^indexAdd: index/, (idx) => be.indexAdd({ dOut: d(out), indices: d(idx), dx: d(x), outer: 2, axisLen: 5, inner: 3, count: 4 })],
      ['gather', /^gather: index/, (idx) => be.gather({ x: d(x), indices: d(idx), out: d(out), outer: 1, axisLen: 2, inner: 1, count: 4 })],
      ['scatterAdd', /^scatterAdd: index/, (idx) => be.scatterAdd({ dOut: d(out), indices: d(idx), dx: d(x), outer: 1, axisLen: 2, inner: 1, count: 4 })],
      ['crossEntropy', /^crossEntropy target: index/, (idx) => be.crossEntropy({ logits: d(x), targets: d(idx), losses: d(out), rows: 4, cols: 3, ignoreIndex: -100 })],
      ['crossEntropyBackward', /^crossEntropyBackward target: index/, (idx) => be.crossEntropyBackward({ logits: d(x), targets: d(idx), dLosses: d(x), dLogits: d(out), rows: 4, cols: 3, ignoreIndex: -100 })],
    ];
    for (const bad of [[0, 5, 1, 2], [0, 1, -1, 2], [4, 4, 4, 2147483647]]) {
      const idx = t.upload(Int32Array.from(bad));
      for (const [name, message, call] of calls) {
        call(idx); // enqueues; the error cannot be known yet
        const err = await be.read(out.dev, 'f32').then(
          () => null,
          (e: unknown) => e,
        );
        expect(err, `${name} with indices [${bad}]`).toBeInstanceOf(IndexError);
        expect((err as Error).message).toMatch(message);
        expectSameValues(await be.read(out.dev, 'f32'), before, `out after a rejected ${name}`);
        expectSameValues(await be.read(x.dev, 'f32'), beforeX, `x / dx after a rejected ${name}`);
      }
      t.free(idx);
    }
    // The first bad index is named: value and position (as the reference's message).
    const idx = t.upload(Int32Array.from([1, 7, -3, 9]));
    be.indexSelect({ x: d(x), indices: d(idx), out: d(out), outer: 2, axisLen: 5, inner: 3, count: 4 });
    await expect(be.sync()).rejects.toThrow(/indexSelect: index 7 at position 1 is out of range \[0, 5\)/);
    // Reported once: the next sync resolves.
    await be.sync();
    t.free(idx);
    // Indices past their storage are a BoundsError (validation, synchronous), freed storage a DisposedError.
    const short = t.upload(Int32Array.from([0, 1]), 0, 0);
    expect(() => be.indexSelect({ x: d(x), indices: d(short), out: d(out), outer: 2, axisLen: 5, inner: 3, count: 4 })).toThrow(BoundsError);
    t.free(short);
    expect(() => be.gather({ x: d(x), indices: d(short), out: d(out), outer: 1, axisLen: 2, inner: 1, count: 2 })).toThrow(DisposedError);
    expectSameValues(await be.read(out.dev, 'f32'), before, 'out after rejected calls');
    t.free(x, out);
  });

  it('good kernels after a bad one still run, and an error from several queued kernels names the first', async () => {
    const t = twin();
    const be = t.dev;
    const x = t.upload(Float32Array.from([10, 20, 30]));
    const good = t.upload(Int32Array.from([2, 0]));
    const bad1 = t.upload(Int32Array.from([0, 3]));
    const bad2 = t.upload(Int32Array.from([-2, 0]));
    const out1 = t.empty(2);
    const out2 = t.empty(2);
    const d = (b: TwinBuf) => t.d(b, 'dev');
    be.indexSelect({ x: d(x), indices: d(bad1), out: d(out1), outer: 1, axisLen: 3, inner: 1, count: 2 });
    be.indexSelect({ x: d(x), indices: d(good), out: d(out2), outer: 1, axisLen: 3, inner: 1, count: 2 });
    be.gather({ x: d(x), indices: d(bad2), out: d(out1), outer: 1, axisLen: 3, inner: 1, count: 2 });
    await expect(be.read(out2.dev, 'f32')).rejects.toThrow(/^indexSelect: index 3 at position 1/);
    expect(Array.from(await be.read(out2.dev, 'f32', 0, 2))).toEqual([30, 10]);
    t.free(x, good, bad1, bad2, out1, out2);
  });
});
