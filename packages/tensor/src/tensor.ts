/**
 * The Tensor: a shape, strides and offset over refcounted backend storage,
 * plus its place in the autograd graph. Every op is a free function in
 * src/ops/* and a method here.
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
import { runBackward, type BackwardOptions, type Node } from './autograd.js';
import { AutogradError } from './errors.js';
import { formatTensor } from './format.js';
import * as ew from './ops/elementwise.js';
import * as inplace from './ops/inplace.js';
import * as idx from './ops/indexing.js';
import * as mm from './ops/matmul.js';
import * as nn from './ops/nn.js';
import * as red from './ops/reduce.js';
import * as sh from './ops/shape.js';
import { track, type Scope } from './scope.js';
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
    if (options.write) inplace.beginWrite('dense', this);
    return { storage: this._ref.storage, offset: this.offset };
  }

  /** The `{ storage, offset, strides }` operand of this tensor (low-level, read-only use). */
  strided(): Strided {
    this._assertLive('strided');
    return { storage: this._ref.storage, offset: this.offset, strides: this.strides };
  }

  /** Reads the values (row-major) into a new typed array. */
  async data(): Promise<ArrayFor<DType>> {
    this._assertLive('data');
    const t = this.isContiguous() ? this : sh.contiguousRaw(this);
    try {
      return await t._ref.backend.read(t._ref.storage, t.dtype, t.offset, t.size);
    } finally {
      if (t !== this) t.dispose();
    }
  }

  /**
   * Reads the values synchronously. Only backends with `features.syncRead`
   * (wasm, reference) can; on others (WebGPU) it throws UnsupportedError: use
   * `await t.data()`.
   */
  dataSync(): ArrayFor<DType> {
    this._assertLive('dataSync');
    this._assertSyncRead('dataSync', 'await t.data()');
    const t = this.isContiguous() ? this : sh.contiguousRaw(this);
    try {
      return t._ref.backend.readSync(t._ref.storage, t.dtype, t.offset, t.size);
    } finally {
      if (t !== this) t.dispose();
    }
  }

  /** The values as nested arrays. */
  async array(): Promise<NestedArray> {
    return nest(await this.data(), this.shape);
  }

  /** The values as nested arrays, synchronously (backends with `features.syncRead`; else `await t.array()`). */
  arraySync(): NestedArray {
    this._assertLive('arraySync');
    this._assertSyncRead('arraySync', 'await t.array()');
    return nest(this.dataSync(), this.shape);
  }

  /**
   * The value of a single-element tensor, read synchronously (backends with
   * `features.syncRead`; on others use `await t.itemAsync()`).
   */
  item(): number {
    this._assertLive('item');
    this._assertItem('item');
    this._assertSyncRead('item', 'await t.itemAsync()');
    return this.dataSync()[0];
  }

  /**
   * The value of a single-element tensor, on any backend.
   * @example const l = await loss.itemAsync();
   */
  async itemAsync(): Promise<number> {
    this._assertLive('itemAsync');
    this._assertItem('itemAsync');
    return (await this.data())[0];
  }

  /**
   * Values formatted like PyTorch: `tensor([[1., 2.], [3., 4.]])`, summarised
   * past 1000 elements. On a backend without synchronous reads (WebGPU) it
   * prints a placeholder naming the asynchronous reads instead of throwing, so
   * logging and template strings keep working.
   */
  toString(): string {
    if (this.isDisposed) return `tensor(<disposed>, shape=${fmtShape(this.shape)}, dtype=${this.dtype})`;
    if (!this._ref.backend.features.syncRead) {
      return `tensor(<on ${this._ref.backend.name}, read with await t.data() or await t.array()>, shape=${fmtShape(this.shape)}, dtype=${this.dtype})`;
    }
    return formatTensor(this.dataSync(), this.shape, this.dtype, {
      requiresGrad: this.requiresGrad,
      gradFn: this.nodeRef?.name ?? null,
    });
  }

  /**
   * A copy on another backend (no autograd link), or an alias when `backend` is
   * this tensor's. The values travel through the host, read synchronously: from
   * a backend without `features.syncRead` (WebGPU) this throws
   * UnsupportedError; use `await t.toAsync(backend)`.
   */
  to(backend: Backend): Tensor {
    if (backend === this._ref.backend) return sh.alias(this);
    this._assertLive('to');
    this._assertSyncRead('to', 'await t.toAsync(backend)');
    return sh.toBackend(this, backend);
  }

  /**
   * `to(backend)` from any backend: the values are read with `await t.data()`
   * and written to `backend`.
   * @example const onCpu = await gpuTensor.toAsync(wasm);
   */
  async toAsync(backend: Backend): Promise<Tensor> {
    if (backend === this._ref.backend || this._ref.backend.features.syncRead) return this.to(backend);
    this._assertLive('toAsync');
    return sh.fromHost(await this.data(), this.shape, this.dtype, backend);
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

  /**
   * Computes gradients of this tensor with respect to every leaf that requires
   * grad and accumulates them into their `.grad`. A non-scalar output needs
   * `gradOutput`. Saved tensors are freed afterwards unless `retainGraph`.
   * @example loss.backward(); w.grad!.print();
   */
  backward(gradOutput?: Tensor, options?: BackwardOptions): void {
    runBackward(this, gradOutput, options);
  }

  /** A handle on the same storage, cut from the graph (no gradient flows through it). */
  detach(): Tensor {
    return this._alias(true);
  }

  /** Drops (`setToNone`, default) or zero-fills this leaf's gradient. */
  zeroGrad(setToNone = true): void {
    if (!this._grad) return;
    if (setToNone) {
      this._grad.dispose();
      this._grad = null;
    } else inplace.fillInPlace(this._grad, 0);
  }

  /** Logs `toString()`. */
  print(): void {
    console.log(this.toString());
  }

  // ---- in place (no autograd; refused on tensors requiring grad unless inside noGrad) ----
  /** Copies `src` (broadcast to this shape) into this tensor; returns this. */
  assign(src: Operand): this {
    inplace.assign(this, src);
    return this;
  }
  /** this += alpha * other, in place. */
  add_(other: Operand, alpha = 1): this {
    inplace.binaryInPlace(this, 'add', other, alpha);
    return this;
  }
  /** this -= alpha * other, in place. */
  sub_(other: Operand, alpha = 1): this {
    inplace.binaryInPlace(this, 'sub', other, alpha);
    return this;
  }
  /** this *= other, in place. */
  mul_(other: Operand): this {
    inplace.binaryInPlace(this, 'mul', other, 1);
    return this;
  }
  /** this /= other, in place. */
  div_(other: Operand): this {
    inplace.binaryInPlace(this, 'div', other, 1);
    return this;
  }
  /** Fills with `value`, in place. */
  fill_(value: number): this {
    inplace.fillInPlace(this, value);
    return this;
  }
  /** Fills with zeros, in place. */
  zero_(): this {
    inplace.fillInPlace(this, 0);
    return this;
  }

  // ---- elementwise ----
  add(other: Operand): Tensor { return ew.add(this, other); }
  sub(other: Operand): Tensor { return ew.sub(this, other); }
  mul(other: Operand): Tensor { return ew.mul(this, other); }
  div(other: Operand): Tensor { return ew.div(this, other); }
  pow(exponent: Operand): Tensor { return ew.pow(this, exponent); }
  maximum(other: Operand): Tensor { return ew.maximum(this, other); }
  minimum(other: Operand): Tensor { return ew.minimum(this, other); }
  clamp(min?: number, max?: number): Tensor { return ew.clamp(this, min, max); }
  neg(): Tensor { return ew.neg(this); }
  exp(): Tensor { return ew.exp(this); }
  log(): Tensor { return ew.log(this); }
  sqrt(): Tensor { return ew.sqrt(this); }
  rsqrt(): Tensor { return ew.rsqrt(this); }
  tanh(): Tensor { return ew.tanh(this); }
  sigmoid(): Tensor { return ew.sigmoid(this); }
  relu(): Tensor { return ew.relu(this); }
  gelu(): Tensor { return ew.gelu(this); }
  abs(): Tensor { return ew.abs(this); }
  square(): Tensor { return ew.square(this); }
  reciprocal(): Tensor { return ew.reciprocal(this); }
  sign(): Tensor { return ew.sign(this); }
  eq(other: Operand): Tensor { return ew.eq(this, other); }
  ne(other: Operand): Tensor { return ew.ne(this, other); }
  lt(other: Operand): Tensor { return ew.lt(this, other); }
  le(other: Operand): Tensor { return ew.le(this, other); }
  gt(other: Operand): Tensor { return ew.gt(this, other); }
  ge(other: Operand): Tensor { return ew.ge(this, other); }
  maskedFill(mask: Tensor, value: number): Tensor { return ew.maskedFill(this, mask, value); }
  cast(dtype: DType): Tensor { return ew.cast(this, dtype); }
  /** Same values as f32. */
  float(): Tensor { return ew.cast(this, 'f32'); }
  /** Same values as i32 (truncated toward zero). */
  int(): Tensor { return ew.cast(this, 'i32'); }

  // ---- reductions ----
  sum(axis?: number | readonly number[], keepDims = false): Tensor { return red.sum(this, axis, keepDims); }
  mean(axis?: number | readonly number[], keepDims = false): Tensor { return red.mean(this, axis, keepDims); }
  var(axis?: number | readonly number[], keepDims = false, unbiased = true): Tensor { return red.variance(this, axis, keepDims, unbiased); }
  max(axis?: number | readonly number[], keepDims = false): Tensor { return red.max(this, axis, keepDims); }
  min(axis?: number | readonly number[], keepDims = false): Tensor { return red.min(this, axis, keepDims); }
  maxWithIndices(axis: number, keepDims = false): { values: Tensor; indices: Tensor } { return red.maxWithIndices(this, axis, keepDims); }
  minWithIndices(axis: number, keepDims = false): { values: Tensor; indices: Tensor } { return red.minWithIndices(this, axis, keepDims); }
  argmax(axis?: number, keepDims = false): Tensor { return red.argmax(this, axis, keepDims); }
  argmin(axis?: number, keepDims = false): Tensor { return red.argmin(this, axis, keepDims); }

  // ---- linear algebra ----
  matmul(other: Tensor): Tensor { return mm.matmul(this, other); }

  // ---- shape ----
  reshape(shape: readonly number[]): Tensor { return sh.reshape(this, shape); }
  view(shape: readonly number[]): Tensor { return sh.view(this, shape); }
  contiguous(): Tensor { return sh.contiguous(this); }
  clone(): Tensor { return sh.clone(this); }
  transpose(dim0 = -2, dim1 = -1): Tensor { return sh.transpose(this, dim0, dim1); }
  /** Transpose of the last two dimensions (PyTorch's mT); a 0-D or 1-D tensor comes back as a new handle. */
  get T(): Tensor { return this.rank < 2 ? sh.alias(this) : sh.transpose(this, -2, -1); }
  /** Transpose of the last two dimensions of a tensor with at least two (PyTorch's mT). */
  get mT(): Tensor {
    if (this.rank < 2) throw new ShapeError(`mT: needs at least 2 dimensions, got shape ${fmtShape(this.shape)}`);
    return sh.transpose(this, -2, -1);
  }
  /** PyTorch's t(): a 2-D tensor transposed; 0-D and 1-D come back as they are (a new handle). */
  t(): Tensor {
    if (this.rank > 2) throw new ShapeError(`t: expects a tensor with at most 2 dimensions, got shape ${fmtShape(this.shape)}; use transpose(dim0, dim1) or mT`);
    return this.rank < 2 ? sh.alias(this) : sh.transpose(this, 0, 1);
  }
  permute(dims: readonly number[]): Tensor { return sh.permute(this, dims); }
  expand(shape: readonly number[]): Tensor { return sh.expand(this, shape); }
  squeeze(axis?: number | readonly number[]): Tensor { return sh.squeeze(this, axis); }
  unsqueeze(axis: number): Tensor { return sh.unsqueeze(this, axis); }
  flatten(startDim = 0, endDim = -1): Tensor { return sh.flatten(this, startDim, endDim); }
  slice(ranges: readonly sh.SliceRange[]): Tensor { return sh.slice(this, ranges); }
  narrow(axis: number, start: number, length: number): Tensor { return sh.narrow(this, axis, start, length); }
  split(sizes: number | readonly number[], axis = 0): Tensor[] { return sh.split(this, sizes, axis); }

  // ---- indexing ----
  gather(axis: number, index: Tensor): Tensor { return idx.gather(this, axis, index); }
  indexSelect(axis: number, indices: Tensor): Tensor { return idx.indexSelect(this, axis, indices); }

  // ---- neural-network functions ----
  softmax(axis = -1): Tensor { return nn.softmax(this, axis); }
  logSoftmax(axis = -1): Tensor { return nn.logSoftmax(this, axis); }
}

function nest(data: ArrayLike<number>, shape: readonly number[]): NestedArray {
  if (shape.length === 0) return data[0];
  const strides = contiguousStrides(shape);
  const build = (dim: number, base: number): NestedArray => {
    const out: NestedArray[] = [];
    for (let i = 0; i < shape[dim]; i++) {
      const at = base + i * strides[dim];
      out.push(dim === shape.length - 1 ? data[at] : build(dim + 1, at));
    }
    return out;
  };
  return build(0, 0);
}
