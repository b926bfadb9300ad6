/**
 * The Optimizer contract beyond the update rules: param groups, zeroGrad,
 * skipping parameters without gradients, mutable lr, memory ownership, and
 * every typed error.
 */

import { beforeAll, describe, expect, it } from 'vitest';
import { ArgumentError, DisposedError } from '@tessera/core';
import { AutogradError, noGrad, tensor, type Tensor } from '@tessera/tensor';
import { AdaGrad, Adam, AdamW, RMSProp, SGD } from '../src/index.js';
import { liveTensors, param, useBackend, values } from './helpers.js';

beforeAll(() => useBackend('wasm'));

const p3 = (): Tensor => param(new Float32Array([1, 2, 3]), [3]);

describe('optimizer behaviour', () => {
  it('zeroGrad drops gradients by default and zero-fills them with setToNone = false', () => {
    const p = p3();
    const opt = new SGD([p], { lr: 0.1 });
    p.grad = tensor([1, 1, 1]);
    opt.zeroGrad(false);
    expect(Array.from(values(p.grad!))).toEqual([0, 0, 0]);
    opt.zeroGrad();
    expect(p.grad).toBeNull();
  });

  it('skips parameters without a gradient: values and state untouched', () => {
    const [a, b] = [p3(), p3()];
    const opt = new Adam([a, b], { lr: 0.1 });
    a.grad = tensor([1, -1, 1]);
    opt.step();
    expect(Array.from(values(b))).toEqual([1, 2, 3]);
    const sd = opt.stateDictSync();
    expect(sd.state[0]!.step).toBe(1);
    expect(sd.state[1]).toBeNull();
  });

  it('reads each group lr at every step (schedulers and users write it)', () => {
    const p = p3();
    const opt = new SGD([p], { lr: 0.5 });
    p.grad = tensor([1, 1, 1]);
    opt.paramGroups[0].lr = 0;
    opt.step();
    expect(Array.from(values(p))).toEqual([1, 2, 3]);
    opt.paramGroups[0].lr = 1;
    opt.step();
    expect(Array.from(values(p))).toEqual([0, 1, 2]);
  });

  it('groups take their own options over the defaults; addParamGroup adds more', () => {
    const [a, b, c] = [p3(), p3(), p3()];
    const opt = new AdamW([{ params: [a] }, { params: [b], weightDecay: 0, lr: 0.5 }], { lr: 0.01, betas: [0.8, 0.9] });
    expect(opt.paramGroups[0]).toMatchObject({ lr: 0.01, betas: [0.8, 0.9], weightDecay: 0.01, eps: 1e-8, amsgrad: false });
    expect(opt.paramGroups[1]).toMatchObject({ lr: 0.5, betas: [0.8, 0.9], weightDecay: 0 });
    opt.addParamGroup({ params: [c], amsgrad: true });
    expect(opt.paramGroups[2]).toMatchObject({ lr: 0.01, amsgrad: true });
    expect(opt.defaults).toMatchObject({ lr: 0.01, weightDecay: 0.01 });
  });

  it('accepts any iterable of parameters (e.g. a generator)', () => {
    const ps = [p3(), p3()];
    function* gen(): Generator<Tensor> {
      yield* ps;
    }
    const opt = new RMSProp(gen());
    expect(opt.paramGroups[0].params).toEqual(ps);
  });

  it('updates parameters in place, so a graph saved before the step refuses to backward', () => {
    const p = p3();
    const opt = new SGD([p], { lr: 0.1 });
    const y = p.mul(p).sum();
    p.grad = tensor([1, 1, 1]);
    opt.step();
    expect(() => y.backward()).toThrow(AutogradError);
  });

  it('owns its state: dispose frees every buffer, and a loop allocates nothing that survives', () => {
    const before = liveTensors();
    const p = p3();
    const opts = [
      new SGD([p], { momentum: 0.9 }),
      new Adam([p], { amsgrad: true }),
      new AdamW([p]),
      new AdaGrad([p]),
      new RMSProp([p], { momentum: 0.9, centered: true }),
    ];
    p.grad = tensor([0.1, -0.2, 0.3]);
    for (const opt of opts) opt.step();
    const afterFirst = liveTensors();
    const bytes = p.backend.memoryInfo().allocatedBytes;
    for (let i = 0; i < 50; i++) for (const opt of opts) opt.step();
    expect(liveTensors()).toBe(afterFirst);
    expect(p.backend.memoryInfo().allocatedBytes).toBe(bytes);
    for (const opt of opts) opt.dispose();
    p.dispose();
    expect(liveTensors()).toBe(before);
    expect(() => opts[0].step()).toThrow(DisposedError);
    expect(() => opts[0].step()).toThrow(/SGD.step: the optimizer was disposed/);
  });
});

describe('optimizer errors name the offending value', () => {
  it('negative or NaN learning rates, in the options or in a group', () => {
    expect(() => new SGD([p3()], { lr: -1 })).toThrow(ArgumentError);
    expect(() => new SGD([p3()], { lr: -1 })).toThrow(/SGD: lr must be a finite number >= 0, got -1 \(options\)/);
    expect(() => new Adam([{ params: [p3()] }, { params: [p3()], lr: -0.1 }])).toThrow(/Adam: lr must be a finite number >= 0, got -0.1 \(param group 1\)/);
    expect(() => new AdamW([p3()], { lr: NaN })).toThrow(/got NaN/);
    const p = p3();
    const opt = new AdaGrad([p]);
    opt.paramGroups[0].lr = -2;
    p.grad = tensor([1, 1, 1]);
    expect(() => opt.step()).toThrow(/AdaGrad: lr must be a finite number >= 0, got -2 \(param group 0\)/);
  });

  it('betas outside [0, 1), negative eps and weight decay', () => {
    expect(() => new Adam([p3()], { betas: [1, 0.999] })).toThrow(/Adam: betas\[0\] must be in \[0, 1\), got 1/);
    expect(() => new AdamW([p3()], { betas: [0.9, -0.1] })).toThrow(/AdamW: betas\[1\] must be in \[0, 1\), got -0.1/);
    expect(() => new Adam([p3()], { eps: -1e-8 })).toThrow(/eps must be a finite number >= 0, got -1e-8/);
    expect(() => new AdamW([p3()], { weightDecay: -0.01 })).toThrow(/weightDecay must be a finite number >= 0, got -0.01/);
    expect(() => new RMSProp([p3()], { eps: -1 })).toThrow(/RMSProp: eps/);
    expect(() => new AdaGrad([p3()], { eps: -1 })).toThrow(/AdaGrad: eps/);
  });

  it('per-optimizer options: SGD nesterov, AdaGrad lrDecay / accumulator, RMSProp alpha / momentum', () => {
    expect(() => new SGD([p3()], { nesterov: true })).toThrow(/nesterov needs momentum > 0 and dampening 0, got momentum 0 and dampening 0/);
    expect(() => new SGD([p3()], { nesterov: true, momentum: 0.9, dampening: 0.1 })).toThrow(/dampening 0.1/);
    expect(() => new SGD([p3()], { momentum: -0.9 })).toThrow(/SGD: momentum must be in \[0, 1\], got -0.9 \(options\)/);
    expect(() => new SGD([p3()], { momentum: 1.5 })).toThrow(/SGD: momentum must be in \[0, 1\], got 1.5/);
    expect(() => new SGD([p3()], { momentum: 0.9, dampening: 2 })).toThrow(/SGD: dampening must be in \[0, 1\], got 2/);
    expect(() => new AdaGrad([p3()], { lrDecay: -1 })).toThrow(/lrDecay must be a finite number >= 0, got -1/);
    expect(() => new AdaGrad([p3()], { initialAccumulatorValue: -1 })).toThrow(/initialAccumulatorValue/);
    expect(() => new RMSProp([p3()], { alpha: -0.5 })).toThrow(/RMSProp: alpha must be in \[0, 1\], got -0.5/);
    // alpha > 1 used to be accepted and turned the parameters into NaN within three steps
    expect(() => new RMSProp([p3()], { alpha: 1.5 })).toThrow(/RMSProp: alpha must be in \[0, 1\], got 1.5 \(options\)/);
    expect(() => new RMSProp([{ params: [p3()] }, { params: [p3()], alpha: Number.NaN }])).toThrow(/alpha must be in \[0, 1\], got NaN \(param group 1\)/);
    expect(() => new RMSProp([p3()], { momentum: -1 })).toThrow(/RMSProp: momentum must be in \[0, 1\], got -1/);
    expect(() => new RMSProp([p3()], { momentum: 2 })).toThrow(/RMSProp: momentum must be in \[0, 1\], got 2/);
  });

  it('unknown options and options of the wrong type', () => {
    expect(() => new AdamW([p3()], { weight_decay: 0.1 } as never)).toThrow(/unknown option 'weight_decay' \(options\); AdamW takes lr, betas, eps, weightDecay, amsgrad/);
    expect(() => new Adam([p3()], { betas: 0.9 } as never)).toThrow(/option 'betas' must be a pair of numbers, got 0.9/);
    expect(() => new SGD([p3()], { nesterov: 1 } as never)).toThrow(/option 'nesterov' must be a boolean, got 1/);
  });

  it('parameters that do not require grad, non-leaves, non-contiguous, disposed', () => {
    const frozen = tensor([1, 2, 3]);
    expect(() => new SGD([frozen])).toThrow(ArgumentError);
    expect(() => new SGD([frozen])).toThrow(/parameter of shape \[3\] at param group 0, index 0 does not require grad/);
    const p = param(new Float32Array(6), [2, 3]);
    expect(() => new Adam([p.mul(2)])).toThrow(/tensor of shape \[2, 3\] at param group 0, index 0 is not a leaf/);
    const t = noGrad(() => p.transpose(0, 1)).requiresGrad_();
    expect(() => new Adam([t])).toThrow(/shape \[3, 2\] with strides \[1, 3\] at param group 0, index 0 is not contiguous/);
    const gone = p3();
    gone.dispose();
    expect(() => new Adam([gone])).toThrow(DisposedError);
  });

  it('duplicate parameters, within or across groups', () => {
    const [a, b] = [p3(), p3()];
    expect(() => new Adam([a, b, a])).toThrow(/the parameter of shape \[3\] appears twice \(param group 0, index 0 and param group 0, index 2\)/);
    expect(() => new Adam([{ params: [a] }, { params: [b, a] }])).toThrow(/appears twice \(param group 0, index 0 and param group 1, index 1\)/);
    const opt = new SGD([a]);
    expect(() => opt.addParamGroup({ params: [a] })).toThrow(ArgumentError);
  });

  it('empty parameter lists and malformed groups', () => {
    expect(() => new SGD([])).toThrow(/SGD: got an empty parameter list/);
    expect(() => new SGD([{ params: [] }])).toThrow(/param group 0 has no parameters/);
    expect(() => new SGD([{ params: p3() }] as never)).toThrow(/'params' must be an iterable of tensors/);
    expect(() => new SGD([p3(), 4] as never)).toThrow(/param group 0, index 1 is not a Tensor \(got 4\)/);
  });
});
