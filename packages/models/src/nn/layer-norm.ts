/** Layer normalisation over the last dim. */

import { ArgumentError } from '@tessera/core';
import { layerNorm, type Tensor } from '@tessera/tensor';
import { constant_ } from './init.js';
import { checkPositiveInt, type LayerOptions } from './linear.js';
import { Module } from './module.js';
import { pyFloat } from './repr.js';
import { standaloneParameters } from './parameters.js';

/**
 * y = (x - mean) / sqrt(var + eps) * weight + bias over the last dim [..., dim].
 * weight starts at 1, bias at 0.
 * @example const ln = new LayerNorm(768, { eps: 1e-5 }); ln.forward(x)
 */
export class LayerNorm extends Module {
  readonly eps: number;

  constructor(
    readonly dim: number,
    options: Omit<LayerOptions, 'seed'> & { eps?: number } = {},
  ) {
    super();
    checkPositiveInt('LayerNorm', 'dim', dim);
    this.eps = options.eps ?? 1e-5;
    if (!(this.eps > 0) || !Number.isFinite(this.eps)) throw new ArgumentError(`LayerNorm: eps must be a finite number > 0, got ${this.eps}`);
    const factory = options.factory ?? standaloneParameters;
    this.registerParameter('weight', factory.create([dim], false));
    this.registerParameter('bias', factory.create([dim], false));
    if (options.init !== false) {
      constant_(this.weight, 1);
      constant_(this.bias, 0);
    }
  }

  /** [dim] */
  get weight(): Tensor {
    return this.parameter('weight');
  }

  /** [dim] */
  get bias(): Tensor {
    return this.parameter('bias');
  }

  /** x: [..., dim] -> same shape */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.dim, this.weight, this.bias, this.eps);
  }

  override extraRepr(): string {
    return `(${this.dim},), eps=${pyFloat(this.eps)}, elementwise_affine=True`;
  }
}
