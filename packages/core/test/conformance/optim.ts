// Fused SGD and Adam/AdamW step conformance: the device under test against the reference,
// over several consecutive steps. Tolerance: 1e-5 relative on params, momentum buffers and
// Adam moments (f32 arithmetic vs float64 in the reference, a few ulps per step), with an
// absolute floor of 1e-7 (1e-12 for the second moment v, which is ~grad^2).
import { expect, it } from 'vitest';
import type { AdamParams, SgdParams } from '../../src/backend.js';
import { ODD_SIZES, expectClose, randF32, rng } from '../checks.js';
import type { Side, Twin, TwinBuf } from './twin.js';

const SIZES = [...ODD_SIZES, 1000];

/** The shared sgdStep tests; call inside the backend's describe. */
export function sgdConformance(twin: () => Twin): void {
  const configs: Omit<SgdParams, 'param' | 'grad' | 'momentumBuf' | 'n' | 'firstStep'>[] = [
    { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
    { lr: 0.05, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.01 },
    { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 },
    { lr: 0.05, momentum: 0.9, dampening: 0.1, nesterov: false, weightDecay: 1e-3 },
    { lr: 0.02, momentum: 0.8, dampening: 0, nesterov: true, weightDecay: 0.01 },
  ];
  for (const [ci, cfg] of configs.entries()) {
    it(`momentum ${cfg.momentum} dampening ${cfg.dampening} nesterov ${cfg.nesterov} wd ${cfg.weightDecay}: 4 steps at odd sizes`, async () => {
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
        const p = await t.readAll(param, 'f32');
        expectClose(p.dev, p.ref, 1e-5, 1e-7, `param n=${n}`);
        const b = await t.readAll(buf, 'f32');
        expectClose(b.dev, b.ref, 1e-5, 1e-7, `momentum buffer n=${n}`);
        t.free(param, buf);
      }
    });
  }

  it('validates its operands: a momentum step needs a buffer; freed storage throws', async () => {
    const t = twin();
    const p = t.upload(new Float32Array(8));
    const g = t.upload(new Float32Array(8));
    const base = { lr: 0.1, dampening: 0, nesterov: false, weightDecay: 0, firstStep: true, n: 8 };
    expect(() => t.dev.sgdStep({ ...base, momentum: 0.9, param: t.d(p, 'dev'), grad: t.d(g, 'dev') })).toThrow(t.errors.ArgumentError);
    t.free(g);
    expect(() => t.dev.sgdStep({ ...base, momentum: 0, param: t.d(p, 'dev'), grad: t.d(g, 'dev') })).toThrow(t.errors.DisposedError);
    t.free(p);
  });
}

/** The shared adamStep tests; call inside the backend's describe. */
export function adamConformance(twin: () => Twin): void {
  const configs: Omit<AdamParams, 'param' | 'grad' | 'm' | 'v' | 'vMax' | 'n' | 'step'>[] = [
    { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, amsgrad: false },
    { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: false, amsgrad: false },
    { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, decoupled: true, amsgrad: false },
    { lr: 1e-2, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.01, decoupled: true, amsgrad: true },
    { lr: 1e-2, beta1: 0.5, beta2: 0.9, eps: 1e-3, weightDecay: 0, decoupled: false, amsgrad: true },
  ];
  for (const [ci, cfg] of configs.entries()) {
    it(`${cfg.decoupled ? 'AdamW' : 'Adam'} wd ${cfg.weightDecay} amsgrad ${cfg.amsgrad} betas ${cfg.beta1}/${cfg.beta2}: 4 steps at odd sizes`, async () => {
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
        const check = async (b: TwinBuf, what: string, atol: number) => {
          const res = await t.readAll(b, 'f32');
          expectClose(res.dev, res.ref, 1e-5, atol, `${what} n=${n}`);
        };
        await check(param, 'param', 1e-7);
        await check(m, 'm', 1e-7);
        await check(v, 'v', 1e-12);
        await check(vMax, 'vMax', 1e-12);
        t.free(param, m, v, vMax);
      }
    });
  }

  it('a late step (t = 10000): zero gradients, and a flat block holding param, grad, m and v in one storage', async () => {
    const t = twin();
    const r = rng(350);
    const n = 129;
    const param = t.upload(randF32(r, n), 0);
    const m = t.upload(randF32(r, n, -1e-3, 1e-3), 0);
    const v = t.upload(randF32(r, n, 0, 1e-6), 0);
    const grad = t.upload(new Float32Array(n), 0);
    t.run((be, s) => be.adamStep({ param: t.d(param, s), grad: t.d(grad, s), m: t.d(m, s), v: t.d(v, s), n, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, amsgrad: false, step: 10000 }));
    for (const b of [param, m, v]) {
      const res = await t.readAll(b, 'f32');
      expectClose(res.dev, res.ref, 1e-5, 1e-12, 'late step');
    }
    t.free(param, m, v, grad);

    const r2 = rng(310);
    const block = t.upload(Float32Array.from([...randF32(r2, n, -1, 1), ...randF32(r2, n, -1, 1), ...randF32(r2, n, -1e-3, 1e-3), ...randF32(r2, n, 0, 1e-6)]), 1);
    t.run((be, s) =>
      be.adamStep({
        param: t.d(block, s, 1), grad: t.d(block, s, 1 + n), m: t.d(block, s, 1 + 2 * n), v: t.d(block, s, 1 + 3 * n),
        n, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, amsgrad: false, step: 10000,
      }),
    );
    const res = await t.readAll(block, 'f32');
    expectClose(res.dev, res.ref, 1e-5, 1e-12, 'late step in one storage');
    t.free(block);
  });
}
