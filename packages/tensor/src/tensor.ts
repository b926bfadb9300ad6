/**
 * The Tensor: a shape, strides and offset over refcounted backend storage,
 * plus its place in the autograd graph. Every op is a free function in
 * src/ops/*; methods.ts attaches the chained forms (`x.add(y)`) and the reads
 * to this class, which imports no op.
 */

import {
  ArgumentError,
  DisposedError,
  ShapeError,
  UnsupportedError,
  contiguousStrides,
  fmtShape,
  sizeOf,
  type ArrayFor,
  type Backend,
  type DType,
  type Dense,
  type Strided,
} from '@tessera/core';
import type { Node } from './autograd.js';
import { AutogradError } from './errors.js';
import { beginWrite } from './mode.js';
import { TENSOR_BRAND, journalTensor, track, type Scope } from './scope.js';
import { disposeLife, registerLife, StorageRef, type Life } from './storage.js';

let nextId = 1;

/** A number or a tensor: the second operand of arithmetic ops. */
export type Operand = Tensor | number;

/** Nested arrays of numbers, as returned by `array()`. */
export type NestedArray = number | NestedArray[];

/**
 * An n-dimensional array on a backend, row-major with explicit strides.
 * Create tensors with `tensor`, `zeros`, `randn`, ...; free them with
 * `dispose()`, `tidy()` or `using`.
 *
 * @example
 * const x = tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
 * const y = x.mul(x).sum();
 * y.backward();
 * console.log(x.grad!.toString()); // tensor([[2., 4.], [6., 8.]])
 */
export class Tensor {
  /** Unique id (for debugging). */
  readonly id: number;
  readonly shape: readonly number[];
  /** Element strides per dimension (0 where a dimension is broadcast). */
  readonly strides: readonly number[];
  /** Element offset of the first element in the storage. */
  readonly offset: number;
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;

  /** @internal Recognised by scopes without importing this class. */ readonly [TENSOR_BRAND] = true;
  /** @internal */ readonly _ref: StorageRef;
  /** @internal */ readonly _life: Life;
  /** @internal The scope tracking this tensor (null when none). */ _scope: Scope | null = null;
  /** @internal Excluded from every tidy scope (see `keep`). */ _kept = false;
  /** @internal The accumulated gradient (leaves only). */ _grad: Tensor | null = null;
  private leafRequiresGrad = false;
  private nodeRef: Node | null = null;

  /** @internal Tensors are made by creation functions and ops, not constructed directly. */
  constructor(ref: StorageRef, shape: readonly number[], strides: readonly number[], offset: number, dtype: DType, trackIt = true) {
    this.id = nextId++;
    this.shape = Object.freeze(shape.slice());
    this.strides = Object.freeze(strides.slice());
    this.offset = offset;
    this.dtype = dtype;
    this.size = sizeOf(shape);
    this._ref = ref;
    this._life = { ref, released: false };
    registerLife(this, this._life);
    if (trackIt) track(this);
    journalTensor(this);
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** The backend holding this tensor's storage. */
  get backend(): Backend {
    return this._ref.backend;
  }

  /** True once `dispose()` ran (directly, through tidy, or via `using`). */
  get isDisposed(): boolean {
    return this._life.released;
  }

  /** True for a leaf created with requiresGrad, or a result computed from one while gradients were on. */
  get requiresGrad(): boolean {
    return this.leafRequiresGrad || this.nodeRef !== null;
  }

  /** The autograd node that produced this tensor (null for leaves). */
  get gradFn(): Node | null {
    return this.nodeRef;
  }

  /** The accumulated gradient of a leaf (null until a backward pass reaches it). Owned by this tensor. */
  get grad(): Tensor | null {
    return this._grad;
  }

  set grad(g: Tensor | null) {
    if (g && (g.dtype !== 'f32' || g.shape.length !== this.shape.length || g.shape.some((d, i) => d !== this.shape[i]))) {
      throw new ArgumentError(`grad: a gradient of shape ${fmtShape(g.shape)} (${g.dtype}) does not fit a tensor of shape ${fmtShape(this.shape)}`);
    }
    if (g && !g.isContiguous()) throw new ArgumentError('grad: a gradient must be contiguous (backward accumulates into it in place); pass g.contiguous()');
    if (this._grad && this._grad !== g) this._grad.dispose();
    this._grad = g;
    if (g) g._kept = true;
  }

  /**
   * Marks a leaf as requiring (or not) a gradient; returns this.
   * @example const w = randn([3, 3]).requiresGrad_();
   */
  requiresGrad_(flag = true): this {
    if (this.nodeRef) throw new AutogradError(`requiresGrad_: only leaf tensors can change requiresGrad; use detach() for a result of shape ${fmtShape(this.shape)}`);
    if (flag && this.dtype !== 'f32') throw new AutogradError(`requiresGrad_: only f32 tensors can require grad, this one is ${this.dtype}`);
    this.leafRequiresGrad = flag;
    return this;
  }

  /** @internal */
  _setGradFn(node: Node): void {
    node.refs++;
    this.nodeRef = node;
  }

  /** @internal Throws DisposedError if disposed. */
  _assertLive(op: string): void {
    if (this._life.released) {
      throw new DisposedError(`${op}: tensor #${this.id} of shape ${fmtShape(this.shape)} (${this.dtype}) was already disposed`);
    }
  }

  /** @internal Throws UnsupportedError naming `alternative` unless the backend reads synchronously. */
  _assertSyncRead(op: string, alternative: string): void {
    const be = this._ref.backend;
    if (!be.features.syncRead) {
      throw new UnsupportedError(`${op}: backend '${be.name}' has no synchronous reads (features.syncRead is false); use ${alternative}`);
    }
  }

  private _assertItem(op: string): void {
    if (this.size !== 1) throw new ArgumentError(`${op}: only a single-element tensor has an item, this one has shape ${fmtShape(this.shape)}`);
  }

  /** @internal A new handle with another geometry over the same storage (no autograd). */
  _view(shape: readonly number[], strides: readonly number[], offset: number, trackIt = true): Tensor {
    this._assertLive('view');
    return new Tensor(this._ref, shape, strides, offset, this.dtype, trackIt);
  }

  /** @internal A new handle with the same geometry (no autograd). */
  _alias(trackIt: boolean): Tensor {
    return this._view(this.shape, this.strides, this.offset, trackIt);
  }

  /** True when elements are laid out row-major without gaps (size-1 dims ignored). */
  isContiguous(): boolean {
    let expect = 1;
    for (let i = this.shape.length - 1; i >= 0; i--) {
      const d = this.shape[i];
      if (d === 0) return true;
      if (d !== 1 && this.strides[i] !== expect) return false;
      expect *= d;
    }
    return true;
  }

  /**
   * Low-level access for fused kernels: the `{ storage, offset }` operand of a
   * contiguous tensor. Pass `{ write: true }` before writing through it, so
   * autograd can detect the in-place change (and refuses it on a tensor that
   * requires grad while gradients are on).
   * @example be.sgdStep({ param: p.dense({ write: true }), grad: p.grad!.dense(), n: p.size, ... });
   */
  dense(options: { write?: boolean } = {}): Dense {
    this._assertLive('dense');
    if (!this.isContiguous()) {
      throw new ArgumentError(`dense: tensor of shape ${fmtShape(this.shape)} with strides ${fmtShape(this.strides)} is not contiguous; call contiguous() first`);
    }
    if (options.write) beginWrite('dense', this);
    return { storage: this._ref.storage, offset: this.offset };
  }

  /** The `{ storage, offset, strides }` operand of this tensor (low-level, read-only use). */
  strided(): Strided {
    this._assertLive('strided');
    return { storage: this._ref.storage, offset: this.offset, strides: this.strides };
  }

  /**
   * Frees this handle; the storage is freed once no other view uses it. A leaf's
   * `.grad` is disposed with it. Disposing twice is a no-op.
   */
  dispose(): void {
    if (this._life.released) return;
    disposeLife(this, this._life);
    const node = this.nodeRef;
    this.nodeRef = null;
    node?.release();
    if (this._grad) {
      this._grad.dispose();
      this._grad = null;
    }
  }

  /** `using t = randn([2])` disposes t at the end of the block. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A handle on the same storage, cut from the graph (no gradient flows through it). */
  detach(): Tensor {
    return this._alias(true);
  }

}
