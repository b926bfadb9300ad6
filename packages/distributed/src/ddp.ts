/**
 * Data-parallel training over a ProcessGroup, for models whose parameters
 * live in one flat block (`model.flat`, a FlatParameters: GPT-2 and the other
 * @tessera/models networks):
 *
 * - DistributedDataParallel: every step all-reduces (mean) the whole gradient
 *   block [P] — one collective per step — before the optimizer step, so every
 *   rank applies the same update to the same weights.
 * - DiLoCo: H local optimizer steps, then one all-reduce of the pseudo-gradient
 *   θ_global − θ_local [P] (mean) and an outer SGD step with Nesterov momentum.
 *
 * Both start by broadcasting rank 0's weights, so ranks agree from step 0
 * whatever their seeds.
 */

import type { FlatParameters } from '@tessera/models';
import type { Optimizer } from '@tessera/optim';
import { noGrad, tensor, type Tensor } from '@tessera/tensor';
import { DistributedConfigError } from './errors.js';
import type { ProcessGroup } from './group.js';
import type { WireDType } from './wire.js';

/** Anything that keeps its parameters in one FlatParameters block. */
export interface FlatModel {
  readonly flat: FlatParameters;
}

async function read(t: Tensor): Promise<Float32Array> {
  const v = await t.data();
  if (!(v instanceof Float32Array)) throw new DistributedConfigError(`expected an f32 block, got ${t.dtype}`);
  return v;
}

/** Overwrites `target` [P] with `values` [P] (outside autograd; bumps its version). */
function write(target: Tensor, values: Float32Array): void {
  const src = tensor(values, [values.length]);
  try {
    noGrad(() => target.assign(src));
  } finally {
    src.dispose();
  }
}

/** The model's weight block [P] as f32. */
export function readWeights(model: FlatModel): Promise<Float32Array> {
  return read(model.flat.all);
}

/** SHA-256 (hex) of the weight block's bytes: equal on every rank when the weights are equal bit for bit. */
export async function weightsSha256(model: FlatModel): Promise<string> {
  const w = await readWeights(model);
  // A copy: the block may be a view of a SharedArrayBuffer (the threaded wasm heap), which digest() refuses.
  const bytes = new Uint8Array(w.byteLength);
  bytes.set(new Uint8Array(w.buffer, w.byteOffset, w.byteLength));
  const digest = await crypto.subtle.digest('SHA-256', bytes);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** Copies root's weights to every rank (exact: f32 on the wire). */
export async function broadcastWeights(model: FlatModel, group: ProcessGroup, root = 0): Promise<void> {
  const w = await readWeights(model);
  await group.broadcast(w, root);
  if (group.rank !== root) write(model.flat.all, w);
}

export interface DDPOptions {
  /** Wire format of the gradient all-reduce (default: the group's). f16/bf16 halve the traffic and round the gradients. */
  wireDType?: WireDType;
}

/**
 * Synchronous data parallelism. Each rank runs forward/backward on its own
 * shard of the batch (`DistributedSampler`); `step()` averages the gradient
 * block across ranks and runs the optimizer. With equal local batches, the
 * mean of the ranks' mean-loss gradients is the gradient of the mean loss
 * over the global batch.
 *
 * @example
 * const ddp = await DistributedDataParallel.create(model, opt, group);
 * const loss = model.loss(x, y); loss.backward();
 * const [globalLoss] = await ddp.step([(await loss.data())[0]]);
 * loss.dispose(); model.zeroGrad();
 */
export class DistributedDataParallel {
  private readonly wire: WireDType;
  /** Collectives run by this wrapper (one per step). */
  steps = 0;

  private constructor(
    readonly model: FlatModel,
    readonly optimizer: Optimizer,
    readonly group: ProcessGroup,
    options: DDPOptions,
  ) {
    this.wire = options.wireDType ?? group.wireDType;
  }

  /** Wraps the model and broadcasts rank 0's weights to every rank. */
  static async create(model: FlatModel, optimizer: Optimizer, group: ProcessGroup, options: DDPOptions = {}): Promise<DistributedDataParallel> {
    const ddp = new DistributedDataParallel(model, optimizer, group, options);
    await broadcastWeights(model, group, 0);
    return ddp;
  }

  /**
   * Replaces the gradient block with its mean over ranks. `scalars` (the
   * local loss, a stop flag, ...) ride in the same message, one element each
   * after the gradients; their means over ranks are returned.
   */
  async allReduceGradients(scalars: readonly number[] = []): Promise<number[]> {
    const g = this.model.flat.all.grad;
    if (g === null || g.isDisposed) {
      throw new DistributedConfigError(`rank ${this.group.rank}: DistributedDataParallel: the model has no gradient block; run a forward and backward pass before step()`);
    }
    const grads = await read(g);
    const P = grads.length;
    // [P] gradients, then the scalars in slots P, P + 1, ...
    const buf = new Float32Array(P + scalars.length);
    buf.set(grads);
    buf.set(scalars, P);
    await this.group.allReduce(buf, 'mean', { wireDType: this.wire });
    write(g, buf.subarray(0, P));
    this.steps++;
    return Array.from(buf.subarray(P));
  }

  /** All-reduces the gradients (and `scalars`), then steps the optimizer. Returns the scalars' means over ranks. */
  async step(scalars: readonly number[] = []): Promise<number[]> {
    const means = await this.allReduceGradients(scalars);
    this.optimizer.step();
    return means;
  }
}

export interface DiLoCoOptions {
  /** Local (inner) optimizer steps between synchronisations (H). */
  innerSteps: number;
  /** Outer learning rate. Default 0.7 (the DiLoCo paper's). */
  outerLr?: number;
  /**
   * Outer momentum μ. Default 0.5, not the paper's 0.9: at steady state the outer step is
   * lr / (1 − μ) times the pseudo-gradient (7x at 0.9, 1.4x at 0.5), which the paper's runs of
   * hundreds of rounds absorb but a run of tens of rounds does not (500 steps at H = 50 on the
   * CLI's `small` preset: +10.8% validation loss over DDP at 0.9, +0.5% at 0.5; docs/benchmarks.md).
   * Pass 0.9 for long runs with many outer rounds.
   */
  outerMomentum?: number;
  /** Nesterov momentum (PyTorch's form). Default true. */
  nesterov?: boolean;
  /** Wire format of the pseudo-gradient all-reduce (default: the group's). */
  wireDType?: WireDType;
}

/**
 * DiLoCo (Douillard et al., 2023): each rank takes `innerSteps` (H) steps of
 * its own optimizer (AdamW in the paper) on its own shard without talking to
 * the others; then the ranks average the pseudo-gradient
 *   Δ = θ_global − θ_local            [P], all-reduced (mean)
 * and apply an outer SGD step with Nesterov momentum (PyTorch's rule):
 *   v ← μ v + Δ;   u = Δ + μ v (Nesterov) or v;   θ_global ← θ_global − lr_outer · u
 * and every rank continues from θ_global. The outer step runs on the host in
 * f32 on identical inputs, so every rank gets the same bits. Communication is
 * one all-reduce every H steps instead of every step. With H = 1, lr_outer = 1
 * and μ = 0 it is parameter averaging: θ ← mean_r θ_local,r.
 */
export class DiLoCo {
  readonly innerSteps: number;
  readonly outerLr: number;
  readonly outerMomentum: number;
  readonly nesterov: boolean;
  private readonly wire: WireDType;
  /** θ_global [P]: the weights every rank agreed on at the last synchronisation. */
  private global: Float32Array;
  /** Outer momentum buffer v [P]. */
  private readonly velocity: Float32Array;
  private local = 0;
  /** Outer steps taken. */
  outerSteps = 0;

  private constructor(
    readonly model: FlatModel,
    readonly optimizer: Optimizer,
    readonly group: ProcessGroup,
    options: DiLoCoOptions,
    initial: Float32Array,
  ) {
    const H = options.innerSteps;
    if (!Number.isInteger(H) || H < 1) throw new DistributedConfigError(`DiLoCo: innerSteps must be an integer >= 1, got ${String(H)}`);
    const lr = options.outerLr ?? 0.7;
    const mu = options.outerMomentum ?? 0.5;
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new DistributedConfigError(`DiLoCo: outerLr must be a finite number >= 0, got ${String(lr)}`);
    if (!(mu >= 0 && mu < 1)) throw new DistributedConfigError(`DiLoCo: outerMomentum must be in [0, 1), got ${String(mu)}`);
    this.innerSteps = H;
    this.outerLr = lr;
    this.outerMomentum = mu;
    this.nesterov = options.nesterov ?? true;
    this.wire = options.wireDType ?? group.wireDType;
    this.global = initial;
    this.velocity = new Float32Array(initial.length);
  }

  /** Wraps the model, broadcasts rank 0's weights, and takes them as θ_global. */
  static async create(model: FlatModel, innerOptimizer: Optimizer, group: ProcessGroup, options: DiLoCoOptions): Promise<DiLoCo> {
    await broadcastWeights(model, group, 0);
    return new DiLoCo(model, innerOptimizer, group, options, await readWeights(model));
  }

  /** One inner optimizer step (after backward); every `innerSteps`-th call also synchronises. Returns true when it did. */
  async step(): Promise<boolean> {
    this.optimizer.step();
    this.local++;
    if (this.local < this.innerSteps) return false;
    await this.outerStep();
    return true;
  }

  /** Synchronises now: all-reduce Δ, outer step, and load θ_global into the model. */
  async outerStep(): Promise<void> {
    const theta = await readWeights(this.model);
    const g = this.global;
    const P = g.length;
    const delta = new Float32Array(P);
    for (let i = 0; i < P; i++) delta[i] = g[i] - theta[i];
    await this.group.allReduce(delta, 'mean', { wireDType: this.wire });
    const v = this.velocity;
    const mu = this.outerMomentum;
    const next = new Float32Array(P);
    for (let i = 0; i < P; i++) {
      v[i] = mu * v[i] + delta[i];
      const u = this.nesterov ? delta[i] + mu * v[i] : v[i];
      next[i] = g[i] - this.outerLr * u;
    }
    this.global = next;
    write(this.model.flat.all, next);
    this.local = 0;
    this.outerSteps++;
  }
}
