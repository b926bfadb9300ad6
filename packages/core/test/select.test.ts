// Select kernels of the wasm backend (both builds) against the reference: indexSelect,
// indexAdd, gather, scatterAdd (exact: copies and f32 adds in the same order) and
// cross-entropy forward / backward (1e-5 relative; logsumexp in float64 on both sides).
// Out-of-range indices must throw IndexError before anything is written.
import { expect, it } from 'vitest';
import { BoundsError, DisposedError, IndexError } from '../src/errors.js';
import { ODD_SIZES, describeBuilds, expectClose, expectSameValues, randF32, randI32, rng, type Side, type Twin, type TwinBuf } from './helpers.js';

/** Runs `call` on both sides and compares the whole `out` storage (including padding) exactly. */
function exact(t: Twin, out: TwinBuf, call: (s: Side) => void, what: string) {
  call('ref');
  call('wasm');
  const res = t.readAll(out, 'f32');
  expectSameValues(res.wasm, res.ref, what);
}

describeBuilds('select', (twin) => {
  it('indexSelect and indexAdd (repeated indices accumulate) at odd inner sizes', () => {
    const t = twin();
    const r = rng(101);
    for (const inner of [...ODD_SIZES, 768]) {
      for (const outer of [1, 2]) {
        const axisLen = 10;
        const count = 7;
        const idx = t.upload(Int32Array.from([3, 0, 9, 3, 3, 5, 9]), 2);
        const x = t.upload(randF32(r, outer * axisLen * inner), 1);
        const out = t.empty(outer * count * inner, 3);
        exact(t, out, (s) => (s === 'ref' ? t.ref : t.wasm).indexSelect({ x: t.d(x, s), indices: t.d(idx, s), out: t.d(out, s), outer, axisLen, inner, count }), `indexSelect ${outer}x${inner}`);
        const dOut = t.upload(randF32(r, outer * count * inner), 4);
        const dx = t.upload(randF32(r, outer * axisLen * inner), 1);
        exact(t, dx, (s) => (s === 'ref' ? t.ref : t.wasm).indexAdd({ dOut: t.d(dOut, s), indices: t.d(idx, s), dx: t.d(dx, s), outer, axisLen, inner, count }), `indexAdd ${outer}x${inner}`);
        t.free(idx, x, out, dOut, dx);
      }
    }
  });

  it('gather and scatterAdd along the middle axis at odd sizes', () => {
    const t = twin();
    const r = rng(102);
    for (const inner of [1, 3, 17]) {
      for (const [outer, axisLen, count] of [[1, 5, 3], [3, 17, 4], [2, 1, 63]]) {
        const n = outer * count * inner;
        const idx = t.upload(randI32(r, n, 0, axisLen), 1);
        const x = t.upload(randF32(r, outer * axisLen * inner), 2);
        const out = t.empty(n, 1);
        exact(t, out, (s) => (s === 'ref' ? t.ref : t.wasm).gather({ x: t.d(x, s), indices: t.d(idx, s), out: t.d(out, s), outer, axisLen, inner, count }), `gather ${outer}x${axisLen}x${inner} count ${count}`);
        const dOut = t.upload(randF32(r, n), 3);
        const dx = t.upload(randF32(r, outer * axisLen * inner));
        exact(t, dx, (s) => (s === 'ref' ? t.ref : t.wasm).scatterAdd({ dOut: t.d(dOut, s), indices: t.d(idx, s), dx: t.d(dx, s), outer, axisLen, inner, count }), `scatterAdd ${outer}x${axisLen}x${inner} count ${count}`);
        t.free(idx, x, out, dOut, dx);
      }
    }
  });

  it('crossEntropy forward and backward at odd widths with ignored rows', () => {
    const t = twin();
    const r = rng(103);
    for (const cols of [...ODD_SIZES, 1000]) {
      const rows = 6;
      const targets = Int32Array.from(randI32(r, rows, 0, cols), (v, i) => (i === 2 ? -100 : v));
      const tg = t.upload(targets, 1);
      const logits = t.upload(randF32(r, rows * cols, -5, 5), 3);
      const losses = t.empty(rows, 2);
      t.run((be, s) => be.crossEntropy({ logits: t.d(logits, s), targets: t.d(tg, s), losses: t.d(losses, s), rows, cols, ignoreIndex: -100 }));
      const lr = t.readAll(losses, 'f32');
      expectClose(lr.wasm, lr.ref, 1e-5, 1e-7, `crossEntropy ${rows}x${cols}`);
      const dl = t.upload(randF32(r, rows, 0.5, 2), 1);
      const dx = t.empty(rows * cols, 2);
      t.run((be, s) => be.crossEntropyBackward({ logits: t.d(logits, s), targets: t.d(tg, s), dLosses: t.d(dl, s), dLogits: t.d(dx, s), rows, cols, ignoreIndex: -100 }));
      const gr = t.readAll(dx, 'f32');
      expectClose(gr.wasm, gr.ref, 1e-5, 1e-8, `crossEntropyBackward ${rows}x${cols}`);
      t.free(tg, logits, losses, dl, dx);
    }
  });

  it('crossEntropy: confident rows keep tiny losses, large / -inf / +inf / NaN logits, ignoreIndex inside the class range', () => {
    const t = twin();
    const cols = 21;
    const rowsData = [
      Array.from({ length: cols }, (_, i) => (i === 4 ? 30 : 0)), // loss ~ 20 e^-30: needs float64 logsumexp
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
    // ignoreIndex 5 is a valid class: row 5 is ignored.
    t.run((be, s) => be.crossEntropy({ logits: t.d(logits, s), targets: t.d(tg, s), losses: t.d(losses, s), rows, cols, ignoreIndex: 5 }));
    t.run((be, s) => be.crossEntropyBackward({ logits: t.d(logits, s), targets: t.d(tg, s), dLosses: t.d(dl, s), dLogits: t.d(dx, s), rows, cols, ignoreIndex: 5 }));
    const lr = t.readAll(losses, 'f32');
    expectClose(lr.wasm, lr.ref, 1e-5, 0, 'crossEntropy special rows');
    // Row 0: loss = log1p(20 e^-30) and dLogits[t] = -1.5 * 20 e^-30 / (1 + 20 e^-30), both ~1e-12:
    // logsumexp - x_t would cancel to ~1e-3 relative in float64.
    const exactLoss = Math.log1p(20 * Math.exp(-30));
    for (const got of [lr.wasm[0], lr.ref[0]]) expect(Math.abs(got - exactLoss) / exactLoss).toBeLessThan(1e-6);
    const exactGrad = (-1.5 * 20 * Math.exp(-30)) / (1 + 20 * Math.exp(-30));
    const gr = t.readAll(dx, 'f32');
    expectClose(gr.wasm, gr.ref, 1e-5, 1e-30, 'crossEntropyBackward special rows');
    for (const got of [gr.wasm[4], gr.ref[4]]) expect(Math.abs(got - exactGrad) / -exactGrad).toBeLessThan(1e-6);
    t.free(tg, logits, losses, dl, dx);
  });

  it('out-of-range indices throw IndexError naming the index, and nothing is written', () => {
    const t = twin();
    const be = t.wasm;
    const r = rng(104);
    const x = t.upload(randF32(r, 2 * 5 * 3));
    const out = t.upload(randF32(r, 2 * 4 * 3));
    const before = be.readSync(out.wasm, 'f32');
    const beforeX = be.readSync(x.wasm, 'f32');
    for (const bad of [[0, 5, 1, 2], [0, 1, -1, 2], [4, 4, 4, 2147483647]]) {
      const idx = t.upload(Int32Array.from(bad));
      const d = (b: TwinBuf) => t.d(b, 'wasm');
      expect(() => be.indexSelect({ x: d(x), indices: d(idx), out: d(out), outer: 2, axisLen: 5, inner: 3, count: 4 })).toThrow(IndexError);
      expect(() => be.indexSelect({ x: d(x), indices: d(idx), out: d(out), outer: 2, axisLen: 5, inner: 3, count: 4 })).toThrow(/index -?\d+ at position \d+ is out of range \[0, 5\)/);
      expect(() => be.indexAdd({ dOut: d(out), indices: d(idx), dx: d(x), outer: 2, axisLen: 5, inner: 3, count: 4 })).toThrow(IndexError);
      expect(() => be.gather({ x: d(x), indices: d(idx), out: d(out), outer: 1, axisLen: 2, inner: 1, count: 4 })).toThrow(IndexError);
      expect(() => be.scatterAdd({ dOut: d(out), indices: d(idx), dx: d(x), outer: 1, axisLen: 2, inner: 1, count: 4 })).toThrow(IndexError);
      expect(() => be.crossEntropy({ logits: d(x), targets: d(idx), losses: d(out), rows: 4, cols: 3, ignoreIndex: -100 })).toThrow(IndexError);
      expect(() => be.crossEntropyBackward({ logits: d(x), targets: d(idx), dLosses: d(x), dLogits: d(out), rows: 4, cols: 3, ignoreIndex: -100 })).toThrow(IndexError);
      expectSameValues(be.readSync(out.wasm, 'f32'), before, 'out after a rejected call');
      expectSameValues(be.readSync(x.wasm, 'f32'), beforeX, 'dx after a rejected call');
      t.free(idx);
    }
    // Indices past their storage are a BoundsError (validation), freed storage a DisposedError.
    const short = t.upload(Int32Array.from([0, 1]), 0, 0);
    expect(() => be.indexSelect({ x: t.d(x, 'wasm'), indices: t.d(short, 'wasm'), out: t.d(out, 'wasm'), outer: 2, axisLen: 5, inner: 3, count: 4 })).toThrow(BoundsError);
    t.free(short);
    expect(() => be.gather({ x: t.d(x, 'wasm'), indices: t.d(short, 'wasm'), out: t.d(out, 'wasm'), outer: 1, axisLen: 2, inner: 1, count: 2 })).toThrow(DisposedError);
    expectSameValues(be.readSync(out.wasm, 'f32'), before, 'out after rejected calls');
  });
});
