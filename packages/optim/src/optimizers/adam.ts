import { requireFusedKernel } from '@tessera/core';
import type { Tensor } from '@tessera/tensor';
import { Optimizer, checkNonNegative, checkUnitInterval, type Pair, type ParamGroup, type ParamState, type ParamsInput } from './optimizer.js';

/** Adam / AdamW options (PyTorch's names, camelCased). */
export interface AdamOptions {
  /** Learning rate; default 1e-3. */
  lr: number;
  /** Decay rates of the first and second moment estimates, each in [0, 1); default [0.9, 0.999]. */
  betas: Pair;
  /** Added to the denominator for stability; default 1e-8. */
  eps: number;
  /** Adam: L2 penalty added to the gradient; AdamW: decoupled decay. Default 0 (Adam), 1e-2 (AdamW). */
  weightDecay: number;
  /** Use the running maximum of the second moment (AMSGrad); default false. */
  amsgrad: boolean;
}

/** Validates Adam-family options. */
export function checkAdamOptions(name: string, o: AdamOptions, where: string): void {
  checkNonNegative(name, 'lr', o.lr, where);
  checkUnitInterval(name, 'betas[0]', o.betas[0], where);
  checkUnitInterval(name, 'betas[1]', o.betas[1], where);
  checkNonNegative(name, 'eps', o.eps, where);
  checkNonNegative(name, 'weightDecay', o.weightDecay, where);
}

/** One fused Adam/AdamW step of `p` (state.step is the 1-based step number). */
export function adamUpdate(buffer: (name: string) => Tensor, p: Tensor, g: Tensor, o: AdamOptions, step: number, decoupled: boolean): void {
  const m = buffer('expAvg');
  const v = buffer('expAvgSq');
  const vMax = o.amsgrad ? buffer('maxExpAvgSq') : undefined;
  requireFusedKernel(p.backend, 'adamStep', 'Adam.step')({
    param: p.dense({ write: true }),
    grad: g.dense(),
    m: m.dense({ write: true }),
    v: v.dense({ write: true }),
    vMax: vMax?.dense({ write: true }),
    n: p.size,
    lr: o.lr,
    beta1: o.betas[0],
    beta2: o.betas[1],
    eps: o.eps,
    weightDecay: o.weightDecay,
    decoupled,
    amsgrad: o.amsgrad,
    step,
  });
}

const DEFAULTS: AdamOptions = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false };

/**
 * Adam (Kingma & Ba) with L2 weight decay added to the gradient and optional
 * AMSGrad; PyTorch's rule, on the backend's fused `adamStep` kernel.
 *
 * g += wd*p; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
 * p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
 *
 * @example
 * const opt = new Adam(model.parameters(), { lr: 1e-3 });
 */
export class Adam extends Optimizer<AdamOptions> {
  constructor(params: ParamsInput<AdamOptions>, options?: Partial<AdamOptions>) {
    super('Adam', params, DEFAULTS, options, ['expAvg', 'expAvgSq', 'maxExpAvgSq']);
  }

  protected override checkOptions(o: AdamOptions, where: string): void {
    checkAdamOptions('Adam', o, where);
  }

  protected override update(p: Tensor, g: Tensor, o: ParamGroup<AdamOptions>, state: ParamState): void {
    adamUpdate((b) => this.buffer(p, state, b), p, g, o, state.step, false);
  }
}
