/** The position-wise feed-forward block of a Transformer. */

import { tidy, type Tensor } from '@tessera/tensor';
import { Dropout } from './dropout.js';
import { GELU } from './gelu.js';
import { deriveSeed } from './init.js';
import { Linear, type LayerOptions } from './linear.js';
import { Module } from './module.js';

/**
 * fc2(GELU(fc1(x))) with dropout on the output: [..., dModel] -> [..., dModel].
 * @example new FeedForward(64, 256, { dropout: 0.1 }).forward(x)
 */
export class FeedForward extends Module {
  readonly fc1: Linear;
  readonly act: GELU;
  readonly fc2: Linear;
  readonly drop: Dropout;

  constructor(
    readonly dModel: number,
    readonly dFF: number,
    options: LayerOptions & { dropout?: number } = {},
  ) {
    super();
    this.fc1 = this.registerModule('fc1', new Linear(dModel, dFF, { ...options, seed: deriveSeed(options.seed, 0) }));
    this.act = this.registerModule('act', new GELU());
    this.fc2 = this.registerModule('fc2', new Linear(dFF, dModel, { ...options, seed: deriveSeed(options.seed, 1) }));
    this.drop = this.registerModule('drop', new Dropout(options.dropout ?? 0, { seed: deriveSeed(options.seed, 2) }));
  }

  forward(x: Tensor): Tensor {
    return tidy(() => this.drop.forward(this.fc2.forward(this.act.forward(this.fc1.forward(x)))));
  }
}
