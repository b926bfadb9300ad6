import { ArgumentError } from '@tessera/core';
import { LRScheduler, checkInteger, checkRange } from './scheduler.js';
import type { BaseOptions, Optimizer } from '../optimizers/optimizer.js';

/** WarmupCosineLR options. */
export interface WarmupCosineLROptions {
  /** Steps of linear warmup (an integer >= 0). */
  warmupSteps: number;
  /** Step at which the decay reaches `minLr` (an integer > warmupSteps). */
  totalSteps: number;
  /** The learning rate at and after `totalSteps`; default 0. */
  minLr?: number;
}

/**
 * Linear warmup to the base rate, then cosine decay to `minLr` (the GPT-2 /
 * llm.c schedule). Warmup counts from step 0 so no step runs at lr 0.
 *
 * t < W:      lr = base * (t + 1) / W
 * W <= t < T: lr = minLr + (base - minLr) * (1 + cos(pi * (t - W) / (T - W))) / 2
 * t >= T:     lr = minLr
 *
 * @example new WarmupCosineLR(opt, { warmupSteps: 700, totalSteps: 19000, minLr: 6e-5 });
 */
export class WarmupCosineLR extends LRScheduler {
  readonly warmupSteps: number;
  readonly totalSteps: number;
  readonly minLr: number;

  constructor(optimizer: Optimizer<BaseOptions>, options: WarmupCosineLROptions) {
    super('WarmupCosineLR', optimizer);
    this.warmupSteps = options?.warmupSteps;
    this.totalSteps = options?.totalSteps;
    this.minLr = options?.minLr ?? 0;
    checkInteger(this.name, 'warmupSteps', this.warmupSteps, 0);
    checkInteger(this.name, 'totalSteps', this.totalSteps, 1);
    if (this.totalSteps <= this.warmupSteps) {
      throw new ArgumentError(`${this.name}: totalSteps (${this.totalSteps}) must exceed warmupSteps (${this.warmupSteps})`);
    }
    checkRange(this.name, 'minLr', this.minLr, 0);
    this.start();
  }

  protected override lrAt(group: number, epoch: number): number {
    const base = this.baseLrs[group];
    if (epoch < this.warmupSteps) return (base * (epoch + 1)) / this.warmupSteps;
    if (epoch >= this.totalSteps) return this.minLr;
    const ratio = (epoch - this.warmupSteps) / (this.totalSteps - this.warmupSteps);
    return this.minLr + ((base - this.minLr) * (1 + Math.cos(Math.PI * ratio))) / 2;
  }
}
