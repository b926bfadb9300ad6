// Fused SGD and Adam/AdamW steps of the wasm backend (both builds) against the reference,
// over several consecutive steps. Tolerance: 1e-5 relative on params, momentum buffers and
// Adam moments (f32 arithmetic vs float64 in the reference, a few ulps per step), with an
// absolute floor of 1e-7 (1e-12 for the second moment v, which is ~grad^2).
import { expect, it } from 'vitest';
import type { AdamParams, SgdParams } from '../src/backend.js';
import { ArgumentError, DisposedError } from '../src/errors.js';
import { ODD_SIZES, describeBuilds, expectClose, randF32, rng, type Side, type Twin, type TwinBuf } from './helpers.js';

const SIZES = [...ODD_SIZES, 1000];

describeBuilds('sgdStep', (twin) => {
  const configs: Omit<SgdParams, 'param' | 'grad' | 'momentumBuf' | 'n' | 'firstStep'>[] = [
    { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
    { lr: 0.05, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.01 },
    { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 },
    { lr: 0.05, momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 1e-3 },
    { lr: 0.02, momentum: 0.8, dampening: 0, nesterov: true, weightDecay: 0.01 },
  ];
  for (const [ci, cfg] of configs.entries()) {
    it(`momentum ${cfg.momentum} dampening ${cfg.dampening} nesterov ${cfg.nesterov} wd ${cfg.weightDecay}: 4 steps at odd sizes`, () => {
      const t = twin();
      const r = rng(200 + ci);
      for (const n of SIZES) {
        const param = t.upload(randF32(r, n, -1, 1), 3);
        const buf = t.upload(new Float32Array(n), 1);
        for (let step = 0; step < 4; step++) {
          const grad = t.upload(randF32(r, n, -1, 1), 2);
          const mk = (s: Side): SgdParams => ({ ...cfg, param: t.d(param, s), grad: t.d(grad, s), momentumBuf: cfg.momentum ? t.d(buf, s) : undefined, n, firstStep: step === 0 });
          t.run((be, s) => be.sgdStep(mk(s)));
          t.free(grad);
        }
        const p = t.readAll(param, 'f32');
        expectClose(p.wasm, p.ref, 1e-5, 1e-7, `param n=${n}`);
        const b = t.readAll(buf, 'f32');
        expectClose(b.wasm, b.ref, 1e-5, 1e-7, `momentum buffer n=${n}`);
        t.free(param, buf);
      }
    });
  }

  it('validates its operands: a momentum step needs a buffer; freed storage throws', () => {
    const t = twin();
    const p = t.upload(new Float32Array(8));
    const g = t.upload(new Float32Array(8));
    const base = { lr: 0.1, dampening: 0, nesterov: false, weightDecay: 0, firstStep: true, n: 8 };
    expect(() => t.wasm.sgdStep({ ...base, momentum: 0.9, param: t.d(p, 'wasm'), grad: t.d(g, 'wasm') })).toThrow(ArgumentError);
    t.free(g);
    expect(() => t.wasm.sgdStep({ ...base, momentum: 0, param: t.d(p, 'wasm'), grad: t.d(g, 'wasm') })).toThrow(DisposedError);
    t.free(p);
  });
});

describeBuilds('adamStep', (twin) => {
  const configs: Omit<AdamParams, 'param' | 'grad' | 'm' | 'v' | 'vMax' | 'n' | 'step'>[] = [
    { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, amsgrad: false },
    { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: false, amsgrad: false },
    { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, decoupled: true, amsgrad: false },
    { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.01, decoupled: true, amsgrad: true },
    { lr: 1e-2, beta1: 0.5, beta2: 0.9, eps: 1e-3, weightDecay: 0, decoupled: false, amsgrad: true },
  ];
  for (const [ci, cfg] of configs.entries()) {
    it(`${cfg.decoupled ? 'AdamW' : 'Adam'} wd ${cfg.weightDecay} amsgrad ${cfg.amsgrad} betas ${cfg.beta1}/${cfg.beta2}: 4 steps at odd sizes`, () => {
      const t = twin();
      const r = rng(300 + ci);
      for (const n of SIZES) {
        const param = t.upload(randF32(r, n, -1, 1), 1);
        const m = t.upload(new Float32Array(n), 2);
        const v = t.upload(new Float32Array(n), 3);
        const vMax = t.upload(new Float32Array(n), 1);
        for (let step = 1; step <= 4; step++) {
          // Gradients shrink over the steps so that amsgrad's running max matters.
          const grad = t.upload(randF32(r, n, -1 / step, 1 / step), 2);
          const mk = (s: Side): AdamParams => ({ ...cfg, param: t.d(param, s), grad: t.d(grad, s), m: t.d(m, s), v: t.d(v, s), vMax: cfg.amsgrad ? t.d(vMax, s) : undefined, n, step });
          t.run((be, s) => be.adamStep(mk(s)));
          t.free(grad);
        }
        const check = (b: TwinBuf, what: string, atol: number) => {
          const res = t.readAll(b, 'f32');
          expectClose(res.wasm, res.ref, 1e-5, atol, `${what} n=${n}`);
        };
        check(param, 'param', 1e-7);
        check(m, 'm', 1e-7);
        check(v, 'v', 1e-12);
        check(vMax, 'vMax', 1e-12);
        t.free(param, m, v, vMax);
      }
    });
  }

  it('a late step (t = 10000) with zero gradients matches the reference', () => {
    const t = twin();
    const r = rng(350);
    const n = 129;
    const param = t.upload(randF32(r, n), 0);
    const m = t.upload(randF32(r, n, -1e-3, 1e-3), 0);
    const v = t.upload(randF32(r, n, 0, 1e-6), 0);
    const grad = t.upload(new Float32Array(n), 0);
    t.run((be, s) => be.adamStep({ param: t.d(param, s), grad: t.d(grad, s), m: t.d(m, s), v: t.d(v, s), n, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, amsgrad: false, step: 10000 }));
    for (const b of [param, m, v]) {
      const res = t.readAll(b, 'f32');
      expectClose(res.wasm, res.ref, 1e-5, 1e-12, 'late step');
    }
    t.free(param, m, v, grad);
  });
});
