import { tidy, type Tensor } from '@tessera/tensor';
import { Optimizer, checkClosedUnit, checkNonNegative, type ParamGroup, type ParamState, type ParamsInput } from './optimizer.js';

/** RMSProp options (PyTorch's names, camelCased). */
export interface RMSPropOptions {
  /** Learning rate; default 1e-2. */
  lr: number;
  /** Smoothing constant of the squared-gradient average; default 0.99. */
  alpha: number;
  /** Added to the denominator for stability; default 1e-8. */
  eps: number;
  /** L2 penalty added to the gradient; default 0. */
  weightDecay: number;
  /** Momentum factor; default 0. */
  momentum: number;
  /** Normalise by the estimated variance (subtract the squared mean gradient); default false. */
  centered: boolean;
}

const DEFAULTS: RMSPropOptions = { lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false };

/**
 * RMSProp (Hinton), PyTorch's rule, composed from in-place tensor ops:
 *
 * g += wd*p; sq = alpha*sq + (1-alpha)*g^2;
 * centered: ga = alpha*ga + (1-alpha)*g, avg = sqrt(sq - ga^2) + eps; else avg = sqrt(sq) + eps;
 * momentum: buf = momentum*buf + g/avg, p -= lr*buf; else p -= lr * g/avg.
 *
 * @example
 * const opt = new RMSProp(model.parameters(), { lr: 1e-3, momentum: 0.9, centered: true });
 */
export class RMSProp extends Optimizer<RMSPropOptions> {
  constructor(params: ParamsInput<RMSPropOptions>, options?: Partial<RMSPropOptions>) {
    super('RMSProp', params, DEFAULTS, options, ['squareAvg', 'gradAvg', 'momentumBuffer']);
  }

  protected override checkOptions(o: RMSPropOptions, where: string): void {
    checkNonNegative('RMSProp', 'lr', o.lr, where);
    checkClosedUnit('RMSProp', 'alpha', o.alpha, where);
    checkNonNegative('RMSProp', 'eps', o.eps, where);
    checkNonNegative('RMSProp', 'weightDecay', o.weightDecay, where);
    checkClosedUnit('RMSProp', 'momentum', o.momentum, where);
  }

  protected override update(p: Tensor, g: Tensor, o: ParamGroup<RMSPropOptions>, state: ParamState): void {
    const sq = this.buffer(p, state, 'squareAvg');
    const ga = o.centered ? this.buffer(p, state, 'gradAvg') : null;
    const buf = o.momentum > 0 ? this.buffer(p, state, 'momentumBuffer') : null;
    tidy(() => {
      const grad = o.weightDecay !== 0 ? g.add(p.mul(o.weightDecay)) : g;
      sq.mul_(o.alpha).add_(grad.square(), 1 - o.alpha);
      let avg: Tensor;
      if (ga) {
        ga.mul_(o.alpha).add_(grad, 1 - o.alpha);
        avg = sq.sub(ga.square()).sqrt().add(o.eps);
      } else avg = sq.sqrt().add(o.eps);
      if (buf) {
        buf.mul_(o.momentum).add_(grad.div(avg));
        p.sub_(buf, o.lr);
      } else p.sub_(grad.div(avg), o.lr);
    });
  }
}
