import { ArgumentError, fusedKernel } from '@tessera/core';
import { tidy, type Tensor } from '@tessera/tensor';
import { Optimizer, checkClosedUnit, checkNonNegative, type ParamGroup, type ParamState, type ParamsInput } from './optimizer.js';

/** SGD options (PyTorch's names, camelCased). */
export interface SGDOptions {
  /** Learning rate; default 1e-3. */
  lr: number;
  /** Momentum factor; default 0 (plain SGD). */
  momentum: number;
  /** Dampening of the gradient added to the momentum buffer; default 0. */
  dampening: number;
  /** L2 penalty added to the gradient (wd * p); default 0. */
  weightDecay: number;
  /** Nesterov momentum (needs momentum > 0 and dampening 0); default false. */
  nesterov: boolean;
}

const DEFAULTS: SGDOptions = { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false };

/**
 * Stochastic gradient descent with optional momentum, dampening, Nesterov
 * momentum and weight decay; PyTorch's rule (the momentum buffer starts as the
 * first gradient). Runs the backend's fused `sgdStep` kernel, one call per
 * parameter, or where the backend has none the same rule as in-place tensor ops.
 *
 * g = grad + wd*p; buf = first ? g : momentum*buf + (1-dampening)*g;
 * g = nesterov ? g + momentum*buf : buf; p -= lr*g.
 *
 * @example
 * const opt = new SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
 */
export class SGD extends Optimizer<SGDOptions> {
  constructor(params: ParamsInput<SGDOptions>, options?: Partial<SGDOptions>) {
    super('SGD', params, DEFAULTS, options, ['momentumBuffer']);
  }

  protected override checkOptions(o: SGDOptions, where: string): void {
    checkNonNegative('SGD', 'lr', o.lr, where);
    checkClosedUnit('SGD', 'momentum', o.momentum, where);
    checkClosedUnit('SGD', 'dampening', o.dampening, where);
    checkNonNegative('SGD', 'weightDecay', o.weightDecay, where);
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      throw new ArgumentError(`SGD: nesterov needs momentum > 0 and dampening 0, got momentum ${o.momentum} and dampening ${o.dampening} (${where})`);
    }
  }

  protected override update(p: Tensor, g: Tensor, o: ParamGroup<SGDOptions>, state: ParamState): void {
    let buf: Tensor | undefined;
    let firstStep = false;
    if (o.momentum !== 0) {
      firstStep = !state.buffers.has('momentumBuffer');
      buf = this.buffer(p, state, 'momentumBuffer');
    }
    const fused = fusedKernel(p.backend, 'sgdStep');
    if (!fused) {
      sgdComposed(p, g, buf, o, firstStep);
      return;
    }
    fused({
      param: p.dense({ write: true }),
      grad: g.dense(),
      momentumBuf: buf?.dense({ write: true }),
      n: p.size,
      lr: o.lr,
      momentum: o.momentum,
      dampening: o.dampening,
      nesterov: o.nesterov,
      weightDecay: o.weightDecay,
      firstStep,
    });
  }
}

/** The sgdStep kernel's rule as tensor ops, updating `p` and `buf` in place (the caller runs it inside noGrad). */
function sgdComposed(p: Tensor, g: Tensor, buf: Tensor | undefined, o: SGDOptions, firstStep: boolean): void {
  tidy(() => {
    let d = o.weightDecay !== 0 ? g.add(p.mul(o.weightDecay)) : g;
    if (buf) {
      if (firstStep) buf.assign(d);
      else buf.mul_(o.momentum).add_(d, 1 - o.dampening);
      d = o.nesterov ? d.add(buf.mul(o.momentum)) : buf;
    }
    p.sub_(d, o.lr);
  });
}
