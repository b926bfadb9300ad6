/**
 * Early stopping: watch a validation metric, stop after `patience` steps
 * without improvement, and optionally put the best weights back.
 */

import { ArgumentError, DisposedError, ShapeError, fmtShape } from '@tessera/core';
import { Tensor, keep, noGrad } from '@tessera/tensor';

/** EarlyStopping options. */
export interface EarlyStoppingOptions {
  /** Steps without improvement tolerated before stopping; default 3. */
  patience?: number;
  /** The smallest change that counts as an improvement; default 0. */
  minDelta?: number;
  /** 'min' for a loss, 'max' for an accuracy; default 'min'. */
  mode?: 'min' | 'max';
  /**
   * Snapshot the parameters passed to `step` whenever the metric improves and
   * copy the best snapshot back into them when `step` decides to stop; default false.
   */
  restoreBestWeights?: boolean;
}

function toList(op: string, params: Tensor | Iterable<Tensor>): Tensor[] {
  const list = params instanceof Tensor ? [params] : params !== null && typeof params === 'object' && Symbol.iterator in params ? [...params] : null;
  if (list === null) throw new ArgumentError(`${op}: params must be a Tensor or an iterable of tensors, got ${String(params)}`);
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new ArgumentError(`${op}: params[${i}] is not a Tensor (got ${String(p)})`);
    if (p.isDisposed) throw new DisposedError(`${op}: params[${i}] of shape ${fmtShape(p.shape)} was disposed`);
  });
  return list;
}

/**
 * Decides when to stop training from a metric given once per epoch (or
 * evaluation). A step improves when the metric beats the best so far by more
 * than `minDelta` (below it in 'min' mode, above it in 'max' mode); a NaN
 * metric never improves. `step` returns true once `patience` steps in a row
 * have not improved.
 *
 * @example
 * const es = new EarlyStopping({ patience: 5, restoreBestWeights: true });
 * for (let epoch = 0; ; epoch++) {
 *   train();
 *   if (es.step(evaluate(), model.parameters())) break; // best weights are back in the model
 * }
 * es.dispose();
 */
export class EarlyStopping {
  readonly patience: number;
  readonly minDelta: number;
  readonly mode: 'min' | 'max';
  readonly restoreBestWeights: boolean;
  /** The best metric so far (Infinity / -Infinity before the first step). */
  best: number;
  /** The step (0-based) that produced `best`; -1 before the first improvement. */
  bestStep = -1;
  /** Steps taken. */
  steps = 0;
  /** Steps since the last improvement. */
  wait = 0;
  /** True once `step` returned true. */
  stopped = false;
  private snapshot: Tensor[] | null = null;

  constructor(options: EarlyStoppingOptions = {}) {
    this.patience = options.patience ?? 3;
    this.minDelta = options.minDelta ?? 0;
    this.mode = options.mode ?? 'min';
    this.restoreBestWeights = options.restoreBestWeights ?? false;
    if (!Number.isInteger(this.patience) || this.patience < 0) throw new ArgumentError(`EarlyStopping: patience must be an integer >= 0, got ${this.patience}`);
    if (typeof this.minDelta !== 'number' || !Number.isFinite(this.minDelta) || this.minDelta < 0) {
      throw new ArgumentError(`EarlyStopping: minDelta must be a finite number >= 0, got ${this.minDelta}`);
    }
    if (this.mode !== 'min' && this.mode !== 'max') throw new ArgumentError(`EarlyStopping: mode must be 'min' or 'max', got '${String(this.mode)}'`);
    this.best = this.mode === 'min' ? Infinity : -Infinity;
  }

  /** True when `metric` improves on the best so far by more than minDelta. */
  improves(metric: number): boolean {
    return this.mode === 'min' ? metric < this.best - this.minDelta : metric > this.best + this.minDelta;
  }

  /**
   * Records one metric value; returns true when training should stop. With
   * `restoreBestWeights`, `params` is required: it is snapshotted on an
   * improvement and receives the best snapshot when this returns true.
   */
  step(metric: number, params?: Tensor | Iterable<Tensor>): boolean {
    if (typeof metric !== 'number') throw new ArgumentError(`EarlyStopping.step: metric must be a number, got ${String(metric)}`);
    if (this.restoreBestWeights && params === undefined) {
      throw new ArgumentError('EarlyStopping.step: restoreBestWeights is on, so pass the parameters to snapshot: step(metric, params)');
    }
    const list = params === undefined ? null : toList('EarlyStopping.step', params);
    const improved = this.improves(metric);
    if (improved) {
      this.best = metric;
      this.bestStep = this.steps;
      this.wait = 0;
      if (this.restoreBestWeights && list) this.takeSnapshot(list);
    } else this.wait++;
    this.steps++;
    if (improved || this.wait < this.patience) return false;
    this.stopped = true;
    if (this.restoreBestWeights && list && this.snapshot) this.restore(list);
    return true;
  }

  /** True while a snapshot of the best weights is held. */
  get hasSnapshot(): boolean {
    return this.snapshot !== null;
  }

  /** Copies the best weights snapshot into `params` (same count and shapes as when it was taken). */
  restore(params: Tensor | Iterable<Tensor>): void {
    const list = toList('EarlyStopping.restore', params);
    const snap = this.snapshot;
    if (!snap) throw new ArgumentError('EarlyStopping.restore: there is no snapshot (it needs restoreBestWeights and at least one improving step with params)');
    if (list.length !== snap.length) throw new ArgumentError(`EarlyStopping.restore: got ${list.length} parameters, the snapshot holds ${snap.length}`);
    list.forEach((p, i) => {
      if (p.shape.length !== snap[i].shape.length || p.shape.some((d, k) => d !== snap[i].shape[k])) {
        throw new ShapeError(`EarlyStopping.restore: parameter ${i} has shape ${fmtShape(p.shape)}, its snapshot ${fmtShape(snap[i].shape)}`);
      }
    });
    noGrad(() => list.forEach((p, i) => p.assign(snap[i])));
  }

  /** Frees the snapshot. */
  dispose(): void {
    this.snapshot?.forEach((t) => t.dispose());
    this.snapshot = null;
  }

  private takeSnapshot(list: Tensor[]): void {
    const next = noGrad(() => list.map((p) => keep(p.clone())));
    this.dispose();
    this.snapshot = next;
  }
}
