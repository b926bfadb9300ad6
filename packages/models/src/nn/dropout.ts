/** Dropout with a seeded mask sequence. */

import { ArgumentError, hash32 } from '@tessera/core';
import { dropout, type Tensor } from '@tessera/tensor';
import { Module } from './module.js';
import { pyFloat } from './repr.js';

/**
 * Zeroes each element with probability p in training mode (scaling the rest
 * by 1/(1-p)); the identity in eval mode. With a `seed`, the n-th call in
 * training mode always draws the same mask.
 * @example const drop = new Dropout(0.1, { seed: 1 }); drop.forward(x); drop.eval();
 */
export class Dropout extends Module {
  private calls = 0;

  constructor(
    readonly p = 0.5,
    private readonly options: { seed?: number } = {},
  ) {
    super();
    if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new ArgumentError(`Dropout: p must be in [0, 1], got ${p}`);
    if (options.seed !== undefined && !Number.isInteger(options.seed)) throw new ArgumentError(`Dropout: seed must be an integer, got ${options.seed}`);
  }

  /** Same shape as x. */
  forward(x: Tensor): Tensor {
    // Outside training the op returns a new handle on x (the identity).
    if (!this.training || this.p === 0) return dropout(x, this.p, { training: false });
    const seed = this.options.seed === undefined ? undefined : hash32(this.options.seed | 0, this.calls++) | 0;
    return dropout(x, this.p, { training: true, seed });
  }

  override extraRepr(): string {
    return `p=${pyFloat(this.p)}, inplace=False`;
  }
}
