/**
 * The LRScheduler base class. As in PyTorch, constructing a scheduler sets
 * every group's `lr` to its value at step 0, and each `step()` (call it after
 * `optimizer.step()`) advances one step and writes the next value. Values come
 * from each schedule's closed form, so they never drift.
 */

import { ArgumentError, fmtValue } from '@tessera/core';
import type { BaseOptions, Optimizer } from '../optimizers/optimizer.js';

/** A scheduler's state as plain data. */
export interface SchedulerStateDict {
  /** The scheduler class, e.g. 'CosineAnnealingLR'; loading into another class is refused. */
  scheduler: string;
  /** Steps taken since construction (0 right after it). */
  lastEpoch: number;
  /** The learning rate each group started from. */
  baseLrs: number[];
  /** The learning rate each group has now. */
  lastLrs: number[];
}

/** Throws unless `v` is an integer >= `min`. */
export function checkInteger(sched: string, name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new ArgumentError(`${sched}: ${name} must be an integer >= ${min}, got ${v}`);
}

/** Throws unless `v` is a finite number >= `min` (and <= `max` when given). */
export function checkRange(sched: string, name: string, v: number, min: number, max = Infinity): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new ArgumentError(`${sched}: ${name} must be a finite number in [${min}, ${max}], got ${v}`);
  }
}

/** Throws unless `v` is a finite number > 0. */
export function checkPositive(sched: string, name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ArgumentError(`${sched}: ${name} must be a finite number > 0, got ${v}`);
}

/**
 * Base of every learning-rate scheduler. A subclass gives the closed form
 * `lrAt(group, epoch)` and calls `start()` at the end of its constructor.
 *
 * @example
 * const sched = new CosineAnnealingLR(opt, { tMax: 1000 });
 * for (...) { loss.backward(); opt.step(); opt.zeroGrad(); sched.step(); }
 */
export abstract class LRScheduler {
  /** The learning rate each group started from (its `lr` when the scheduler was made). */
  readonly baseLrs: number[];
  private epoch = 0;
  private lastLrs: number[] = [];

  protected constructor(
    /** The scheduler's name in errors and state dicts. */
    readonly name: string,
    /** The optimizer whose groups' `lr` this scheduler writes. */
    readonly optimizer: Optimizer<BaseOptions>,
  ) {
    if (!optimizer || !Array.isArray(optimizer.paramGroups)) throw new ArgumentError(`${name}: expected an Optimizer, got ${String(optimizer)}`);
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
  }

  /** Steps taken since construction (0 right after it). */
  get lastEpoch(): number {
    return this.epoch;
  }

  /** Advances one step and writes every group's new learning rate. */
  step(): void {
    this.apply(this.epoch + 1);
  }

  /** The learning rate of each group as last written. */
  getLastLr(): number[] {
    return [...this.lastLrs];
  }

  /** The state needed to resume: step count and learning rates. */
  stateDict(): SchedulerStateDict {
    return { scheduler: this.name, lastEpoch: this.epoch, baseLrs: [...this.baseLrs], lastLrs: [...this.lastLrs] };
  }

  /** Restores a state saved by the same kind of scheduler and writes its learning rates into the optimizer's groups. */
  loadStateDict(sd: SchedulerStateDict): void {
    const groups = this.optimizer.paramGroups.length;
    if (sd === null || typeof sd !== 'object') throw new ArgumentError(`${this.name}.loadStateDict: expected { scheduler, lastEpoch, baseLrs, lastLrs }, got ${String(sd)}`);
    if (sd.scheduler !== this.name) throw new ArgumentError(`${this.name}.loadStateDict: the state dict was saved by '${sd.scheduler}', not '${this.name}'`);
    if (!Number.isInteger(sd.lastEpoch) || sd.lastEpoch < 0) throw new ArgumentError(`${this.name}.loadStateDict: lastEpoch must be an integer >= 0, got ${sd.lastEpoch}`);
    for (const key of ['baseLrs', 'lastLrs'] as const) {
      const v = sd[key];
      if (!Array.isArray(v) || v.length !== groups || v.some((x) => typeof x !== 'number' || !Number.isFinite(x) || x < 0)) {
        // A learning rate below 0 would only be refused by the optimizer at its next step, far from the file that held it.
        throw new ArgumentError(`${this.name}.loadStateDict: ${key} must hold ${groups} finite numbers >= 0 (one per param group), got ${fmtValue(v)}`);
      }
    }
    this.epoch = sd.lastEpoch;
    this.baseLrs.splice(0, this.baseLrs.length, ...sd.baseLrs);
    this.lastLrs = [...sd.lastLrs];
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = this.lastLrs[i]));
  }

  /** The closed-form learning rate of group `group` after `epoch` steps. */
  protected abstract lrAt(group: number, epoch: number): number;

  /** Sets the step-0 learning rates; subclasses call it last in their constructors. */
  protected start(): void {
    this.apply(0);
  }

  /** Moves to `epoch` and writes each group's learning rate. */
  protected apply(epoch: number): void {
    const groups = this.optimizer.paramGroups;
    if (groups.length !== this.baseLrs.length) {
      throw new ArgumentError(`${this.name}: the optimizer has ${groups.length} param groups, the scheduler was made for ${this.baseLrs.length}`);
    }
    const lrs = groups.map((_, i) => this.lrAt(i, epoch));
    this.epoch = epoch;
    this.lastLrs = lrs;
    groups.forEach((g, i) => (g.lr = lrs[i]));
  }
}
