/**
 * setMask: masked parameters stay exactly zero under every rule (their gradients and state
 * are zeroed there), unmasked entries update exactly as without a mask, loadStateDict
 * re-applies masks to loaded moments, and every misuse is a typed error.
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { withoutFusedKernels } from '@tessera/core';
import { ArgumentError, DisposedError, ShapeError } from '@tessera/core';
import { getBackend, setBackend, tensor, type Tensor } from '@tessera/tensor';
import { AdaGrad, Adam, AdamW, RMSProp, SGD, type BaseOptions, type Optimizer } from '../src/index.js';
import { param, useBackend, values } from './helpers.js';

beforeAll(() => useBackend('wasm'));

const INIT = [0.5, -1.5, 2, 0.25, -0.75, 1];
const MASK = [1, 0, 1, 0, 1, 1];
const GRADS = [
  [0.3, -0.2, 0.1, 0.5, -0.4, 0.2],
  [-0.1, 0.6, 0.2, -0.3, 0.1, 0.05],
  [0.2, 0.1, -0.5, 0.4, 0.3, -0.2],
];

const makers: [string, (p: Tensor[]) => Optimizer<BaseOptions>][] = [
  ['SGD momentum + nesterov + decay', (p) => new SGD(p, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.05 })],
  ['Adam L2 decay + amsgrad', (p) => new Adam(p, { lr: 0.05, weightDecay: 0.1, amsgrad: true })],
  ['AdamW', (p) => new AdamW(p, { lr: 0.05, weightDecay: 0.2 })],
  ['AdaGrad', (p) => new AdaGrad(p, { lr: 0.1 })],
  ['RMSProp', (p) => new RMSProp(p, { lr: 0.01 })],
];

/** Runs 3 steps (with a mask or not) and returns the values. */
function trajectory(make: (p: Tensor[]) => Optimizer<BaseOptions>, masked: boolean): number[] {
  const p = param(new Float32Array(INIT), [2, 3]);
  const opt = make([p]);
  if (masked) opt.setMask(p, tensor(MASK, [2, 3]));
  for (const g of GRADS) {
    p.grad = tensor(g, [2, 3]);
    opt.step();
  }
  const out = Array.from(values(p));
  opt.dispose();
  return out;
}

describe('Optimizer.setMask', () => {
  for (const path of ['fused', 'composed'] as const) {
    for (const [name, make] of makers) {
      it(`${name} (${path}): masked entries are exactly 0, the others equal the unmasked run`, async () => {
        const base = getBackend();
        if (path === 'composed') await setBackend(withoutFusedKernels(base));
        try {
          const free = trajectory(make, false);
          const masked = trajectory(make, true);
          masked.forEach((v, i) => {
            if (MASK[i] === 0) {
              expect(Object.is(v, 0) || Object.is(v, -0), `entry ${i}`).toBe(true);
              expect(free[i], `entry ${i} moves without the mask`).not.toBe(0);
            }
            else expect(v, `entry ${i}`).toBe(free[i]);
          });
        } finally {
          await setBackend(base);
        }
      });
    }
  }

  it('zeroes existing state and re-applies masks to a loaded state dict; null removes the mask', () => {
    const p = param(new Float32Array(INIT), [6]);
    const opt = new Adam([p], { lr: 0.1 });
    p.grad = tensor(GRADS[0], [6]);
    opt.step();
    const sd = opt.stateDictSync();
    opt.setMask(p, tensor(MASK, [6]));
    const m = (): number[] => Array.from(opt.stateDictSync().state[0]!.buffers.expAvg as Float32Array);
    MASK.forEach((k, i) => k === 0 && expect(Math.abs(m()[i])).toBe(0));
    opt.loadStateDict(sd);
    MASK.forEach((k, i) => k === 0 && expect(Math.abs(m()[i])).toBe(0));
    expect(opt.maskOf(p)).not.toBeNull();
    opt.setMask(p, null);
    expect(opt.maskOf(p)).toBeNull();
    p.grad = tensor(GRADS[1], [6]);
    opt.step();
    expect(values(p)[1]).not.toBe(0);
    opt.dispose();
  });

  it('refuses a tensor that is not a parameter, a mis-shaped, i32 or disposed mask, and a disposed optimizer', () => {
    const p = param(new Float32Array(INIT), [6]);
    const opt = new SGD([p], { lr: 0.1 });
    expect(() => opt.setMask(param(new Float32Array(6), [6]), tensor(MASK, [6]))).toThrow(/is not one of this optimizer's parameters/);
    expect(() => opt.setMask(p, tensor(MASK, [2, 3]))).toThrow(ShapeError);
    expect(() => opt.setMask(p, tensor(MASK, [2, 3]))).toThrow(/mask \[2, 3\] must have the parameter's shape \[6\]/);
    expect(() => opt.setMask(p, tensor(MASK, [6], 'i32'))).toThrow(/mask must be f32/);
    const gone = tensor(MASK, [6]);
    gone.dispose();
    expect(() => opt.setMask(p, gone)).toThrow(DisposedError);
    expect(() => opt.setMask(p, [1, 0] as never)).toThrow(ArgumentError);
    opt.dispose();
    expect(() => opt.setMask(p, tensor(MASK, [6]))).toThrow(DisposedError);
  });
});
