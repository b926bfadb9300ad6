import { fusedKernel } from '@tessera/core';
import { maximum, tidy, type Tensor } from '@tessera/tensor';
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

/**
 * One Adam/AdamW step of `p` (state.step is the 1-based step number): the backend's fused
 * `adamStep` kernel, or where it has none the same rule as in-place tensor ops.
 */
export function adamUpdate(buffer: (name: string) => Tensor, p: Tensor, g: Tensor, o: AdamOptions, step: number, decoupled: boolean): void {
  const m = buffer('expAvg');
  const v = buffer('expAvgSq');
  const vMax = o.amsgrad ? buffer('maxExpAvgSq') : undefined;
  const fused = fusedKernel(p.backend, 'adamStep');
  if (!fused) {
    adamComposed(p, g, m, v, vMax, o, step, decoupled);
    return;
  }
  fused({
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

/** The adamStep kernel's rule as tensor ops, updating `p`, `m`, `v` and `vMax` in place (inside the optimizer's noGrad). */
function adamComposed(p: Tensor, g: Tensor, m: Tensor, v: Tensor, vMax: Tensor | undefined, o: AdamOptions, step: number, decoupled: boolean): void {
  const [beta1, beta2] = o.betas;
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2 = 1 - Math.pow(beta2, step);
  tidy(() => {
    let grad = g;
    if (decoupled) {
      if (o.weightDecay !== 0) p.mul_(1 - o.lr * o.weightDecay);
    } else if (o.weightDecay !== 0) grad = g.add(p.mul(o.weightDecay));
    m.mul_(beta1).add_(grad, 1 - beta1);
    v.mul_(beta2).add_(grad.square(), 1 - beta2);
    const second = vMax ? vMax.assign(maximum(vMax, v)) : v;
    // p -= lr * (m / bc1) / (sqrt(second / bc2) + eps)
    p.sub_(m.div(second.div(bc2).sqrt().add(o.eps)), o.lr / bc1);
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
