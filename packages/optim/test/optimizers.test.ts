/**
 * Each optimizer against an independent float64 implementation of its
 * published update rule (PyTorch's), written here without calling the
 * package: 20 steps over parameters of 1, 3, 17, 129 ([3, 43]) and 35 ([5, 7])
 * elements in several param groups with different options, some parameters
 * skipping steps (grad = null). Gradients are the same f32 values on both
 * sides; the reference keeps everything in float64 for all 20 steps.
 *
 * Tolerance 1e-6, relative:
 * - parameters: |ours - ref| / max(|ref|, 1). Parameters start with
 *   magnitudes in [0.5, 1.5], so this is the plain relative error except for
 *   an entry the updates carry towards zero, where it becomes an absolute 1e-6.
 * - state buffers (moments, sums): |ours - ref| relative to the buffer's
 *   largest magnitude, since running means of random-sign gradients pass
 *   through zero.
 * Most of the difference is the parameter being stored in f32 after every
 * step (up to 20 half-ulp roundings) — any f32 implementation has it.
 */

import { describe, expect, it, beforeAll } from 'vitest';
import { tensor, type Tensor } from '@tessera/tensor';
import { AdaGrad, Adam, AdamW, RMSProp, SGD, type Optimizer } from '../src/index.js';
import { BACKENDS, backendAvailable, maxRelError, param, rng, uniform, useBackend, values } from './helpers.js';

const SHAPES = [[1], [3], [17], [3, 43], [5, 7]];
const STEPS = 20;
const TOL = 1e-6;
const FLOOR = 1;

/** Steps on which a parameter gets no gradient (it must be skipped, state untouched). */
const SKIPS: Record<number, number[]> = { 1: [0, 1], 2: [4, 9], 4: [13] };

type Opts = Record<string, number | boolean | number[]>;

/** Float64 state of one parameter in the reference. */
interface RefState {
  step: number;
  buf: Record<string, Float64Array>;
}

type RefRule = (p: Float64Array, g: Float64Array, s: RefState, o: Opts) => void;

function buffer(s: RefState, name: string, n: number, init = 0): Float64Array {
  s.buf[name] ??= new Float64Array(n).fill(init);
  return s.buf[name];
}

// ---- the published rules, float64 ----

/** torch.optim.SGD: the momentum buffer is the first (decayed) gradient itself. */
const sgdRule: RefRule = (p, g, s, o) => {
  const lr = o.lr as number, mom = o.momentum as number, damp = o.dampening as number, wd = o.weightDecay as number;
  const first = s.buf.momentumBuffer === undefined;
  const buf = mom !== 0 ? buffer(s, 'momentumBuffer', p.length) : null;
  s.step++;
  for (let i = 0; i < p.length; i++) {
    let d = g[i] + wd * p[i];
    if (buf) {
      buf[i] = first ? d : mom * buf[i] + (1 - damp) * d;
      d = o.nesterov ? d + mom * buf[i] : buf[i];
    }
    p[i] -= lr * d;
  }
};

/** torch.optim.Adam (decoupled = false) and torch.optim.AdamW (decoupled = true). */
function adamRule(decoupled: boolean): RefRule {
  return (p, g, s, o) => {
    const lr = o.lr as number, [b1, b2] = o.betas as number[], eps = o.eps as number, wd = o.weightDecay as number;
    const m = buffer(s, 'expAvg', p.length);
    const v = buffer(s, 'expAvgSq', p.length);
    const vmax = o.amsgrad ? buffer(s, 'maxExpAvgSq', p.length) : null;
    const t = ++s.step;
    const bc1 = 1 - b1 ** t;
    const bc2 = 1 - b2 ** t;
    for (let i = 0; i < p.length; i++) {
      let gi = g[i];
      if (decoupled) p[i] *= 1 - lr * wd;
      else gi += wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      let vv = v[i];
      if (vmax) vv = vmax[i] = Math.max(vmax[i], v[i]);
      const denom = Math.sqrt(vv) / Math.sqrt(bc2) + eps;
      p[i] -= ((lr / bc1) * m[i]) / denom;
    }
  };
}

/** torch.optim.Adagrad. */
const adagradRule: RefRule = (p, g, s, o) => {
  const lr = o.lr as number, wd = o.weightDecay as number, eps = o.eps as number;
  const sum = buffer(s, 'sum', p.length, o.initialAccumulatorValue as number);
  const t = ++s.step;
  const clr = lr / (1 + (t - 1) * (o.lrDecay as number));
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] + wd * p[i];
    sum[i] += gi * gi;
    p[i] -= (clr * gi) / (Math.sqrt(sum[i]) + eps);
  }
};

/** torch.optim.RMSprop. */
const rmspropRule: RefRule = (p, g, s, o) => {
  const lr = o.lr as number, alpha = o.alpha as number, eps = o.eps as number, wd = o.weightDecay as number, mom = o.momentum as number;
  const sq = buffer(s, 'squareAvg', p.length);
  const ga = o.centered ? buffer(s, 'gradAvg', p.length) : null;
  const buf = mom > 0 ? buffer(s, 'momentumBuffer', p.length) : null;
  s.step++;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i] + wd * p[i];
    sq[i] = alpha * sq[i] + (1 - alpha) * gi * gi;
    let avg: number;
    if (ga) {
      ga[i] = alpha * ga[i] + (1 - alpha) * gi;
      avg = Math.sqrt(sq[i] - ga[i] * ga[i]) + eps;
    } else avg = Math.sqrt(sq[i]) + eps;
    if (buf) {
      buf[i] = mom * buf[i] + gi / avg;
      p[i] -= lr * buf[i];
    } else p[i] -= (lr * gi) / avg;
  }
};

interface Case {
  name: string;
  /** Full options every group starts from (passed as the constructor's options). */
  base: Opts;
  /** Param indices and option overrides per group. */
  groups: { params: number[]; options: Opts }[];
  make: (groups: { params: Tensor[] }[], base: Opts) => Optimizer<never>;
  rule: RefRule;
}

const CASES: Case[] = [
  {
    name: 'SGD',
    base: { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: true },
    groups: [
      { params: [0, 2], options: {} },
      { params: [1, 3], options: { lr: 0.1, momentum: 0, nesterov: false, weightDecay: 0 } },
      { params: [4], options: { lr: 0.02, momentum: 0.8, dampening: 0.1, nesterov: false, weightDecay: 0.005 } },
    ],
    make: (g, b) => new SGD(g as never, b) as never,
    rule: sgdRule,
  },
  {
    name: 'Adam',
    base: { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false },
    groups: [
      { params: [0, 2], options: {} },
      { params: [1, 3], options: { lr: 0.05, weightDecay: 0.01, amsgrad: true } },
      { params: [4], options: { lr: 0.02, betas: [0.8, 0.99], eps: 1e-6 } },
    ],
    make: (g, b) => new Adam(g as never, b) as never,
    rule: adamRule(false),
  },
  {
    name: 'AdamW',
    base: { lr: 0.01, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01, amsgrad: false },
    groups: [
      { params: [0, 2], options: {} },
      { params: [1, 3], options: { lr: 0.05, weightDecay: 0.1, amsgrad: true } },
      { params: [4], options: { lr: 0.02, betas: [0.5, 0.9], weightDecay: 0 } },
    ],
    make: (g, b) => new AdamW(g as never, b) as never,
    rule: adamRule(true),
  },
  {
    name: 'AdaGrad',
    base: { lr: 0.1, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 },
    groups: [
      { params: [0, 2], options: {} },
      { params: [1, 3], options: { lr: 0.05, lrDecay: 0.01, weightDecay: 0.01, initialAccumulatorValue: 0.1 } },
      { params: [4], options: { lr: 0.2, eps: 1e-6 } },
    ],
    make: (g, b) => new AdaGrad(g as never, b) as never,
    rule: adagradRule,
  },
  {
    name: 'RMSProp',
    base: { lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false },
    groups: [
      { params: [0], options: {} },
      { params: [1, 3], options: { lr: 0.005, momentum: 0.9, centered: true, weightDecay: 0.01 } },
      { params: [2], options: { momentum: 0.5 } },
      { params: [4], options: { alpha: 0.9, centered: true, eps: 1e-6 } },
    ],
    make: (g, b) => new RMSProp(g as never, b) as never,
    rule: rmspropRule,
  },
];

/** Starting values of parameter `i`: magnitudes in [0.5, 1.5], random signs. */
function initial(i: number, n: number): Float32Array {
  return uniform(rng(i + 1), n).map((v) => (v < 0 ? v - 0.5 : v + 0.5));
}

/** The f32 gradient of parameter `i` at step `t` (null on skipped steps); magnitudes vary per parameter. */
function gradient(i: number, t: number, n: number): Float32Array | null {
  if (SKIPS[i]?.includes(t)) return null;
  const scale = [1, 0.01, 3, 0.3, 10][i];
  return uniform(rng(1000 * t + i + 7), n, -scale, scale);
}

for (const backend of BACKENDS)
  describe.skipIf(!backendAvailable(backend))(`optimizers vs float64 reference rules (${backend} backend)`, () => {
    beforeAll(() => useBackend(backend));

    for (const c of CASES) {
      it(`${c.name}: 20 steps, ${c.groups.length} param groups, skipped grads`, () => {
        const init = SHAPES.map((s, i) => initial(i, s.reduce((a, b) => a * b, 1)));
        const params = SHAPES.map((s, i) => param(init[i], s));
        const opt = c.make(
          c.groups.map((g) => ({ params: g.params.map((i) => params[i]), ...g.options })),
          c.base,
        );
        const ref = init.map((v) => Float64Array.from(v));
        const refState: RefState[] = init.map(() => ({ step: 0, buf: {} }));
        const optsOf = (i: number): Opts => {
          const g = c.groups.find((gr) => gr.params.includes(i))!;
          return { ...c.base, ...g.options };
        };
        for (let t = 0; t < STEPS; t++) {
          params.forEach((p, i) => {
            const g = gradient(i, t, p.size);
            p.grad = g === null ? null : tensor(g, p.shape);
            if (g === null) return;
            c.rule(ref[i], Float64Array.from(g), refState[i], optsOf(i));
          });
          opt.step();
        }
        params.forEach((p, i) => {
          const err = maxRelError(values(p), ref[i], FLOOR);
          expect(err, `${c.name} parameter ${i} of shape [${p.shape}]`).toBeLessThanOrEqual(TOL);
        });
        // The optimizer's state agrees with the reference's too (step counts exactly).
        const sd = opt.stateDictSync();
        // State ids follow the optimizer's flat order: group by group.
        const order = c.groups.flatMap((g) => g.params);
        order.forEach((i, id) => {
          const s = sd.state[id]!;
          expect(s.step).toBe(refState[i].step);
          expect(Object.keys(s.buffers).sort()).toEqual(Object.keys(refState[i].buf).sort());
          for (const [name, data] of Object.entries(s.buffers)) {
            const r = refState[i].buf[name];
            const scale = r.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
            expect(maxRelError(data, r, scale), `${c.name} buffer ${name} of parameter ${i}`).toBeLessThanOrEqual(TOL);
          }
        });
        opt.dispose();
        params.forEach((p) => p.dispose());
      });
    }
  });
