/**
 * Class 1 of the reliability issue: an op that throws frees everything it
 * allocated. After any thrown error `memory()` is exactly what it was before
 * the call (tensor handles, their bytes and the backend's own bytes), on the
 * reference and wasm backends, for free functions and methods alike.
 */
import { TesseraError, createWasmBackend, type Backend } from '@tessera/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import { memory, setBackend, tensor, type Tensor } from '../src/index.js';

/** Calls `fn`, expects a TesseraError, and expects memory() unchanged. */
function expectCleanThrow(fn: () => unknown, kind: string): void {
  const before = memory();
  let caught: unknown = null;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a throw').not.toBeNull();
  expect(caught, String(caught)).toBeInstanceOf(TesseraError);
  expect((caught as Error).name).toBe(kind);
  expect(memory()).toEqual(before);
}

const backends: [string, () => Promise<Backend | 'reference'>][] = [
  ['reference', async () => 'reference'],
  ['wasm', () => createWasmBackend({ simd: 'simd128' })],
];

for (const [label, make] of backends) {
  describe(`${label}: a failed op leaves memory() as it was`, () => {
    let x: Tensor;
    let w: Tensor;
    let bad: Tensor;
    beforeAll(async () => {
      await setBackend(await make());
      x = tensor([[1, 2, 3], [4, 5, 6]]);
      w = tensor([[1, 2], [3, 4], [5, 6]]);
      bad = tensor([0, 7, 1], undefined, 'i32');
    });
    afterAll(() => {
      for (const t of [x, w, bad]) t.dispose();
    });

    it('indexSelect / embedding / gather with an out-of-range index', () => {
      expectCleanThrow(() => T.indexSelect(x, 1, bad), 'IndexError');
      expectCleanThrow(() => x.indexSelect(0, bad), 'IndexError');
      expectCleanThrow(() => T.embedding(w, bad), 'IndexError');
      const i1 = tensor([[0, 5], [1, 1]], undefined, 'i32');
      const i2 = tensor([[-1]], undefined, 'i32');
      expectCleanThrow(() => T.gather(x, 1, i1), 'IndexError');
      // the narrower-index path slices x inside a tidy first
      expectCleanThrow(() => x.gather(1, i2), 'IndexError');
      i1.dispose();
      i2.dispose();
    });

    it('crossEntropy with a target out of range', () => {
      const t = tensor([0, 3], undefined, 'i32');
      expectCleanThrow(() => T.crossEntropy(x, t), 'IndexError');
      const xt = x.T;
      expectCleanThrow(() => T.crossEntropy(xt, t), 'ShapeError');
      t.dispose();
      xt.dispose();
    });

    it('layerNorm with a negative, NaN or infinite eps', () => {
      expectCleanThrow(() => T.layerNorm(x, [3], null, null, -1), 'ArgumentError');
      expectCleanThrow(() => T.layerNorm(x, [3], null, null, Number.NaN), 'ArgumentError');
      expectCleanThrow(() => T.layerNorm(x, [3], null, null, Number.POSITIVE_INFINITY), 'ArgumentError');
    });

    it('composite ops that fail after creating intermediates', () => {
      const [q, k] = [x.unsqueeze(0), w.unsqueeze(0)];
      const mask = x.gt(0);
      expectCleanThrow(() => T.concat([x, x, w], 0), 'ShapeError');
      expectCleanThrow(() => T.stack([x, w], 1), 'ShapeError');
      expectCleanThrow(() => x.matmul(x), 'ShapeError');
      expectCleanThrow(() => T.scaledDotProductAttention(q, k, k), 'ShapeError');
      expectCleanThrow(() => T.where(mask, x, w), 'ShapeError');
      expectCleanThrow(() => T.mse(x, w), 'ShapeError');
      expectCleanThrow(() => T.variance(x, 5), 'ArgumentError');
      for (const t of [q, k, mask]) t.dispose();
    });

    it('backward through a graph whose saved tensor was modified', () => {
      const a = tensor([1, 2, 3], undefined, { requiresGrad: true });
      const h = T.mul(a, 2);
      const y = T.sum(T.mul(h, h));
      T.noGrad(() => h.add_(1));
      expectCleanThrow(() => y.backward(), 'AutogradError');
      for (const t of [a, h, y]) t.dispose();
    });

    it('repeated failures in a loop do not grow memory', () => {
      const before = memory();
      for (let i = 0; i < 200; i++) {
        try {
          T.tidy(() => T.embedding(w, bad).sum());
        } catch {
          /* a bad batch, skipped */
        }
        try {
          T.indexSelect(x, 0, bad);
        } catch {
          /* skipped */
        }
      }
      expect(memory()).toEqual(before);
    });
  });
}
