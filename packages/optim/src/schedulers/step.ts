import { LRScheduler, checkInteger, checkRange } from './scheduler.js';
import type { BaseOptions, Optimizer } from '../optimizers/optimizer.js';

/** StepLR options. */
export interface StepLROptions {
  /** Steps between decays (an integer >= 1). */
  stepSize: number;
  /** Multiplicative decay; default 0.1. */
  gamma?: number;
}

/**
 * Decays the learning rate by `gamma` every `stepSize` steps (PyTorch's StepLR).
 *
 * lr(t) = base * gamma^floor(t / stepSize)
 *
 * @example new StepLR(opt, { stepSize: 30, gamma: 0.1 });
 */
export class StepLR extends LRScheduler {
  readonly stepSize: number;
  readonly gamma: number;

  constructor(optimizer: Optimizer<BaseOptions>, options: StepLROptions) {
    super('StepLR', optimizer);
    this.stepSize = options?.stepSize;
    this.gamma = options?.gamma ?? 0.1;
    checkInteger(this.name, 'stepSize', this.stepSize, 1);
    checkRange(this.name, 'gamma', this.gamma, 0);
    this.start();
  }

  protected override lrAt(group: number, epoch: number): number {
    return this.baseLrs[group] * this.gamma ** Math.floor(epoch / this.stepSize);
  }
}
