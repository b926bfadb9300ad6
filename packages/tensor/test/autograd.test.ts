import { ShapeError } from '@tessera/core';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  AutogradError,
  add,
  isGradEnabled,
  memory,
  mul,
  noGrad,
  ones,
  onesLike,
  setBackend,
  sum,
  tensor,
  tidy,
  zeroGrad,
  zeros,
  type Tensor,
} from '../src/index.js';

const arr = (t: Tensor | null) => Array.from(t!.dataSync());

beforeEach(async () => {
  await setBackend('reference');
});

describe('backward', () => {
  it('computes leaf gradients of a scalar', () => {
    const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
    const y = mul(x, x).sum();
    y.backward();
    expect(arr(x.grad)).toEqual([2, 4, 6]);
  });

  it('accumulates gradients across backward calls until zeroGrad', () => {
    const x = tensor([1, -2], undefined, { requiresGrad: true });
    for (let i = 0; i < 3; i++) tidy(() => mul(x, 3).sum()).backward();
    expect(arr(x.grad)).toEqual([9, 9]);
    x.zeroGrad(false);
    expect(arr(x.grad)).toEqual([0, 0]);
    tidy(() => mul(x, 2).sum()).backward();
    expect(arr(x.grad)).toEqual([2, 2]);
    zeroGrad([x]);
    expect(x.grad).toBeNull();
  });

  it('sums the gradient of a tensor used several times (x*x + x)', () => {
    const x = tensor([1, 2, 3], undefined, { requiresGrad: true });
    tidy(() => add(mul(x, x), x).sum()).backward();
    expect(arr(x.grad)).toEqual([3, 5, 7]);
  });

  it('keeps each leaf gradient exclusive even when the same upstream gradient reaches two leaves', () => {
    const a = tensor([1, 2], undefined, { requiresGrad: true });
    const b = tensor([3, 4], undefined, { requiresGrad: true });
    tidy(() => add(a, b).sum()).backward();
    tidy(() => mul(a, 10).sum()).backward();
    expect(arr(a.grad)).toEqual([11, 11]);
    expect(arr(b.grad)).toEqual([1, 1]);
  });

  it('needs an explicit gradient for a non-scalar output and uses it', () => {
    const x = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
    const y = mul(x, 2);
    expect(() => y.backward()).toThrow(ShapeError);
    expect(() => y.backward()).toThrow(/shape \[2, 2\]/);
    y.backward(tensor([[1, 0], [0, 1]]));
    expect(arr(x.grad)).toEqual([2, 0, 0, 2]);
  });

  it('retains the graph only when asked; a second backward through a freed graph throws', () => {
    const x = tensor([1, 2], undefined, { requiresGrad: true });
    const y = tidy(() => mul(x, x).sum());
    y.backward(undefined, { retainGraph: true });
    y.backward();
    expect(arr(x.grad)).toEqual([4, 8]);
    expect(() => y.backward()).toThrow(AutogradError);
    expect(() => y.backward()).toThrow(/already freed.*retainGraph/);
  });

  it('rejects backward from a tensor that does not require grad', () => {
    expect(() => ones([1]).backward()).toThrow(AutogradError);
  });

  it('gives a scalar leaf a gradient of one', () => {
    const x = tensor(5, undefined, { requiresGrad: true });
    x.backward();
    expect(x.grad!.itemSync()).toBe(1);
  });

  it('detach cuts the graph', () => {
    const x = tensor([1, 2], undefined, { requiresGrad: true });
    const d = x.detach();
    expect(d.requiresGrad).toBe(false);
    tidy(() => add(mul(x, d), x).sum()).backward();
    expect(arr(x.grad)).toEqual([2, 3]);
  });

  it('noGrad records nothing and restores the mode, also after an exception', () => {
    const x = tensor([1], undefined, { requiresGrad: true });
    const y = noGrad(() => {
      expect(isGradEnabled()).toBe(false);
      return mul(x, 2);
    });
    expect(y.requiresGrad).toBe(false);
    expect(isGradEnabled()).toBe(true);
    expect(() =>
      noGrad(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(isGradEnabled()).toBe(true);
  });

  it('async noGrad keeps recording off until the promise settles', async () => {
    const x = tensor([1], undefined, { requiresGrad: true });
    const y = await noGrad(async () => {
      await Promise.resolve();
      return mul(x, 2);
    });
    expect(y.requiresGrad).toBe(false);
    expect(isGradEnabled()).toBe(true);
  });

  it('detects a saved tensor modified in place before backward', () => {
    const x = tensor([1, 2], undefined, { requiresGrad: true });
    const w = tensor([3, 4], undefined, { requiresGrad: true });
    const y = tidy(() => mul(x, w).sum());
    noGrad(() => w.add_(1));
    expect(() => y.backward()).toThrow(/modified in place/);
  });

  it('refuses in-place updates of tensors that require grad unless inside noGrad', () => {
    const w = tensor([1, 2], undefined, { requiresGrad: true });
    expect(() => w.add_(1)).toThrow(AutogradError);
    expect(() => w.dense({ write: true })).toThrow(AutogradError);
    noGrad(() => w.sub_(tensor([1, 1]), 0.5));
    expect(arr(w)).toEqual([0.5, 1.5]);
  });

  it('requiresGrad_ only on f32 leaves', () => {
    const x = tensor([1], undefined, { requiresGrad: true });
    const y = mul(x, 2);
    expect(() => y.requiresGrad_()).toThrow(AutogradError);
    expect(() => tensor([1], undefined, 'i32').requiresGrad_()).toThrow(AutogradError);
  });

  it('handles long chains without recursion limits', () => {
    const x = tensor([1], undefined, { requiresGrad: true });
    const before = memory().numTensors;
    const y = tidy(() => {
      let h: Tensor = x;
      for (let i = 0; i < 5000; i++) h = add(h, 1);
      return h.sum();
    });
    y.backward();
    expect(arr(x.grad)).toEqual([1]);
    y.dispose();
    expect(memory().numTensors).toBe(before + 1); // + x.grad
  });

  it('frees the whole graph (saved tensors included) when its output is disposed without backward', () => {
    const x = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
    const w = ones([2, 2], { requiresGrad: true });
    const base = memory();
    const y = tidy(() => x.matmul(w).exp().softmax().mul(x).sum());
    expect(memory().numTensors).toBeGreaterThan(base.numTensors + 1);
    y.dispose();
    expect(memory()).toEqual(base);
  });

  it('frees saved tensors after backward; only the gradients remain', () => {
    const x = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
    const w = ones([2, 2], { requiresGrad: true });
    const base = memory().numTensors;
    const y = tidy(() => x.matmul(w).tanh().sum());
    y.backward();
    expect(memory().numTensors).toBe(base + 3); // y, x.grad, w.grad
    y.dispose();
    x.dispose();
    w.dispose();
    expect(memory().numTensors).toBe(base - 2);
  });

  it('accepts a user-set grad and owns it', () => {
    const x = zeros([2], { requiresGrad: true });
    x.grad = onesLike(x);
    tidy(() => sum(mul(x, 2))).backward();
    expect(arr(x.grad)).toEqual([3, 3]);
    expect(() => (x.grad = ones([3]))).toThrow(/does not fit/);
  });
});

describe('flat parameter buffers', () => {
  it('leaf views of one buffer with preset .grad views collect every gradient in one flat block', () => {
    const P = tensor([1, 2, 3, 4, 5, 6, 7]);
    const G = zeros([7]);
    const w = P.narrow(0, 0, 6).view([2, 3]).detach().requiresGrad_();
    const b = P.narrow(0, 6, 1).detach().requiresGrad_();
    w.grad = G.narrow(0, 0, 6).view([2, 3]);
    b.grad = G.narrow(0, 6, 1);
    const x = tensor([[1], [10]]);
    for (let i = 0; i < 2; i++) tidy(() => add(mul(w, x), b).sum()).backward();
    expect(arr(G)).toEqual([2, 2, 2, 20, 20, 20, 12]);
    // One in-place step over the whole block updates every parameter view.
    noGrad(() => P.sub_(G, 0.5));
    expect(arr(w)).toEqual([0, 1, 2, -6, -5, -4]);
    expect(arr(b)).toEqual([1]);
    zeroGrad([w, b], false);
    expect(arr(G)).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('in-place updates', () => {
  it('add_/sub_/mul_/div_/fill_/zero_/assign', () => {
    const t = tensor([1, 2, 3, 4], [2, 2]);
    t.add_(tensor([10, 20]));
    expect(arr(t)).toEqual([11, 22, 13, 24]);
    t.sub_(1, 2);
    expect(arr(t)).toEqual([9, 20, 11, 22]);
    t.mul_(2).div_(tensor([[2], [1]]));
    expect(arr(t)).toEqual([9, 20, 22, 44]);
    t.assign(tensor([5, 6]));
    expect(arr(t)).toEqual([5, 6, 5, 6]);
    t.fill_(7);
    expect(arr(t)).toEqual([7, 7, 7, 7]);
    t.zero_();
    expect(arr(t)).toEqual([0, 0, 0, 0]);
  });

  it('writes through non-contiguous views into the shared storage', () => {
    const t = zeros([3, 4]);
    t.slice([[0, 3], [1, 4, 2]]).assign(tensor([1, 2, 3], [3, 1]));
    expect(arr(t)).toEqual([0, 1, 0, 1, 0, 2, 0, 2, 0, 3, 0, 3]);
    t.transpose(0, 1).add_(tensor([1, 1, 1]));
    expect(arr(t)).toEqual([1, 2, 1, 2, 1, 3, 1, 3, 1, 4, 1, 4]);
    t.narrow(0, 1, 1).fill_(9);
    expect(arr(t)).toEqual([1, 2, 1, 2, 9, 9, 9, 9, 1, 4, 1, 4]);
  });

  it('handles an overlapping source (x.add_(x.T))', () => {
    const t = tensor([[1, 2], [3, 4]]);
    t.add_(t.transpose(0, 1));
    expect(arr(t)).toEqual([2, 5, 5, 8]);
  });
});
