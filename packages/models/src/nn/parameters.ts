/**
 * Where parameters come from. Layers ask a `ParameterFactory` for each
 * parameter; the default makes standalone tensors, `FlatParameters` hands out
 * views of one contiguous block (llm.c style) whose gradients are views of a
 * second block, so a fused optimizer updates the whole model in one kernel call.
 */

import { ArgumentError, fmtShape, sizeOf } from '@tessera/core';
import { Tensor, isGradEnabled, keep, noGrad, zeros } from '@tessera/tensor';
import type { Module } from './module.js';

/** Makes the tensor behind one parameter (uninitialised values are fine: layers initialise them). */
export interface ParameterFactory {
  /**
   * A new leaf of `shape` that requires grad. `decay` says whether weight
   * decay usually applies (matrices and embeddings yes, biases and norms no).
   */
  create(shape: readonly number[], decay: boolean): Tensor;
}

/** The default factory: each parameter is its own zero-filled tensor. */
export const standaloneParameters: ParameterFactory = {
  create: (shape) => keep(zeros(shape, { requiresGrad: true })),
};

/** A parameter group for an optimizer constructor (`{ params, weightDecay }`). */
export interface FlatParamGroup {
  params: Tensor[];
  weightDecay: number;
}

/**
 * One f32 block holding every parameter: the weight-decayed ones first
 * (`[0, decay)`), then the rest. Each parameter is a leaf view of the block,
 * and once gradients are wired (`ensureGrads`, which models call on every
 * forward while gradients are on) each parameter's `.grad` is the matching
 * view of a gradient block, so `backward()` accumulates into it in place.
 *
 * @example
 * const flat = new FlatParameters({ decay: 6, noDecay: 2 });
 * const w = flat.create([2, 3], true); const b = flat.create([2], false);
 * flat.finish();
 * const opt = new AdamW(flat.groups(0.1), { lr: 1e-3 }); // two fused steps cover everything
 */
export class FlatParameters implements ParameterFactory {
  /** The whole block as one leaf [size] (its `.grad` is the whole gradient block once wired). */
  readonly all: Tensor;
  /** The weight-decayed part [decay] and the rest [noDecay], as leaves. */
  readonly decayed: Tensor;
  readonly undecayed: Tensor;
  readonly size: number;
  readonly decaySize: number;
  private grads: Tensor | null = null;
  private readonly views: { p: Tensor; offset: number }[] = [];
  private readonly offsets = new Map<Tensor, number>();
  /** Each leaf's gradient view of the block, as last wired (a `.grad` that is another tensor was replaced). */
  private readonly wired = new Map<Tensor, Tensor>();
  private cursor = { decay: 0, noDecay: 0 };
  private finished = false;
  private disposed = false;

  constructor(sizes: { decay: number; noDecay: number }) {
    const { decay, noDecay } = sizes;
    if (!Number.isSafeInteger(decay) || !Number.isSafeInteger(noDecay) || decay < 0 || noDecay < 0) {
      throw new ArgumentError(`FlatParameters: sizes must be integers >= 0, got decay ${decay}, noDecay ${noDecay}`);
    }
    this.size = decay + noDecay;
    this.decaySize = decay;
    this.all = keep(zeros([this.size], { requiresGrad: true }));
    this.decayed = this.leaf(0, [decay]);
    this.undecayed = this.leaf(decay, [noDecay]);
  }

  /** A leaf view [shape] of the block at element `offset`. */
  private leaf(offset: number, shape: readonly number[]): Tensor {
    const n = sizeOf(shape);
    const a = this.all.detach();
    const s = a.narrow(0, offset, n);
    const v = s.view(shape);
    const out = keep(v.detach().requiresGrad_());
    for (const t of [a, s, v]) t.dispose();
    return out;
  }

  /** Hands out the next parameter view in the decayed or undecayed region. */
  create(shape: readonly number[], decay: boolean): Tensor {
    if (this.finished) throw new ArgumentError('FlatParameters.create: the block is finished; no more parameters can be added');
    const n = sizeOf(shape);
    const region = decay ? 'decay' : 'noDecay';
    const base = decay ? 0 : this.decaySize;
    const limit = decay ? this.decaySize : this.size - this.decaySize;
    if (this.cursor[region] + n > limit) {
      throw new ArgumentError(`FlatParameters.create: a ${fmtShape(shape)} parameter does not fit: ${this.cursor[region]} of ${limit} elements of the ${region} region are used`);
    }
    const offset = base + this.cursor[region];
    this.cursor[region] += n;
    const p = this.leaf(offset, shape);
    this.views.push({ p, offset });
    this.offsets.set(p, offset);
    return p;
  }

  /**
   * Where parameter `p` starts in the block (elements; `all` holds it at
   * [offset, offset + p.size)), or undefined when `p` is not one of this block's
   * parameters. Lets a caller read the block once and slice every parameter from it.
   */
  offsetOf(p: Tensor): number | undefined {
    if (p === this.all || p === this.decayed) return 0;
    if (p === this.undecayed) return this.decaySize;
    return this.offsets.get(p);
  }

  /** Checks that the parameters filled the block exactly (a layout bug otherwise). */
  finish(): void {
    if (this.cursor.decay !== this.decaySize || this.cursor.noDecay !== this.size - this.decaySize) {
      throw new ArgumentError(
        `FlatParameters.finish: parameters cover ${this.cursor.decay} of ${this.decaySize} decayed and ${this.cursor.noDecay} of ${this.size - this.decaySize} other elements`,
      );
    }
    this.finished = true;
  }

  /** True once the gradient block exists. */
  get hasGrads(): boolean {
    return this.grads !== null;
  }

  /**
   * Makes every parameter's `.grad` its view of the gradient block (allocating
   * the block, zero-filled, on first use). A gradient that was dropped (set to
   * null, e.g. by an optimizer's `zeroGrad()`) is re-wired as zeros; one that
   * was replaced by a standalone tensor is copied into the block.
   */
  ensureGrads(): void {
    if (this.disposed) return;
    noGrad(() => {
      const fresh = this.grads === null;
      if (!this.grads) this.grads = keep(zeros([this.size]));
      const G = this.grads;
      const leaves = [
        { p: this.all, offset: 0 },
        { p: this.decayed, offset: 0 },
        { p: this.undecayed, offset: this.decaySize },
        ...this.views,
      ];
      const ours = (p: Tensor): boolean => p.grad !== null && !p.grad.isDisposed && this.wired.get(p) === p.grad;
      if (leaves.every(({ p }) => ours(p))) return;
      let zeroed = fresh;
      if (!zeroed && (this.all.grad === null || this.all.grad.isDisposed)) {
        // The whole block was dropped (an optimizer over `all` zeroed it): one fill covers every view.
        G.zero_();
        zeroed = true;
      }
      for (const { p, offset } of leaves) {
        if (ours(p)) continue;
        const view = this.gradView(offset, p.shape);
        const old = p.grad;
        if (old !== null && !old.isDisposed) view.assign(old);
        else if (!zeroed) view.zero_();
        p.grad = view;
        this.wired.set(p, view);
      }
    });
  }

  /** The gradient block's view [shape] at element `offset`. */
  private gradView(offset: number, shape: readonly number[]): Tensor {
    const s = this.grads!.narrow(0, offset, sizeOf(shape));
    const v = s.view(shape);
    s.dispose();
    return v;
  }

  /** Fills the gradient block with zeros (one kernel call), re-wiring dropped gradients; a no-op before any gradient exists. */
  zeroGrad(): void {
    if (!this.grads || this.disposed) return;
    this.ensureGrads();
    noGrad(() => this.grads!.zero_());
  }

  /**
   * Two optimizer groups covering the block: the decayed region with
   * `weightDecay`, the rest with 0. Pass them to an optimizer constructor;
   * their gradients are wired by the first forward pass with gradients on.
   * @example new AdamW(flat.groups(0.1), { lr: 6e-4 })
   */
  groups(weightDecay: number): FlatParamGroup[] {
    const out: FlatParamGroup[] = [];
    if (this.decaySize > 0) out.push({ params: [this.decayed], weightDecay });
    if (this.size > this.decaySize) out.push({ params: [this.undecayed], weightDecay: 0 });
    return out;
  }

  /** Wires gradients when autograd is recording (what a model's forward calls). */
  prepareForward(): void {
    if (isGradEnabled()) this.ensureGrads();
  }

  /** Frees both blocks and every view. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const { p } of this.views) p.dispose();
    for (const t of [this.all, this.decayed, this.undecayed]) t.dispose();
    this.grads?.dispose();
    this.grads = null;
    this.wired.clear();
    this.offsets.clear();
  }
}

/** Whether each placeholder was asked for as weight-decayed (what a rebuilt block puts it under). */
const placeholderDecay = new WeakMap<Tensor, boolean>();

/**
 * A factory of placeholders: leaves of the asked shape over a single zero element (every
 * stride 0), so building a model with it allocates nothing of its size. For a model whose
 * parameters are put in place right after (a quantized checkpoint: its quantized weights
 * are released and `repackParameters` gives the others one block); nothing may compute
 * with a placeholder.
 */
export const placeholderParameters: ParameterFactory = {
  create: (shape, decay) => {
    const one = zeros(shape.map(() => 1));
    const wide = one.expand(shape);
    const p = keep(wide.detach().requiresGrad_());
    for (const t of [one, wide]) t.dispose();
    placeholderDecay.set(p, decay);
    return p;
  },
};

/** A model that keeps its parameters in one FlatParameters block (GPT-2 and its classifier). */
export interface FlatModel extends Module {
  flat: FlatParameters;
}

/** True when `m` keeps its parameters in a `flat` block. */
export function hasFlatParameters(m: Module): m is FlatModel {
  return (m as unknown as { flat?: unknown }).flat instanceof FlatParameters;
}

/**
 * Gives `model`'s current parameters (released ones left out) a new block of exactly their
 * size, in `namedParameters()` order, with their values, and frees the old block and every
 * tensor replaced: what quantization calls after releasing weights (the block shrinks to
 * the f32 parameters left) and after restoring them (it grows back to the original
 * layout). A parameter keeps its decay region; one from outside the block (a dequantized
 * weight, a placeholder) goes where it was asked for (a weight matrix: decayed).
 */
export function repackParameters(model: FlatModel): void {
  const old = model.flat;
  const owners = new Map<string, Module>(model.namedModules());
  const named = model.namedParameters();
  const decayOf = (p: Tensor): boolean => {
    const offset = old.offsetOf(p);
    return offset !== undefined ? offset < old.decaySize : (placeholderDecay.get(p) ?? true);
  };
  let decay = 0;
  let noDecay = 0;
  for (const [, p] of named) {
    if (decayOf(p)) decay += p.size;
    else noDecay += p.size;
  }
  const flat = new FlatParameters({ decay, noDecay });
  try {
    noGrad(() => {
      for (const [name, p] of named) {
        const dot = name.lastIndexOf('.');
        const owner = owners.get(dot < 0 ? '' : name.slice(0, dot))!;
        const fresh = flat.create(p.shape, decayOf(p));
        if (p.isContiguous()) fresh.assign(p);
        else fresh.zero_(); // a placeholder (stride 0): its values are zeros
        const replaced = owner._swapParameter(name.slice(dot + 1), fresh);
        if (replaced && old.offsetOf(replaced) === undefined) replaced.dispose();
      }
    });
    flat.finish();
  } catch (e) {
    flat.dispose();
    throw e;
  }
  model.flat = flat;
  old.dispose();
}
