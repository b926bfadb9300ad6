import { LRScheduler, checkRange } from './scheduler.js';
import type { BaseOptions, Optimizer } from '../optimizers/optimizer.js';

/** ExponentialLR options. */
export interface ExponentialLROptions {
  /** Multiplicative decay per step. */
  gamma: number;
}

/**
 * Decays the learning rate by `gamma` every step (PyTorch's ExponentialLR).
 *
 * lr(t) = base * gamma^t
 *
 * @example new ExponentialLR(opt, { gamma: 0.99 });
 */
export class ExponentialLR extends LRScheduler {
  readonly gamma: number;

  constructor(optimizer: Optimizer<BaseOptions>, options: ExponentialLROptions) {
    super('ExponentialLR', optimizer);
    this.gamma = options?.gamma;
    checkRange(this.name, 'gamma', this.gamma, 0);
    this.start();
  }

  protected override lrAt(group: number, epoch: number): number {
    return this.baseLrs[group] * this.gamma ** epoch;
  }
}
