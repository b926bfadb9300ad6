/**
 * backward() is atomic for leaf gradients (reliability issue #19, class 1): when a backward
 * closure throws part way through the graph, no leaf's `.grad` changes (neither a fresh one
 * appears nor an existing one is accumulated into), and every intermediate gradient is freed:
 * no bytes stay behind, and once the graph is dropped memory() is exactly what it was before it. On the reference and wasm backends.
 */
import { TesseraError, createWasmBackend, type Backend } from '@tessera/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { AutogradError, add, memory, mul, setBackend, sum, tensor, tidy, type Tensor } from '../src/index.js';
import { attachGrad } from '../src/autograd.js';

/** An identity op whose backward throws: the failure a buggy custom op would produce. */
function failingIdentity(x: Tensor): Tensor {
  // A fresh output of x's values; its node is replaced by the failing one, whose input edge is x.
  const out = mul(x, 1);
  return attachGrad('failingIdentity', out, [x], () => () => {
    throw new AutogradError('failingIdentity: backward is broken on purpose');
  });
}

const backends: [string, () => Promise<Backend | 'reference'>][] = [
  ['reference', async () => 'reference'],
  ['wasm', () => createWasmBackend({ simd: 'simd128' })],
];

for (const [label, make] of backends) {
  describe(`${label}: a backward that throws part way`, () => {
    beforeAll(async () => {
      await setBackend(await make());
    });

    it('leaves every leaf .grad as it was (none created, none accumulated) and frees what it made', () => {
      const a = tensor([1, 2, 3], undefined, { requiresGrad: true });
      const b = tensor([4, 5, 6], undefined, { requiresGrad: true });
      const c = tensor([7, 8, 9], undefined, { requiresGrad: true });
      // b already has a gradient from an earlier backward: it must not be accumulated into.
      tidy(() => sum(mul(b, 2))).backward();
      expect(Array.from(b.grad!.dataSync())).toEqual([2, 2, 2]);
      // loss = sum(failing(3c)) + sum(a * b): backward walks the graph in reverse topological
      // order, which reaches the a/b branch (and the leaves a, b) before the failing node.
      const base = memory();
      const loss = tidy(() => add(sum(failingIdentity(mul(c, 3))), sum(mul(a, b))));
      const before = memory();
      let caught: unknown;
      try {
        loss.backward();
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(TesseraError);
      expect((caught as Error).message).toMatch(/backward is broken on purpose/);
      expect(a.grad).toBeNull();
      expect(c.grad).toBeNull();
      expect(Array.from(b.grad!.dataSync())).toEqual([2, 2, 2]);
      // No bytes stay behind; the handles the walked nodes had saved are released, as a backward does.
      expect(memory().numBytes).toBe(before.numBytes);
      expect(memory().numTensors).toBeLessThanOrEqual(before.numTensors);
      loss.dispose();
      expect(memory()).toEqual(base);
      for (const t of [a, b, c]) t.dispose();
    });

    it('a leaf reached by the failing branch and a working one gets nothing either', () => {
      const w = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
      const base = memory();
      const loss = tidy(() => add(sum(failingIdentity(w)), sum(mul(w, w))));
      expect(() => loss.backward()).toThrow(AutogradError);
      expect(w.grad).toBeNull();
      loss.dispose();
      expect(memory()).toEqual(base);
      // The same graph without the failing op still gives the gradient.
      const ok = tidy(() => sum(mul(w, w)));
      ok.backward();
      expect(Array.from(w.grad!.dataSync())).toEqual([2, 4, 6, 8]);
      for (const t of [w, loss, ok]) t.dispose();
    });
  });
}
