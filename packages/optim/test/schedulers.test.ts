/**
 * Every scheduler against its closed form, written here, at every step for
 * 100+ steps, on an optimizer with two groups of different base rates.
 * Tolerance 1e-12 relative (both sides are float64 formulas).
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { ArgumentError } from '@tessera/core';
import { type Tensor } from '@tessera/tensor';
import {
  Adam,
  ConstantLR,
  CosineAnnealingLR,
  ExponentialLR,
  LRScheduler,
  OneCycleLR,
  SGD,
  StepLR,
  WarmupCosineLR,
  type BaseOptions,
  type Optimizer,
} from '../src/index.js';
import { param, useBackend } from './helpers.js';

const BASE = [0.1, 0.03];

let ps: Tensor[];
beforeAll(async () => {
  await useBackend('reference');
  ps = [param(new Float32Array(2), [2]), param(new Float32Array(3), [3])];
});

function sgd(momentum = 0): SGD {
  return new SGD([{ params: [ps[0]], lr: BASE[0] }, { params: [ps[1]], lr: BASE[1] }], { momentum });
}

function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(b), 1e-12);
}

/** Steps `sched` `steps` times, checking getLastLr and the groups' lr against `expected(group, t)` at t = 0..steps. */
function follow(sched: LRScheduler, opt: Optimizer<BaseOptions>, steps: number, expected: (g: number, t: number) => number): void {
  for (let t = 0; t <= steps; t++) {
    if (t > 0) sched.step();
    expect(sched.lastEpoch).toBe(t);
    const last = sched.getLastLr();
    for (let g = 0; g < BASE.length; g++) {
      const want = expected(g, t);
      if (!close(last[g], want) || !close(opt.paramGroups[g].lr, want)) {
        expect.fail(`${sched.name} group ${g} step ${t}: got ${last[g]} (group lr ${opt.paramGroups[g].lr}), closed form ${want}`);
      }
    }
  }
}

describe('LR schedulers match their closed forms', () => {
  it('ConstantLR keeps the base rate by default, and applies factor for totalIters steps', () => {
    const a = sgd();
    follow(new ConstantLR(a), a, 120, (g) => BASE[g]);
    const b = sgd();
    follow(new ConstantLR(b, { factor: 0.25, totalIters: 10 }), b, 120, (g, t) => BASE[g] * (t < 10 ? 0.25 : 1));
  });

  it('StepLR: base * gamma^floor(t / stepSize)', () => {
    const o = sgd();
    follow(new StepLR(o, { stepSize: 7, gamma: 0.5 }), o, 120, (g, t) => BASE[g] * Math.pow(0.5, Math.floor(t / 7)));
    const d = sgd();
    follow(new StepLR(d, { stepSize: 30 }), d, 100, (g, t) => BASE[g] * Math.pow(0.1, Math.floor(t / 30)));
  });

  it('ExponentialLR: base * gamma^t', () => {
    const o = sgd();
    follow(new ExponentialLR(o, { gamma: 0.97 }), o, 150, (g, t) => BASE[g] * Math.pow(0.97, t));
  });

  it('CosineAnnealingLR: etaMin + (base - etaMin)(1 + cos(pi t / tMax)) / 2, continuing past tMax', () => {
    const o = sgd();
    const etaMin = 0.001;
    follow(new CosineAnnealingLR(o, { tMax: 50, etaMin }), o, 130, (g, t) => etaMin + (0.5 * (BASE[g] - etaMin)) * (1 + Math.cos((t / 50) * Math.PI)));
    expect(o.paramGroups[0].lr).toBeGreaterThan(etaMin); // t = 130: past the trough, rising again
  });

  it('WarmupCosineLR: linear warmup from step 0, cosine to minLr, then minLr', () => {
    const o = sgd();
    const [W, T, min] = [10, 100, 0.002];
    follow(new WarmupCosineLR(o, { warmupSteps: W, totalSteps: T, minLr: min }), o, 130, (g, t) => {
      if (t < W) return (BASE[g] * (t + 1)) / W;
      if (t >= T) return min;
      return min + 0.5 * (BASE[g] - min) * (1 + Math.cos((Math.PI * (t - W)) / (T - W)));
    });
    const noWarmup = sgd();
    follow(new WarmupCosineLR(noWarmup, { warmupSteps: 0, totalSteps: 100 }), noWarmup, 110, (g, t) => (t >= 100 ? 0 : 0.5 * BASE[g] * (1 + Math.cos((Math.PI * t) / 100))));
  });

  /** PyTorch's OneCycleLR schedule, re-derived: two phases ending at pct*T - 1 and T - 1. */
  function oneCycle(maxLr: number, T: number, pct: number, div: number, finalDiv: number, anneal: 'cos' | 'linear', t: number, from = 'lr'): number {
    const initial = maxLr / div;
    const low = initial / finalDiv;
    const a = (start: number, end: number, x: number): number => (anneal === 'cos' ? end + ((start - end) / 2) * (Math.cos(Math.PI * x) + 1) : start + (end - start) * x);
    const e1 = pct * T - 1;
    const e2 = T - 1;
    if (from === 'momentum') return t <= e1 ? a(0.95, 0.85, t / e1) : a(0.85, 0.95, (t - e1) / (e2 - e1));
    return t <= e1 ? a(initial, maxLr, t / e1) : a(maxLr, low, (t - e1) / (e2 - e1));
  }

  it('OneCycleLR (cos and linear, per-group maxLr) follows PyTorch, up to step totalSteps', () => {
    for (const anneal of ['cos', 'linear'] as const) {
      const o = sgd();
      const maxLr = [1, 0.4];
      const sched = new OneCycleLR(o, { maxLr, totalSteps: 150, pctStart: 0.3, anneal });
      follow(sched, o, 150, (g, t) => oneCycle(maxLr[g], 150, 0.3, 25, 1e4, anneal, t));
      expect(() => sched.step()).toThrow(ArgumentError);
      expect(() => sched.step()).toThrow(/tried to step 151 times; the schedule has totalSteps = 150/);
      expect(sched.lastEpoch).toBe(150);
    }
    const o = sgd();
    const sched = new OneCycleLR(o, { maxLr: 0.5, totalSteps: 120, pctStart: 0.25, divFactor: 10, finalDivFactor: 100 });
    // Hand values: starts at maxLr / divFactor, peaks at maxLr at step 29, ends at maxLr / 1000 at step 119.
    expect(o.paramGroups[0].lr).toBeCloseTo(0.05, 15);
    follow(sched, o, 119, (_g, t) => oneCycle(0.5, 120, 0.25, 10, 100, 'cos', t));
    expect(o.paramGroups[0].lr).toBeCloseTo(0.0005, 15);
  });

  it('OneCycleLR cycleMomentum writes momentum (SGD) and betas[0] (Adam) inversely to the lr', () => {
    const o = sgd(0.9);
    const s = new OneCycleLR(o, { maxLr: 1, totalSteps: 100, cycleMomentum: true });
    const adam = new Adam([ps[0]], { betas: [0.9, 0.98] });
    const sa = new OneCycleLR(adam, { maxLr: 1, totalSteps: 100, cycleMomentum: true });
    for (let t = 0; t <= 100; t++) {
      if (t > 0) {
        s.step();
        sa.step();
      }
      const want = oneCycle(1, 100, 0.3, 25, 1e4, 'cos', t, 'momentum');
      expect(close(o.paramGroups[1].momentum, want), `momentum at ${t}`).toBe(true);
      expect(close(adam.paramGroups[0].betas[0], want), `beta1 at ${t}`).toBe(true);
      expect(adam.paramGroups[0].betas[1]).toBe(0.98);
    }
  });

  it('resumes from a state dict exactly where it stopped', () => {
    const a = sgd();
    const sa = new WarmupCosineLR(a, { warmupSteps: 5, totalSteps: 60 });
    for (let t = 0; t < 37; t++) sa.step();
    const saved = JSON.parse(JSON.stringify(sa.stateDict()));
    const b = sgd();
    const sb = new WarmupCosineLR(b, { warmupSteps: 5, totalSteps: 60 });
    sb.loadStateDict(saved);
    expect(sb.lastEpoch).toBe(37);
    expect(b.paramGroups.map((g) => g.lr)).toEqual(a.paramGroups.map((g) => g.lr));
    for (let t = 0; t < 20; t++) {
      sa.step();
      sb.step();
      expect(sb.getLastLr()).toEqual(sa.getLastLr());
    }
  });
});

describe('scheduler errors', () => {
  it('rejects bad hyper-parameters, naming the value', () => {
    const o = sgd();
    expect(() => new StepLR(o, { stepSize: 0 })).toThrow(/stepSize must be an integer >= 1, got 0/);
    expect(() => new StepLR(o, { stepSize: 2.5 })).toThrow(ArgumentError);
    expect(() => new ExponentialLR(o, { gamma: -0.1 })).toThrow(/gamma must be a finite number in \[0, Infinity\], got -0.1/);
    expect(() => new ExponentialLR(o, { gamma: NaN })).toThrow(ArgumentError);
    expect(() => new CosineAnnealingLR(o, { tMax: 0 })).toThrow(/tMax must be an integer >= 1, got 0/);
    expect(() => new CosineAnnealingLR(o, { tMax: 10, etaMin: -1 })).toThrow(/etaMin/);
    expect(() => new ConstantLR(o, { factor: 1.5 })).toThrow(/factor must be a finite number in \[0, 1\], got 1.5/);
    expect(() => new ConstantLR(o, { totalIters: -1 })).toThrow(/totalIters/);
    expect(() => new WarmupCosineLR(o, { warmupSteps: 10, totalSteps: 10 })).toThrow(/totalSteps \(10\) must exceed warmupSteps \(10\)/);
    expect(() => new WarmupCosineLR(o, { warmupSteps: -1, totalSteps: 10 })).toThrow(/warmupSteps must be an integer >= 0, got -1/);
    expect(() => new OneCycleLR(o, { maxLr: [1], totalSteps: 100 })).toThrow(/one value per param group \(2\), got \[1\]/);
    expect(() => new OneCycleLR(o, { maxLr: 1, totalSteps: 0 })).toThrow(/totalSteps must be an integer >= 1, got 0/);
    expect(() => new OneCycleLR(o, { maxLr: 1, totalSteps: 100, pctStart: 1.2 })).toThrow(/pctStart/);
    expect(() => new OneCycleLR(o, { maxLr: 1, totalSteps: 3, pctStart: 0.3 })).toThrow(/leaves a phase with no steps/);
    expect(() => new OneCycleLR(o, { maxLr: 1, totalSteps: 100, anneal: 'step' as never })).toThrow(/anneal must be 'cos' or 'linear', got 'step'/);
    expect(() => new OneCycleLR(o, { maxLr: 1, totalSteps: 100, divFactor: 0 })).toThrow(/divFactor must be a finite number > 0, got 0/);
  });

  it('refuses a state dict from another scheduler or another group count', () => {
    const o = sgd();
    const s = new StepLR(o, { stepSize: 3 });
    const cos = new CosineAnnealingLR(sgd(), { tMax: 5 });
    expect(() => s.loadStateDict(cos.stateDict())).toThrow(/saved by 'CosineAnnealingLR', not 'StepLR'/);
    const single = new StepLR(new SGD([ps[0]]), { stepSize: 3 });
    expect(() => s.loadStateDict(single.stateDict())).toThrow(/baseLrs must hold 2 finite numbers/);
    expect(() => s.loadStateDict({ ...s.stateDict(), lastEpoch: -2 })).toThrow(/lastEpoch must be an integer >= 0, got -2/);
  });
});
