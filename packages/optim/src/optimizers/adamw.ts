import type { Tensor } from '@tessera/tensor';
import { adamUpdate, checkAdamOptions, type AdamOptions } from './adam.js';
import { Optimizer, type ParamGroup, type ParamState, type ParamsInput } from './optimizer.js';

/** AdamW options: Adam's, with `weightDecay` decoupled from the gradient (default 1e-2). */
export type AdamWOptions = AdamOptions;

const DEFAULTS: AdamWOptions = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false };

/**
 * AdamW (Loshchilov & Hutter): Adam with decoupled weight decay, PyTorch's
 * rule, on the backend's fused `adamStep` kernel. The decay shrinks the
 * parameter before the Adam update and never enters the moments:
 *
 * p *= 1 - lr*wd; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
 * p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps).
 *
 * @example
 * // GPT-2 style: no decay on biases and LayerNorm gains.
 * const opt = new AdamW([{ params: matrices }, { params: vectors, weightDecay: 0 }], { lr: 6e-4, betas: [0.9, 0.95], weightDecay: 0.1 });
 */
export class AdamW extends Optimizer<AdamWOptions> {
  constructor(params: ParamsInput<AdamWOptions>, options?: Partial<AdamWOptions>) {
    super('AdamW', params, DEFAULTS, options, ['expAvg', 'expAvgSq', 'maxExpAvgSq']);
  }

  protected override checkOptions(o: AdamWOptions, where: string): void {
    checkAdamOptions('AdamW', o, where);
  }

  protected override update(p: Tensor, g: Tensor, o: ParamGroup<AdamWOptions>, state: ParamState): void {
    adamUpdate((b) => this.buffer(p, state, b), p, g, o, state.step, true);
  }
}
