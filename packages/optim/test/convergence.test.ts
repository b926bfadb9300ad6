/**
 * Convergence through the whole stack (tensor ops, autograd, optimizer):
 * every optimizer minimises a convex quadratic, and Adam, AdamW and SGD with
 * momentum find the Rosenbrock minimum (1, 1). Wasm backend.
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { tensor, tidy, type Tensor } from '@tessera/tensor';
import { AdaGrad, Adam, AdamW, ExponentialLR, RMSProp, SGD, type BaseOptions, type LRScheduler, type Optimizer } from '../src/index.js';
import { liveTensors, param, rng, uniform, useBackend, values } from './helpers.js';

beforeAll(() => useBackend('wasm'));

/** Runs `steps` of minimise-`loss`, with an optional scheduler stepped after each update. */
function train(opt: Optimizer<BaseOptions>, loss: () => Tensor, steps: number, sched?: LRScheduler): number {
  let last = NaN;
  for (let i = 0; i < steps; i++) {
    const l = tidy(() => {
      const v = loss();
      v.backward();
      return v;
    });
    last = l.itemSync();
    l.dispose();
    opt.step();
    opt.zeroGrad();
    sched?.step();
  }
  return last;
}

describe('convex quadratic: f(x) = sum a * (x - c)^2 with curvatures a in [0.5, 2]', () => {
  const n = 17;
  const r = rng(3);
  const a = uniform(r, n, 0.5, 2);
  const c = uniform(r, n, -2, 2);

  const cases: [string, (x: Tensor) => { opt: Optimizer<BaseOptions>; sched?: (o: Optimizer<BaseOptions>) => LRScheduler }, number][] = [
    ['SGD', (x) => ({ opt: new SGD([x], { lr: 0.2 }) }), 200],
    ['SGD + Nesterov momentum', (x) => ({ opt: new SGD([x], { lr: 0.05, momentum: 0.9, nesterov: true }) }), 300],
    ['Adam', (x) => ({ opt: new Adam([x], { lr: 0.05 }), sched: (o) => new ExponentialLR(o, { gamma: 0.99 }) }), 600],
    ['AdamW (weightDecay 0)', (x) => ({ opt: new AdamW([x], { lr: 0.05, weightDecay: 0 }), sched: (o) => new ExponentialLR(o, { gamma: 0.99 }) }), 600],
    ['AdaGrad', (x) => ({ opt: new AdaGrad([x], { lr: 0.5 }) }), 600],
    ['RMSProp', (x) => ({ opt: new RMSProp([x], { lr: 0.05 }), sched: (o) => new ExponentialLR(o, { gamma: 0.99 }) }), 600],
    ['RMSProp centered + momentum', (x) => ({ opt: new RMSProp([x], { lr: 0.02, momentum: 0.5, centered: true }), sched: (o) => new ExponentialLR(o, { gamma: 0.99 }) }), 600],
  ];

  for (const [name, make, steps] of cases) {
    it(`${name} reaches the minimum within 1e-2`, () => {
      const before = liveTensors();
      const x = param(new Float32Array(n), [n]);
      const A = tensor(a);
      const C = tensor(c);
      const { opt, sched } = make(x);
      const f = train(opt, () => x.sub(C).square().mul(A).sum(), steps, sched?.(opt));
      const xs = values(x);
      for (let i = 0; i < n; i++) expect(Math.abs(xs[i] - c[i]), `x[${i}]`).toBeLessThan(1e-2);
      expect(f).toBeLessThan(1e-3);
      opt.dispose();
      for (const t of [x, A, C]) t.dispose();
      // A training loop leaves nothing behind.
      expect(liveTensors()).toBe(before);
    });
  }
});

describe('Rosenbrock: f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 from (-1.5, 2)', () => {
  const rosenbrock = (p: Tensor): Tensor => {
    const [x, y] = p.split(1);
    return x.neg().add(1).square().add(y.sub(x.square()).square().mul(100)).sum();
  };

  const cases: [string, (p: Tensor) => Optimizer<BaseOptions>, number][] = [
    ['Adam', (p) => new Adam([p], { lr: 0.02 }), 2500],
    ['AdamW', (p) => new AdamW([p], { lr: 0.02, weightDecay: 0 }), 2500],
    ['SGD + momentum', (p) => new SGD([p], { lr: 2e-4, momentum: 0.9 }), 6000],
  ];

  for (const [name, make, steps] of cases) {
    it(`${name} gets within 2e-2 of (1, 1)`, () => {
      const p = param(new Float32Array([-1.5, 2]), [2]);
      const opt = make(p);
      const f = train(opt, () => rosenbrock(p), steps);
      const [x, y] = values(p);
      expect(Math.abs(x - 1), `x = ${x}`).toBeLessThan(2e-2);
      expect(Math.abs(y - 1), `y = ${y}`).toBeLessThan(2e-2);
      expect(f).toBeLessThan(1e-3);
      opt.dispose();
      p.dispose();
    });
  }
});
