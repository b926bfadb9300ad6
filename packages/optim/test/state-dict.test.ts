/**
 * Checkpoints: 5 steps, save (optimizer + scheduler, through JSON), a fresh
 * optimizer over fresh parameters loads it, 5 more steps — bit-identical to
 * 10 uninterrupted steps. Plus every way a state dict can fail to fit.
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { ArgumentError, ShapeError } from '@tessera/core';
import { tensor, type Tensor } from '@tessera/tensor';
import {
  AdaGrad,
  Adam,
  AdamW,
  CosineAnnealingLR,
  RMSProp,
  SGD,
  type Optimizer,
  type OptimizerStateDict,
  type SchedulerStateDict,
} from '../src/index.js';
import { BACKENDS, backendAvailable, bits, param, rng, uniform, useBackend, values } from './helpers.js';

const SHAPES = [[1], [3], [17], [3, 43]];

type Make = (params: Tensor[]) => Optimizer<never>;

const MAKERS: [string, Make][] = [
  ['SGD', (p) => new SGD([{ params: [p[0], p[1]] }, { params: [p[2], p[3]], momentum: 0.9, nesterov: true }], { lr: 0.05, momentum: 0.5, weightDecay: 0.01 }) as never],
  ['Adam', (p) => new Adam([{ params: [p[0], p[1]], amsgrad: true }, { params: [p[2], p[3]] }], { lr: 0.01, weightDecay: 0.01 }) as never],
  ['AdamW', (p) => new AdamW([{ params: [p[0], p[2]] }, { params: [p[1], p[3]], weightDecay: 0 }], { lr: 0.01, betas: [0.8, 0.95] }) as never],
  ['AdaGrad', (p) => new AdaGrad([{ params: [p[0], p[1]] }, { params: [p[2], p[3]], lrDecay: 0.1, initialAccumulatorValue: 0.1 }], { lr: 0.1 }) as never],
  ['RMSProp', (p) => new RMSProp([{ params: [p[0], p[1]], centered: true }, { params: [p[2], p[3]], momentum: 0.9 }], { lr: 0.01 }) as never],
];

const initial = (): Float32Array[] => SHAPES.map((s, i) => uniform(rng(50 + i), s.reduce((a, b) => a * b, 1)));

/** Deterministic gradients for step t; parameter 1 skips step 2, so its step count lags. */
function setGrads(params: Tensor[], t: number): void {
  params.forEach((p, i) => {
    p.grad = i === 1 && t === 2 ? null : tensor(uniform(rng(900 + 10 * t + i), p.size), p.shape);
  });
}

/** A JSON round trip, the way a checkpoint file would store it. */
function throughJson<T>(x: T): T {
  return JSON.parse(JSON.stringify(x, (_k, v: unknown) => (v instanceof Float32Array ? Array.from(v) : v))) as T;
}

for (const backend of BACKENDS)
  describe.skipIf(!backendAvailable(backend))(`state dict round trip (${backend} backend)`, () => {
    beforeAll(() => useBackend(backend));

    for (const [name, make] of MAKERS) {
      it(`${name}: 5 + save/load + 5 steps == 10 steps, bit-exactly (with a scheduler)`, () => {
        const straight = initial().map((v, i) => param(v, SHAPES[i]));
        const opt = make(straight);
        const sched = new CosineAnnealingLR(opt as never, { tMax: 7, etaMin: 1e-4 });
        for (let t = 0; t < 10; t++) {
          setGrads(straight, t);
          opt.step();
          sched.step();
        }

        const first = initial().map((v, i) => param(v, SHAPES[i]));
        const optA = make(first);
        const schedA = new CosineAnnealingLR(optA as never, { tMax: 7, etaMin: 1e-4 });
        for (let t = 0; t < 5; t++) {
          setGrads(first, t);
          optA.step();
          schedA.step();
        }
        const checkpoint = throughJson({
          params: first.map((p) => Array.from(values(p))),
          optimizer: optA.stateDictSync(),
          scheduler: schedA.stateDict(),
        }) as { params: number[][]; optimizer: OptimizerStateDict; scheduler: SchedulerStateDict };
        optA.dispose();

        const resumed = checkpoint.params.map((v, i) => param(Float32Array.from(v), SHAPES[i]));
        const optB = make(resumed);
        const schedB = new CosineAnnealingLR(optB as never, { tMax: 7, etaMin: 1e-4 });
        optB.loadStateDict(checkpoint.optimizer);
        schedB.loadStateDict(checkpoint.scheduler);
        for (let t = 5; t < 10; t++) {
          setGrads(resumed, t);
          optB.step();
          schedB.step();
        }

        resumed.forEach((p, i) => expect(bits(values(p)), `parameter ${i}`).toEqual(bits(values(straight[i]))));
        const a = opt.stateDictSync();
        const b = optB.stateDictSync();
        expect(b.paramGroups).toEqual(a.paramGroups);
        b.state.forEach((s, i) => {
          expect(s!.step).toBe(a.state[i]!.step);
          for (const [k, buf] of Object.entries(s!.buffers)) expect(bits(buf as Float32Array), `buffer ${k} of parameter ${i}`).toEqual(bits(a.state[i]!.buffers[k] as Float32Array));
        });
        expect(schedB.getLastLr()).toEqual(sched.getLastLr());
        for (const t of [...straight, ...first, ...resumed]) t.dispose();
        opt.dispose();
        optB.dispose();
      });
    }

    it('stateDict (async), stateDictSync and the deprecated stateDictAsync agree', async () => {
      const ps = initial().map((v, i) => param(v, SHAPES[i]));
      const opt = new AdamW(ps, { amsgrad: true });
      setGrads(ps, 0);
      opt.step();
      expect(await opt.stateDict()).toEqual(opt.stateDictSync());
      expect(await opt.stateDictAsync()).toEqual(opt.stateDictSync());
      opt.dispose();
      ps.forEach((p) => p.dispose());
    });
  });

describe('state dicts that do not fit (reference backend)', () => {
  beforeAll(() => useBackend('reference'));

  function trained(): { ps: Tensor[]; opt: Adam; sd: OptimizerStateDict } {
    const ps = initial().map((v, i) => param(v, SHAPES[i]));
    const opt = new Adam([{ params: [ps[0], ps[1]] }, { params: [ps[2], ps[3]] }], { amsgrad: true });
    setGrads(ps, 0);
    opt.step();
    return { ps, opt, sd: opt.stateDictSync() };
  }

  it('refuses a different optimizer class', () => {
    const { ps, sd } = trained();
    const sgd = new SGD([{ params: [ps[0], ps[1]] }, { params: [ps[2], ps[3]] }]);
    expect(() => sgd.loadStateDict(sd)).toThrow(ArgumentError);
    expect(() => sgd.loadStateDict(sd)).toThrow(/saved by 'Adam', not 'SGD'/);
  });

  it('refuses a different number of groups or parameters', () => {
    const { ps, sd } = trained();
    const oneGroup = new Adam(ps);
    expect(() => oneGroup.loadStateDict(sd)).toThrow(/has 2 param groups, this optimizer has 1/);
    const fewer = new Adam([{ params: [ps[0]] }, { params: [ps[2], ps[3]] }]);
    expect(() => fewer.loadStateDict(sd)).toThrow(ArgumentError);
    expect(() => fewer.loadStateDict(sd)).toThrow(/param group 0 has 2 parameters in the state dict, 1 here/);
  });

  it('refuses parameters of other shapes, naming both', () => {
    const { sd } = trained();
    const other = [param(new Float32Array(1), [1]), param(new Float32Array(3), [3]), param(new Float32Array(17), [17]), param(new Float32Array(129), [43, 3])];
    const opt = new Adam([{ params: [other[0], other[1]] }, { params: [other[2], other[3]] }]);
    expect(() => opt.loadStateDict(sd)).toThrow(ShapeError);
    expect(() => opt.loadStateDict(sd)).toThrow(/shape \[3, 43\], the parameter has shape \[43, 3\]/);
  });

  it('refuses buffers of the wrong length, unknown buffers, bad steps and bad options', () => {
    const { ps, opt, sd } = trained();
    const fresh = (): OptimizerStateDict => structuredClone(sd);
    const short = fresh();
    short.state[2]!.buffers.expAvg = new Float32Array(5);
    expect(() => opt.loadStateDict(short)).toThrow(ShapeError);
    expect(() => opt.loadStateDict(short)).toThrow(/buffer 'expAvg' of parameter 2 has 5 values/);
    const unknown = fresh();
    unknown.state[0]!.buffers.momentumBuffer = new Float32Array(1);
    expect(() => opt.loadStateDict(unknown)).toThrow(/unknown buffer 'momentumBuffer'/);
    const badStep = fresh();
    badStep.state[0]!.step = -1;
    expect(() => opt.loadStateDict(badStep)).toThrow(/step -1/);
    const badLr = fresh();
    badLr.paramGroups[1].options.lr = -0.5;
    expect(() => opt.loadStateDict(badLr)).toThrow(/lr must be a finite number >= 0, got -0.5/);
    // A refused load changes nothing.
    expect(opt.stateDictSync()).toEqual(sd);
    ps.forEach((p) => p.dispose());
  });
});
