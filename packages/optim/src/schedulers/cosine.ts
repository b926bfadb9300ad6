import { LRScheduler, checkInteger, checkRange } from './scheduler.js';
import type { BaseOptions, Optimizer } from '../optimizers/optimizer.js';

/** CosineAnnealingLR options. */
export interface CosineAnnealingLROptions {
  /** Steps in a half cosine period (an integer >= 1). */
  tMax: number;
  /** The learning rate at t = tMax; default 0. */
  etaMin?: number;
}

/**
 * Cosine annealing from the base rate to `etaMin` over `tMax` steps, in
 * PyTorch's closed form (past tMax the cosine continues, rising again).
 *
 * lr(t) = etaMin + (base - etaMin) * (1 + cos(pi * t / tMax)) / 2
 *
 * @example new CosineAnnealingLR(opt, { tMax: 1000, etaMin: 1e-5 });
 */
export class CosineAnnealingLR extends LRScheduler {
  readonly tMax: number;
  readonly etaMin: number;

  constructor(optimizer: Optimizer<BaseOptions>, options: CosineAnnealingLROptions) {
    super('CosineAnnealingLR', optimizer);
    this.tMax = options?.tMax;
    this.etaMin = options?.etaMin ?? 0;
    checkInteger(this.name, 'tMax', this.tMax, 1);
    checkRange(this.name, 'etaMin', this.etaMin, 0);
    this.start();
  }

  protected override lrAt(group: number, epoch: number): number {
    return this.etaMin + ((this.baseLrs[group] - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}
