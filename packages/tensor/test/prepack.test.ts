import { createWasmBackend } from '@tessera/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matmul, memory, narrow, noGrad, prepackMatmulWeights, randn, releaseMatmulPacks, reshape, setBackend, tensor, type Tensor } from '../src/index.js';

/** The bits of a tensor's values, to compare products exactly. */
const bits = (t: Tensor) => Array.from(new Int32Array(Float32Array.from(t.dataSync()).buffer));

describe('prepackMatmulWeights (wasm backend)', () => {
  beforeAll(async () => {
    await setBackend(await createWasmBackend({ threads: 2 }));
  });
  afterAll(async () => {
    await setBackend('reference');
  });

  it('gives the same bits as unpacked products, as B and transposed, and costs one packed copy', () => {
    const x = randn([2, 40, 96], { seed: 1 });
    const w = randn([96, 200], { seed: 2 });
    const wt = randn([200, 96], { seed: 3 });
    const plain = [matmul(x, w), matmul(x, wt.T)];
    const before = memory().numBytes;
    prepackMatmulWeights([w]);
    prepackMatmulWeights([wt], { transposed: true });
    prepackMatmulWeights([w]); // packing twice is a no-op
    const packedBytes = memory().numBytes - before;
    expect(packedBytes).toBeGreaterThanOrEqual(2 * 96 * 200 * 4);
    expect(packedBytes).toBeLessThan(2 * 96 * 208 * 4 + 4096);
    const packed = [matmul(x, w), matmul(x, wt.T)];
    expect(bits(packed[0])).toEqual(bits(plain[0]));
    expect(bits(packed[1])).toEqual(bits(plain[1]));
    packed.forEach((t) => t.dispose());
    releaseMatmulPacks([w, wt]);
    expect(memory().numBytes).toBe(before);
    [x, w, wt, ...plain].forEach((t) => t.dispose());
  });

  it('a transposed weight (a tied LM head, x @ E^T) at every row count: the bits of the unpacked product, within f32 rounding of float64', () => {
    // Rows on both sides of the dot-form limit (64) and of the 4-row tiles; vocabularies that
    // miss the 8-column panels and the 4-row dot tiles; k on both sides of the dot-form k (256).
    for (const k of [256, 100]) {
      for (const vocab of [301, 1003]) {
        const e = randn([vocab, k], { seed: vocab + k });
        for (const rows of [1, 17, 63, 64, 65, 128, 200]) {
          const x = randn([rows, k], { seed: rows });
          const plain = matmul(x, e.T);
          prepackMatmulWeights([e], { transposed: true });
          const packed = matmul(x, e.T);
          expect(bits(packed), `${rows}x${k} @ ${vocab}`).toEqual(bits(plain));
          const xv = x.dataSync();
          const ev = e.dataSync();
          const got = packed.dataSync();
          let worst = 0;
          for (let i = 0; i < rows; i++) {
            for (let j = 0; j < vocab; j++) {
              let want = 0;
              let mag = 0;
              for (let l = 0; l < k; l++) {
                want += xv[i * k + l] * ev[j * k + l];
                mag += Math.abs(xv[i * k + l] * ev[j * k + l]);
              }
              // f32 sums of k terms: |error| <= k * 2^-24 * sum |terms| (a loose bound; the real error is far smaller).
              worst = Math.max(worst, Math.abs(got[i * vocab + j] - want) / (k * 2 ** -24 * mag + 1e-30));
            }
          }
          expect(worst, `${rows}x${k} @ ${vocab}`).toBeLessThanOrEqual(1);
          releaseMatmulPacks([e]);
          [x, plain, packed].forEach((t) => t.dispose());
        }
        e.dispose();
      }
    }
  });

  it('an untransposed weight and up to 64 rows of x (k >= 256, or 4 rows): the bits of the product with its transposed copy, close to the unpacked ones', () => {
    // (Past 64 rows the unpacked transposed product takes the packed path; core's tests check
    // those rows one by one.)
    for (const [rows, k] of [[30, 300], [3, 40], [64, 256]]) {
      const x = randn([rows, k], { seed: 20 + rows });
      const w = randn([k, 50], { seed: 21 + rows });
      const plain = matmul(x, w);
      const wT = w.T.contiguous(); // [50, k], read as a transposed B: the dot-form tiles
      const viaCopy = matmul(x, wT.T);
      prepackMatmulWeights([w]);
      const packed = matmul(x, w);
      expect(bits(packed), `${rows}x${k}`).toEqual(bits(viaCopy));
      const p = packed.dataSync();
      const q = plain.dataSync();
      // The same sums in another order: within 1e-6 of the largest value (f32 rounding of k terms).
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < q.length; i++) {
        worst = Math.max(worst, Math.abs(p[i] - q[i]));
        scale = Math.max(scale, Math.abs(q[i]));
      }
      expect(worst, `${rows}x${k}`).toBeLessThanOrEqual(1e-6 * scale);
      [x, w, plain, wT, viaCopy, packed].forEach((t) => t.dispose());
    }
  });

  it('repacks after an in-place write (an optimizer step), and frees the copy with the weight', () => {
    const x = randn([64, 32], { seed: 4 });
    const w = randn([32, 300], { seed: 5 });
    const base = memory().numBytes;
    prepackMatmulWeights([w]);
    const y0 = matmul(x, w);
    noGrad(() => w.mul_(0.5)); // bumps w's version: the packed copy is stale
    const y1 = matmul(x, w);
    const expected = matmul(x, w.mul(1)); // a fresh tensor, never packed
    expect(bits(y1)).toEqual(bits(expected));
    expect(bits(y1)).not.toEqual(bits(y0));
    [y0, y1, expected, x].forEach((t) => t.dispose());
    w.dispose(); // the packed copy goes with the storage
    expect(memory().numBytes).toBe(base - 64 * 32 * 4);
  });

  it('releases one matrix\'s packs and keeps the others of the same storage (a flat parameter block)', () => {
    // Two weights as views of one flat block, as GPT-2 keeps its parameters.
    const flat = randn([2 * 64 * 96], { seed: 9 });
    const w1 = reshape(narrow(flat, 0, 0, 64 * 96), [64, 96]);
    const w2 = reshape(narrow(flat, 0, 64 * 96, 64 * 96), [64, 96]);
    const x = randn([40, 64], { seed: 10 });
    const xt = randn([40, 96], { seed: 11 });
    const base = memory().numBytes;
    prepackMatmulWeights([w1, w2]);
    prepackMatmulWeights([w1], { transposed: true });
    const all = memory().numBytes - base;
    const plain = [matmul(x, w1), matmul(x, w2), matmul(xt, w1.T)];
    const after = memory().numBytes;
    releaseMatmulPacks([w1], { transposed: false }); // w1's [k, n] pack only
    const one = all / 3;
    expect(after - memory().numBytes).toBe(one);
    const same = (y: Tensor, expected: Tensor) => {
      expect(bits(y)).toEqual(bits(expected));
      y.dispose();
    };
    same(matmul(x, w2), plain[1]); // still packed, same bits
    same(matmul(xt, w1.T), plain[2]);
    releaseMatmulPacks([w1, w2]); // both layouts; w1's transposed pack and w2's pack
    expect(after - memory().numBytes).toBe(all);
    releaseMatmulPacks([w1]); // nothing left to free: a no-op
    expect(after - memory().numBytes).toBe(all);
    expect(() => releaseMatmulPacks([flat])).toThrow(/expected 2-D matrices, got \[12288\]/);
    same(matmul(x, w1), plain[0]);
    [x, xt, w1, w2, flat, ...plain].forEach((t) => t.dispose());
  });

  it('rejects what cannot be a packed B', () => {
    expect(() => prepackMatmulWeights([randn([2, 3, 4], { seed: 6 })])).toThrow(/expected 2-D matrices, got \[2, 3, 4\]/);
    const w = randn([8, 6], { seed: 7 });
    expect(() => prepackMatmulWeights([w.T])).toThrow(/\[6, 8\] with strides \[1, 6\] is not contiguous/);
    expect(() => prepackMatmulWeights([tensor([[1, 2]], undefined, 'i32')])).toThrow(/i32/);
  });
});

describe('prepackMatmulWeights (reference backend)', () => {
  it('is a no-op where the backend has no packed GEMM', async () => {
    await setBackend('reference');
    const w = randn([4, 5], { seed: 8 });
    const before = memory().numBytes;
    prepackMatmulWeights([w]);
    expect(memory().numBytes).toBe(before);
    w.dispose();
  });
});
