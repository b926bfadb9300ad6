import { createWasmBackend, type Backend } from '@tessera/core';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  add,
  crossEntropy,
  embedding,
  gelu,
  keep,
  layerNorm,
  matmul,
  memory,
  mul,
  noGrad,
  ones,
  randint,
  randn,
  setBackend,
  tensor,
  tidy,
  zeros,
  type Tensor,
} from '../src/index.js';

beforeEach(async () => {
  await setBackend('reference');
});

describe('tidy', () => {
  it('disposes intermediates and keeps the returned tensor', () => {
    const x = ones([3]);
    const base = memory().numTensors;
    let inner: Tensor | null = null;
    const y = tidy(() => {
      inner = mul(x, 2);
      return add(inner, 1);
    });
    expect(inner!.isDisposed).toBe(true);
    expect(y.isDisposed).toBe(false);
    expect(Array.from(y.dataSync())).toEqual([3, 3, 3]);
    expect(memory().numTensors).toBe(base + 1);
    y.dispose();
    x.dispose();
  });

  it('keeps tensors inside returned arrays, objects and Maps, and keep()-ed ones', () => {
    let kept: Tensor | null = null;
    let dropped: Tensor | null = null;
    const r = tidy(() => {
      kept = keep(ones([1]));
      dropped = ones([1]);
      return { a: [ones([2]), { b: zeros([2]) }], m: new Map([['c', ones([3])]]) };
    });
    expect(r.a[0] instanceof Object && !(r.a[0] as Tensor).isDisposed).toBe(true);
    expect(((r.a[1] as { b: Tensor }).b).isDisposed).toBe(false);
    expect(r.m.get('c')!.isDisposed).toBe(false);
    expect(kept!.isDisposed).toBe(false);
    expect(dropped!.isDisposed).toBe(true);
    for (const t of [r.a[0] as Tensor, (r.a[1] as { b: Tensor }).b, r.m.get('c')!, kept!]) t.dispose();
  });

  it('moves a nested result to the enclosing scope, which disposes it unless returned', () => {
    let innerResult: Tensor | null = null;
    const outer = tidy(() => {
      innerResult = tidy(() => mul(ones([2]), 3));
      expect(innerResult.isDisposed).toBe(false);
      return add(innerResult, 1);
    });
    expect(innerResult!.isDisposed).toBe(true);
    expect(Array.from(outer.dataSync())).toEqual([4, 4]);
    outer.dispose();
  });

  it('disposes everything when fn throws', () => {
    const base = memory().numTensors;
    expect(() =>
      tidy(() => {
        ones([4]);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(memory().numTensors).toBe(base);
  });

  it('works with async functions: the scope closes when the promise settles', async () => {
    const base = memory().numTensors;
    let before: Tensor | null = null;
    let after: Tensor | null = null;
    const p = tidy(async () => {
      before = ones([2]);
      await new Promise((r) => setTimeout(r, 1));
      after = mul(before, 2);
      expect(before.isDisposed).toBe(false);
      return add(after, 1);
    });
    expect(p).toBeInstanceOf(Promise);
    const y = await p;
    expect(before!.isDisposed).toBe(true);
    expect(after!.isDisposed).toBe(true);
    expect(Array.from(y.dataSync())).toEqual([3, 3]);
    y.dispose();
    expect(memory().numTensors).toBe(base);
  });

  it('disposes an async scope on rejection', async () => {
    const base = memory().numTensors;
    await expect(
      tidy(async () => {
        ones([2]);
        await Promise.resolve();
        ones([2]);
        throw new Error('async boom');
      }),
    ).rejects.toThrow('async boom');
    expect(memory().numTensors).toBe(base);
  });

  it('supports `using` declarations', () => {
    let t: Tensor;
    {
      using u = ones([2]);
      t = u;
      expect(t.isDisposed).toBe(false);
    }
    expect(t.isDisposed).toBe(true);
  });
});

describe('storage lifetime', () => {
  it('views share refcounted storage: freed when the last handle goes', () => {
    const base = memory();
    const x = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const t = x.transpose(0, 1);
    const v = t.slice([[1, 3]]);
    x.dispose();
    t.dispose();
    expect(memory().numTensors).toBe(base.numTensors + 1);
    expect(memory().numBytes).toBe(base.numBytes + 24);
    expect(Array.from(v.dataSync())).toEqual([2, 5, 3, 6]);
    v.dispose();
    expect(memory()).toEqual(base);
  });

  it('dispose is idempotent and disposes a leaf gradient with it', () => {
    const base = memory();
    const x = ones([2], { requiresGrad: true });
    const loss = tidy(() => mul(x, 2).sum());
    loss.backward();
    loss.dispose();
    expect(x.grad).not.toBeNull();
    const g = x.grad!;
    x.dispose();
    x.dispose();
    expect(g.isDisposed).toBe(true);
    expect(memory()).toEqual(base);
  });

  it.skipIf(typeof globalThis.gc !== 'function')('frees the storage of tensors garbage-collected without dispose (FinalizationRegistry)', async () => {
    const gc = globalThis.gc as () => void;
    const base = memory();
    const x = ones([64], { requiresGrad: true });
    const w = ones([64], { requiresGrad: true });
    (() => {
      for (let i = 0; i < 50; i++) ones([256]);
      // Graph outputs (holding nodes with saved tensors) must be collectable too.
      for (let i = 0; i < 20; i++) mul(x, w).exp().sum();
    })();
    x.dispose();
    w.dispose();
    expect(memory().numBytes).toBeGreaterThan(base.numBytes + 50 * 1024);
    for (let i = 0; i < 20 && memory().numBytes !== base.numBytes; i++) {
      gc();
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(memory().numBytes).toBe(base.numBytes);
    expect(memory().numTensors).toBe(base.numTensors);
  });
});

describe('training loop memory', () => {
  it('10,000 steps (forward, backward, in-place update, tidy) on wasm keep memory() and the wasm heap flat', async () => {
    const be: Backend = await createWasmBackend();
    await setBackend(be);
    const V = 11;
    const C = 8;
    const wte = randn([V, C], { seed: 1, std: 0.1, requiresGrad: true });
    const gamma = ones([C], { requiresGrad: true });
    const beta = zeros([C], { requiresGrad: true });
    const w = randn([C, V], { seed: 2, std: 0.1, requiresGrad: true });
    const params = [wte, gamma, beta, w];
    const ids = randint(0, V, [2, 3], { seed: 3 });
    const targets = randint(0, V, [2, 3], { seed: 4 });
    const step = (i: number, read = false) => {
      const loss = tidy(() => crossEntropy(matmul(gelu(layerNorm(embedding(wte, ids), [C], gamma, beta)), w), targets));
      loss.backward();
      noGrad(() => {
        for (const p of params) p.sub_(p.grad!, 0.05);
      });
      for (const p of params) p.zeroGrad(i % 2 === 0);
      const value = read ? loss.itemSync() : 0;
      loss.dispose();
      return value;
    };
    for (let i = 0; i < 100; i++) step(i);
    const first = step(100, true);
    const snap = { ...memory(), ...be.memoryInfo() };
    let last = Infinity;
    // Ends on an even step like the snapshot (gradients dropped, not zero-filled).
    for (let i = 101; i <= 10_000; i++) {
      if (i % 1000 === 0) last = step(i, true);
      else step(i);
    }
    expect({ ...memory(), ...be.memoryInfo() }).toEqual(snap);
    expect(last).toBeLessThan(first);
    for (const t of [...params, ids, targets]) t.dispose();
  });
});
