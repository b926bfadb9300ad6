// Select kernel conformance: the device under test against the reference. indexSelect,
// gather (exact copies), indexAdd, scatterAdd (exact too: contributions are added to each
// destination in the reference's order) and cross-entropy forward / backward (1e-5 relative;
// logsumexp in float64 on the reference).
import { expect, it } from 'vitest';
import { ODD_SIZES, expectClose, expectSameValues, randF32, randI32, rng } from '../checks.js';
import type { Twin, TwinBuf } from './twin.js';

export interface SelectOptions {
  /** A wide class count beyond ODD_SIZES for crossEntropy (e.g. 1000, or 1500 for the 256-wide workgroups). */
  crossEntropyWide: number;
  /**
   * Relative tolerance of the device's ~1e-12 loss and dLogits of a confident row against
   * their exact values (1e-6 where logsumexp is float64, as on wasm; WebGPU keeps 1e-5).
   */
  confidentRtol: number;
}

/** Compares the whole `out` storage (including padding) of both sides exactly. */
async function exact(t: Twin, out: TwinBuf, what: string) {
  const res = await t.readAll(out, 'f32');
  expectSameValues(res.dev, res.ref, what);
}

/** The shared select tests; call inside the backend's describe. */
export function selectConformance(twin: () => Twin, opts: SelectOptions): void {
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
    for (const cols of [...ODD_SIZES, opts.crossEntropyWide]) {
      const rows = 6;
      const targets = Int32Array.from(randI32(r, rows, 0, cols), (v, i) => (i === 2 ? -100 : v));
      const tg = t.upload(targets, 1);
      const logits = t.upload(randF32(r, rows * cols, -5, 5), 3);
      const losses = t.empty(rows, 2);
      t.run((be, s) => be.crossEntropy({ logits: t.d(logits, s), targets: t.d(tg, s), losses: t.d(losses, s), rows, cols, ignoreIndex: -100 }));
      const lr = await t.readAll(losses, 'f32');
      expectClose(lr.dev, lr.ref, 1e-5, 1e-7, `crossEntropy ${rows}x${cols}`);
      const dl = t.upload(randF32(r, rows, 0.5, 2), 1);
      const dx = t.empty(rows * cols, 2);
      t.run((be, s) => be.crossEntropyBackward({ logits: t.d(logits, s), targets: t.d(tg, s), dLosses: t.d(dl, s), dLogits: t.d(dx, s), rows, cols, ignoreIndex: -100 }));
      const gr = await t.readAll(dx, 'f32');
      expectClose(gr.dev, gr.ref, 1e-5, 1e-8, `crossEntropyBackward ${rows}x${cols}`);
      t.free(tg, logits, losses, dl, dx);
    }
  });

  it('crossEntropy: confident rows keep tiny losses, large / -inf / +inf / NaN logits, ignoreIndex inside the class range', async () => {
    const t = twin();
    const cols = 21;
    const rowsData = [
      Array.from({ length: cols }, (_, i) => (i === 4 ? 30 : 0)), // loss ~ 20 e^-30: needs a careful logsumexp
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
    const lr = await t.readAll(losses, 'f32');
    expectClose(lr.dev, lr.ref, 1e-5, 0, 'crossEntropy special rows');
    // Row 0: loss = log1p(20 e^-30) and dLogits[t] = -1.5 * 20 e^-30 / (1 + 20 e^-30), both ~1e-12:
    // logsumexp - x_t would cancel to ~1e-3 relative in float64.
    const exactLoss = Math.log1p(20 * Math.exp(-30));
    expect(Math.abs(lr.ref[0] - exactLoss) / exactLoss, 'reference loss').toBeLessThan(1e-6);
    expect(Math.abs(lr.dev[0] - exactLoss) / exactLoss, 'loss').toBeLessThan(opts.confidentRtol);
    const exactGrad = (-1.5 * 20 * Math.exp(-30)) / (1 + 20 * Math.exp(-30));
    const gr = await t.readAll(dx, 'f32');
    expectClose(gr.dev, gr.ref, 1e-5, 1e-30, 'crossEntropyBackward special rows');
    expect(Math.abs(gr.ref[4] - exactGrad) / -exactGrad, 'reference dLogits').toBeLessThan(1e-6);
    expect(Math.abs(gr.dev[4] - exactGrad) / -exactGrad, 'dLogits').toBeLessThan(opts.confidentRtol);
    t.free(tg, logits, losses, dl, dx);
  });
}
