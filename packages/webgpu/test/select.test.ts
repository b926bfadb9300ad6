// Index kernels of the WebGPU backend against the reference: indexSelect, gather (exact
// copies), indexAdd, scatterAdd (exact too: the GPU sorts positions and adds each
// destination's contributions in the reference's order) and cross-entropy forward /
// backward (1e-5 relative). Out-of-range indices: the kernel writes nothing and the
// IndexError surfaces at the next read() / sync() (the WebGPU contract, see README).
import { BoundsError, DisposedError, IndexError } from '@tessera/core';
import { expect, it } from 'vitest';
import { ODD_SIZES, describeGPU, expectClose, expectSameValues, randF32, randI32, rng, type Twin, type TwinBuf } from './helpers.js';

async function exact(t: Twin, out: TwinBuf, what: string) {
  const res = await t.readAll(out, 'f32');
  expectSameValues(res.gpu, res.ref, what);
}

describeGPU('select', (twin) => {
  it('indexSelect and indexAdd (repeated indices accumulate in order) at odd inner sizes', async () => {
    const t = twin();
    const r = rng(101);
    for (const inner of [...ODD_SIZES, 768]) {
      for (const outer of [1, 2]) {
        const axisLen = 10;
        const count = 7;
        const idx = t.upload(Int32Array.from([3, 0, 9, 3, 3, 5, 9]), 2);
        const x = t.upload(randF32(r, outer * axisLen * inner), 1);
        const out = t.empty(outer * count * inner, 3);
        t.run((be, s) => be.indexSelect({ x: t.d(x, s), indices: t.d(idx, s), out: t.d(out, s), outer, axisLen, inner, count }));
        await exact(t, out, `indexSelect ${outer}x${inner}`);
        const dOut = t.upload(randF32(r, outer * count * inner), 4);
        const dx = t.upload(randF32(r, outer * axisLen * inner), 1);
        t.run((be, s) => be.indexAdd({ dOut: t.d(dOut, s), indices: t.d(idx, s), dx: t.d(dx, s), outer, axisLen, inner, count }));
        await exact(t, dx, `indexAdd ${outer}x${inner}`);
        t.free(idx, x, out, dOut, dx);
      }
    }
  });

  it('indexAdd with many indices (an embedding gradient: 300 tokens over a 50-row table)', async () => {
    const t = twin();
    const r = rng(105);
    const [axisLen, count, inner] = [50, 300, 17];
    const idx = t.upload(randI32(r, count, 0, axisLen));
    const dOut = t.upload(randF32(r, count * inner));
    const dx = t.upload(new Float32Array(axisLen * inner), 2);
    const before = t.gpu.ctx.dispatches;
    t.run((be, s) => be.indexAdd({ dOut: t.d(dOut, s), indices: t.d(idx, s), dx: t.d(dx, s), outer: 1, axisLen, inner, count }));
    // The bitonic sort of 300 -> 512 keys is 9 * 10 / 2 = 45 compare-exchange passes; with the
    // index check, the sort's init and the accumulation that is 48 dispatches, not thousands.
    expect(t.gpu.ctx.dispatches - before).toBe(48);
    await exact(t, dx, 'indexAdd 300 tokens');
    t.free(idx, dOut, dx);
  });

  it('gather and scatterAdd along the middle axis at odd sizes', async () => {
    const t = twin();
    const r = rng(102);
    for (const inner of [1, 3, 17]) {
      for (const [outer, axisLen, count] of [[1, 5, 3], [3, 17, 4], [2, 1, 63], [1, 4, 129]]) {
        const n = outer * count * inner;
        const idx = t.upload(randI32(r, n, 0, axisLen), 1);
        const x = t.upload(randF32(r, outer * axisLen * inner), 2);
        const out = t.empty(n, 1);
        t.run((be, s) => be.gather({ x: t.d(x, s), indices: t.d(idx, s), out: t.d(out, s), outer, axisLen, inner, count }));
        await exact(t, out, `gather ${outer}x${axisLen}x${inner} count ${count}`);
        const dOut = t.upload(randF32(r, n), 3);
        const dx = t.upload(randF32(r, outer * axisLen * inner));
        t.run((be, s) => be.scatterAdd({ dOut: t.d(dOut, s), indices: t.d(idx, s), dx: t.d(dx, s), outer, axisLen, inner, count }));
        await exact(t, dx, `scatterAdd ${outer}x${axisLen}x${inner} count ${count}`);
        t.free(idx, x, out, dOut, dx);
      }
    }
  });

  it('crossEntropy forward and backward at odd widths with ignored rows', async () => {
    const t = twin();
    const r = rng(103);
    for (const cols of [...ODD_SIZES, 1500]) {
      const rows = 6;
      const targets = Int32Array.from(randI32(r, rows, 0, cols), (v, i) => (i === 2 ? -100 : v));
      const tg = t.upload(targets, 1);
      const logits = t.upload(randF32(r, rows * cols, -5, 5), 3);
      const losses = t.empty(rows, 2);
      t.run((be, s) => be.crossEntropy({ logits: t.d(logits, s), targets: t.d(tg, s), losses: t.d(losses, s), rows, cols, ignoreIndex: -100 }));
      const lr = await t.readAll(losses, 'f32');
      expectClose(lr.gpu, lr.ref, 1e-5, 1e-7, `crossEntropy ${rows}x${cols}`);
      const dl = t.upload(randF32(r, rows, 0.5, 2), 1);
      const dx = t.empty(rows * cols, 2);
      t.run((be, s) => be.crossEntropyBackward({ logits: t.d(logits, s), targets: t.d(tg, s), dLosses: t.d(dl, s), dLogits: t.d(dx, s), rows, cols, ignoreIndex: -100 }));
      const gr = await t.readAll(dx, 'f32');
      expectClose(gr.gpu, gr.ref, 1e-5, 1e-8, `crossEntropyBackward ${rows}x${cols}`);
      t.free(tg, logits, losses, dl, dx);
    }
  });

  it('crossEntropy: confident rows keep tiny losses, large / -inf / +inf / NaN logits, ignoreIndex inside the class range', async () => {
    const t = twin();
    const cols = 21;
    const rowsData = [
      Array.from({ length: cols }, (_, i) => (i === 4 ? 30 : 0)),
      Array.from({ length: cols }, (_, i) => 1e4 + i),
      Array.from({ length: cols }, (_, i) => (i % 2 ? -Infinity : i)),
      Array.from({ length: cols }, (_, i) => (i === 3 ? Infinity : i)),
      Array.from({ length: cols }, (_, i) => (i === 3 ? NaN : i)),
      Array.from({ length: cols }, (_, i) => i * 0.1),
    ];
    const rows = rowsData.length;
    const tg = t.upload(Int32Array.from([4, 20, 1, 0, 7, 5]));
    const logits = t.upload(Float32Array.from(rowsData.flat()), 1);
    const losses = t.empty(rows);
    const dl = t.upload(new Float32Array(rows).fill(1.5));
    const dx = t.empty(rows * cols);
    t.run((be, s) => be.crossEntropy({ logits: t.d(logits, s), targets: t.d(tg, s), losses: t.d(losses, s), rows, cols, ignoreIndex: 5 }));
    t.run((be, s) => be.crossEntropyBackward({ logits: t.d(logits, s), targets: t.d(tg, s), dLosses: t.d(dl, s), dLogits: t.d(dx, s), rows, cols, ignoreIndex: 5 }));
    const lr = await t.readAll(losses, 'f32');
    expectClose(lr.gpu, lr.ref, 1e-5, 0, 'crossEntropy special rows');
    // Row 0: loss = log1p(20 e^-30) ~ 1e-12, kept to 1e-5 relative (logsumexp - x_t would cancel).
    const exactLoss = Math.log1p(20 * Math.exp(-30));
    expect(Math.abs(lr.gpu[0] - exactLoss) / exactLoss).toBeLessThan(1e-5);
    const gr = await t.readAll(dx, 'f32');
    expectClose(gr.gpu, gr.ref, 1e-5, 1e-30, 'crossEntropyBackward special rows');
    t.free(tg, logits, losses, dl, dx);
  });

  it('out-of-range indices: nothing is written and read() rejects with an IndexError naming kernel, index and position', async () => {
    const t = twin();
    const be = t.gpu;
    const r = rng(104);
    const x = t.upload(randF32(r, 2 * 5 * 3));
    const out = t.upload(randF32(r, 2 * 4 * 3));
    const before = await be.read(out.gpu, 'f32');
    const beforeX = await be.read(x.gpu, 'f32');
    const d = (b: TwinBuf) => t.d(b, 'gpu');
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
        const err = await be.read(out.gpu, 'f32').then(
          () => null,
          (e: unknown) => e,
        );
        expect(err, `${name} with indices [${bad}]`).toBeInstanceOf(IndexError);
        expect((err as Error).message).toMatch(message);
        expectSameValues(await be.read(out.gpu, 'f32'), before, `out after a rejected ${name}`);
        expectSameValues(await be.read(x.gpu, 'f32'), beforeX, `x / dx after a rejected ${name}`);
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
    expectSameValues(await be.read(out.gpu, 'f32'), before, 'out after rejected calls');
    t.free(x, out);
  });

  it('good kernels after a bad one still run, and an error from several queued kernels names the first', async () => {
    const t = twin();
    const be = t.gpu;
    const x = t.upload(Float32Array.from([10, 20, 30]));
    const good = t.upload(Int32Array.from([2, 0]));
    const bad1 = t.upload(Int32Array.from([0, 3]));
    const bad2 = t.upload(Int32Array.from([-2, 0]));
    const out1 = t.empty(2);
    const out2 = t.empty(2);
    const d = (b: TwinBuf) => t.d(b, 'gpu');
    be.indexSelect({ x: d(x), indices: d(bad1), out: d(out1), outer: 1, axisLen: 3, inner: 1, count: 2 });
    be.indexSelect({ x: d(x), indices: d(good), out: d(out2), outer: 1, axisLen: 3, inner: 1, count: 2 });
    be.gather({ x: d(x), indices: d(bad2), out: d(out1), outer: 1, axisLen: 3, inner: 1, count: 2 });
    await expect(be.read(out2.gpu, 'f32')).rejects.toThrow(/^indexSelect: index 3 at position 1/);
    expect(Array.from(await be.read(out2.gpu, 'f32', 0, 2))).toEqual([30, 10]);
    t.free(x, good, bad1, bad2, out1, out2);
  });
});
