import { LRScheduler, checkInteger, checkRange } from './scheduler.js';
import type { BaseOptions, Optimizer } from '../optimizers/optimizer.js';

/** ConstantLR options. */
export interface ConstantLROptions {
  /** Multiplies the base learning rate while epoch < totalIters, in [0, 1]; default 1. */
  factor?: number;
  /** Steps during which `factor` applies; default 0 (the base rate throughout). */
  totalIters?: number;
}

/**
 * A constant learning rate: base * factor for the first `totalIters` steps,
 * then base (PyTorch's ConstantLR; the defaults here keep the base rate).
 *
 * lr(t) = base * (t < totalIters ? factor : 1)
 *
 * @example new ConstantLR(opt); // keeps each group's lr
 */
export class ConstantLR extends LRScheduler {
  readonly factor: number;
  readonly totalIters: number;

  constructor(optimizer: Optimizer<BaseOptions>, options: ConstantLROptions = {}) {
    super('ConstantLR', optimizer);
    this.factor = options.factor ?? 1;
    this.totalIters = options.totalIters ?? 0;
    checkRange(this.name, 'factor', this.factor, 0, 1);
    checkInteger(this.name, 'totalIters', this.totalIters, 0);
    this.start();
  }

  protected override lrAt(group: number, epoch: number): number {
    return this.baseLrs[group] * (epoch < this.totalIters ? this.factor : 1);
  }
}
