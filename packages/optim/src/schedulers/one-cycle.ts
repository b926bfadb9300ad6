import { ArgumentError, fmtValue } from '@tessera/core';
import { LRScheduler, checkInteger, checkPositive, checkRange } from './scheduler.js';
import type { BaseOptions, Optimizer, Pair } from '../optimizers/optimizer.js';

/** OneCycleLR options (PyTorch's, camelCased). */
export interface OneCycleLROptions {
  /** Peak learning rate: one for every group, or one per group. */
  maxLr: number | readonly number[];
  /** Steps in the cycle; stepping past `totalSteps` throws, as in PyTorch. */
  totalSteps: number;
  /** Fraction of the cycle spent rising; default 0.3. */
  pctStart?: number;
  /** Annealing shape; default 'cos'. */
  anneal?: 'cos' | 'linear';
  /** Starting lr = maxLr / divFactor; default 25. */
  divFactor?: number;
  /** Final lr = starting lr / finalDivFactor; default 1e4. */
  finalDivFactor?: number;
  /**
   * Cycle momentum inversely to the lr, between `maxMomentum` and
   * `baseMomentum` (writes `momentum`, or `betas[0]` for Adam/AdamW). Default
   * false here (PyTorch's default is true; turn it on to match it).
   */
  cycleMomentum?: boolean;
  /** Lowest momentum, reached at the lr peak; default 0.85. */
  baseMomentum?: number;
  /** Highest momentum, at the start and end; default 0.95. */
  maxMomentum?: number;
}

interface Phase {
  endStep: number;
  startLr: 'initial' | 'max' | 'min';
  endLr: 'initial' | 'max' | 'min';
  startMomentum: 'base' | 'max';
  endMomentum: 'base' | 'max';
}

/**
 * The 1cycle policy (Smith & Topsakal), PyTorch's two-phase OneCycleLR: from
 * maxLr/divFactor up to maxLr over the first pctStart of the steps, then down
 * to maxLr/(divFactor*finalDivFactor) at step totalSteps - 1. The group's own
 * lr is replaced by the starting lr on construction.
 *
 * phase 1: t in [0, pctStart*T - 1], phase 2: up to T - 1, with
 * cos:    lr = end + (start - end) * (1 + cos(pi * pct)) / 2
 * linear: lr = start + (end - start) * pct
 *
 * @example new OneCycleLR(opt, { maxLr: 0.1, totalSteps: 1000 });
 */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  readonly pctStart: number;
  readonly anneal: 'cos' | 'linear';
  readonly cycleMomentum: boolean;
  private readonly lrs: { initial: number; max: number; min: number }[];
  private readonly momenta: { base: number; max: number };
  private readonly phases: Phase[];

  constructor(optimizer: Optimizer<BaseOptions>, options: OneCycleLROptions) {
    super('OneCycleLR', optimizer);
    const o = options ?? ({} as OneCycleLROptions);
    const groups = optimizer.paramGroups;
    this.totalSteps = o.totalSteps;
    this.pctStart = o.pctStart ?? 0.3;
    this.anneal = o.anneal ?? 'cos';
    this.cycleMomentum = o.cycleMomentum ?? false;
    const divFactor = o.divFactor ?? 25;
    const finalDivFactor = o.finalDivFactor ?? 1e4;
    checkInteger(this.name, 'totalSteps', this.totalSteps, 1);
    checkRange(this.name, 'pctStart', this.pctStart, 0, 1);
    if (this.anneal !== 'cos' && this.anneal !== 'linear') throw new ArgumentError(`${this.name}: anneal must be 'cos' or 'linear', got '${String(this.anneal)}'`);
    checkPositive(this.name, 'divFactor', divFactor);
    checkPositive(this.name, 'finalDivFactor', finalDivFactor);
    const maxLrs = typeof o.maxLr === 'number' ? groups.map(() => o.maxLr as number) : o.maxLr;
    if (!Array.isArray(maxLrs) || maxLrs.length !== groups.length) {
      throw new ArgumentError(`${this.name}: maxLr must be a number or hold one value per param group (${groups.length}), got ${fmtValue(o.maxLr)}`);
    }
    maxLrs.forEach((m, i) => checkRange(this.name, `maxLr[${i}]`, m, 0));
    // Phase ends as in PyTorch; both phases need at least one step or the interpolation divides by zero.
    const end1 = this.pctStart * this.totalSteps - 1;
    const end2 = this.totalSteps - 1;
    if (!(end1 > 0 && end2 > end1)) {
      throw new ArgumentError(`${this.name}: pctStart ${this.pctStart} with totalSteps ${this.totalSteps} leaves a phase with no steps (warm-up ends at step ${end1}, the cycle at ${end2})`);
    }
    this.phases = [
      { endStep: end1, startLr: 'initial', endLr: 'max', startMomentum: 'max', endMomentum: 'base' },
      { endStep: end2, startLr: 'max', endLr: 'min', startMomentum: 'base', endMomentum: 'max' },
    ];
    this.lrs = maxLrs.map((max) => ({ initial: max / divFactor, max, min: max / divFactor / finalDivFactor }));
    this.lrs.forEach((l, i) => (this.baseLrs[i] = l.initial));
    this.momenta = { base: o.baseMomentum ?? 0.85, max: o.maxMomentum ?? 0.95 };
    if (this.cycleMomentum) {
      checkRange(this.name, 'baseMomentum', this.momenta.base, 0, 1);
      checkRange(this.name, 'maxMomentum', this.momenta.max, 0, 1);
      groups.forEach((g, i) => {
        if (!('momentum' in g) && !('betas' in g)) {
          throw new ArgumentError(`${this.name}: cycleMomentum needs an optimizer with 'momentum' or 'betas', but ${optimizer.name}'s param group ${i} has neither`);
        }
      });
    }
    this.start();
  }

  /** Throws past totalSteps (as PyTorch does) before changing anything. */
  override step(): void {
    if (this.lastEpoch + 1 > this.totalSteps) {
      throw new ArgumentError(`${this.name}: tried to step ${this.lastEpoch + 1} times; the schedule has totalSteps = ${this.totalSteps}`);
    }
    super.step();
  }

  protected override lrAt(group: number, epoch: number): number {
    const l = this.lrs[group];
    return this.interpolate(epoch, (ph) => [l[ph.startLr], l[ph.endLr]]);
  }

  protected override apply(epoch: number): void {
    super.apply(epoch);
    if (!this.cycleMomentum) return;
    const m = this.interpolate(epoch, (ph) => [this.momenta[ph.startMomentum], this.momenta[ph.endMomentum]]);
    for (const g of this.optimizer.paramGroups as unknown as Record<string, unknown>[]) {
      if ('betas' in g) g.betas = [m, (g.betas as Pair)[1]];
      else g.momentum = m;
    }
  }

  private interpolate(epoch: number, ends: (ph: Phase) => [number, number]): number {
    // The last phase also covers epoch = totalSteps (pct slightly past 1), as in PyTorch.
    const found = this.phases.findIndex((ph) => epoch <= ph.endStep);
    const k = found < 0 ? this.phases.length - 1 : found;
    const startStep = k === 0 ? 0 : this.phases[k - 1].endStep;
    const ph = this.phases[k];
    const pct = (epoch - startStep) / (ph.endStep - startStep);
    const [a, b] = ends(ph);
    return this.anneal === 'cos' ? b + ((a - b) * (1 + Math.cos(Math.PI * pct))) / 2 : a + (b - a) * pct;
  }
}
