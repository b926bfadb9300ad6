import { tidy, type Tensor } from '@tessera/tensor';
import { Optimizer, checkNonNegative, type ParamGroup, type ParamState, type ParamsInput } from './optimizer.js';

/** AdaGrad options (PyTorch's names, camelCased). */
export interface AdaGradOptions {
  /** Learning rate; default 1e-2. */
  lr: number;
  /** Learning-rate decay: step t uses lr / (1 + (t-1)*lrDecay); default 0. */
  lrDecay: number;
  /** L2 penalty added to the gradient; default 0. */
  weightDecay: number;
  /** Starting value of the squared-gradient sum; default 0. */
  initialAccumulatorValue: number;
  /** Added to the denominator for stability; default 1e-10. */
  eps: number;
}

const DEFAULTS: AdaGradOptions = { lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 };

/**
 * AdaGrad (Duchi et al.), PyTorch's rule, composed from in-place tensor ops:
 *
 * g += wd*p; clr = lr / (1 + (t-1)*lrDecay); sum += g^2; p -= clr * g / (sqrt(sum) + eps).
 *
 * @example
 * const opt = new AdaGrad(model.parameters(), { lr: 0.05 });
 */
export class AdaGrad extends Optimizer<AdaGradOptions> {
  constructor(params: ParamsInput<AdaGradOptions>, options?: Partial<AdaGradOptions>) {
    super('AdaGrad', params, DEFAULTS, options, ['sum']);
  }

  protected override checkOptions(o: AdaGradOptions, where: string): void {
    checkNonNegative('AdaGrad', 'lr', o.lr, where);
    checkNonNegative('AdaGrad', 'lrDecay', o.lrDecay, where);
    checkNonNegative('AdaGrad', 'weightDecay', o.weightDecay, where);
    checkNonNegative('AdaGrad', 'initialAccumulatorValue', o.initialAccumulatorValue, where);
    checkNonNegative('AdaGrad', 'eps', o.eps, where);
  }

  protected override update(p: Tensor, g: Tensor, o: ParamGroup<AdaGradOptions>, state: ParamState): void {
    const sum = this.buffer(p, state, 'sum', o.initialAccumulatorValue);
    const clr = o.lr / (1 + (state.step - 1) * o.lrDecay);
    tidy(() => {
      const grad = o.weightDecay !== 0 ? g.add(p.mul(o.weightDecay)) : g;
      sum.add_(grad.square());
      p.sub_(grad.div(sum.sqrt().add(o.eps)), clr);
    });
  }
}
