/**
 * The Tensor's chained methods, attached to its prototype in this one module:
 * `x.add(y)` is `add(x, y)`. The class (tensor.ts) imports no op and the op
 * modules import the class, so the two never import each other; the package
 * entry imports this module first, so every Tensor has its methods.
 */

import { ArgumentError, ShapeError, contiguousStrides, fmtShape, type ArrayFor, type Backend, type DType } from '@tessera/core';
import { runBackward, type BackwardOptions } from './autograd.js';
import { formatTensor } from './format.js';
import * as ew from './ops/elementwise.js';
import * as inplace from './ops/inplace.js';
import * as idx from './ops/indexing.js';
import * as mm from './ops/matmul.js';
import * as nn from './ops/nn.js';
import * as red from './ops/reduce.js';
import * as sh from './ops/shape.js';
import { guardOp } from './scope.js';
import { Tensor, type NestedArray, type Operand } from './tensor.js';

function assertItem(t: Tensor, op: string): void {
  if (t.size !== 1) throw new ArgumentError(`${op}: only a single-element tensor has an item, this one has shape ${fmtShape(t.shape)}`);
}

/**
 * The chained methods every Tensor has: declared on the class by the augmentation below and
 * copied onto its prototype, getters included.
 */
export abstract class TensorMethods {
  /** Reads the values (row-major) into a new typed array. */
  async data(this: Tensor): Promise<ArrayFor<DType>> {
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
  dataSync(this: Tensor): ArrayFor<DType> {
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
  async array(this: Tensor): Promise<NestedArray> {
    return nest(await this.data(), this.shape);
  }

  /** The values as nested arrays, synchronously (backends with `features.syncRead`; else `await t.array()`). */
  arraySync(this: Tensor): NestedArray {
    this._assertLive('arraySync');
    this._assertSyncRead('arraySync', 'await t.array()');
    return nest(this.dataSync(), this.shape);
  }

  /**
   * The value of a single-element tensor, on any backend.
   * @example const l = await loss.item();
   */
  async item(this: Tensor): Promise<number> {
    this._assertLive('item');
    assertItem(this, 'item');
    return (await this.data())[0];
  }

  /**
   * The value of a single-element tensor, read synchronously (backends with
   * `features.syncRead`; on others use `await t.item()`).
   * @example if (loss.itemSync() < 0.1) break;
   */
  itemSync(this: Tensor): number {
    this._assertLive('itemSync');
    assertItem(this, 'itemSync');
    this._assertSyncRead('itemSync', 'await t.item()');
    return this.dataSync()[0];
  }

  /** @deprecated Renamed `item()` (unsuffixed names work on every backend); removed in the next release. */
  itemAsync(this: Tensor): Promise<number> {
    return this.item();
  }

  /**
   * Values formatted like PyTorch: `tensor([[1., 2.], [3., 4.]])`, summarised
   * past 1000 elements. On a backend without synchronous reads (WebGPU) it
   * prints a placeholder naming the asynchronous reads instead of throwing, so
   * logging and template strings keep working.
   */
  toString(this: Tensor): string {
    if (this.isDisposed) return `tensor(<disposed>, shape=${fmtShape(this.shape)}, dtype=${this.dtype})`;
    if (!this._ref.backend.features.syncRead) {
      return `tensor(<on ${this._ref.backend.name}, read with await t.data() or await t.array()>, shape=${fmtShape(this.shape)}, dtype=${this.dtype})`;
    }
    return formatTensor(this.dataSync(), this.shape, this.dtype, {
      requiresGrad: this.requiresGrad,
      gradFn: this.gradFn?.name ?? null,
    });
  }

  /**
   * A copy on another backend (no autograd link), or an alias when `backend` is
   * this tensor's, from any backend: the values travel through the host.
   * @example const onCpu = await gpuTensor.to(wasm);
   */
  async to(this: Tensor, backend: Backend): Promise<Tensor> {
    if (backend === this._ref.backend || this._ref.backend.features.syncRead) return this.toSync(backend);
    this._assertLive('to');
    return sh.fromHost(await this.data(), this.shape, this.dtype, backend);
  }

  /**
   * `to(backend)` read synchronously: from a backend without `features.syncRead`
   * (WebGPU) this throws UnsupportedError; use `await t.to(backend)`.
   * @example const onRef = wasmTensor.toSync(reference);
   */
  toSync(this: Tensor, backend: Backend): Tensor {
    if (backend === this._ref.backend) return sh.alias(this);
    this._assertLive('toSync');
    this._assertSyncRead('toSync', 'await t.to(backend)');
    return sh.toBackend(this, backend);
  }

  /** @deprecated Renamed `to(backend)` (unsuffixed names work on every backend); removed in the next release. */
  toAsync(this: Tensor, backend: Backend): Promise<Tensor> {
    return this.to(backend);
  }

  /**
   * Computes gradients of this tensor with respect to every leaf that requires
   * grad and accumulates them into their `.grad`. A non-scalar output needs
   * `gradOutput`. Saved tensors are freed afterwards unless `retainGraph`.
   * @example loss.backward(); w.grad!.print();
   */
  backward(this: Tensor, gradOutput?: Tensor, options?: BackwardOptions): void {
    runBackward(this, gradOutput, options);
  }

  /** Drops (`setToNone`, default) or zero-fills this leaf's gradient. */
  zeroGrad(this: Tensor, setToNone = true): void {
    if (!this._grad) return;
    if (setToNone) {
      this._grad.dispose();
      this._grad = null;
    } else inplace.fillInPlace(this._grad, 0);
  }

  /** Logs `toString()`. */
  print(this: Tensor): void {
    console.log(this.toString());
  }

  // ---- in place (no autograd; refused on tensors requiring grad unless inside noGrad) ----
  /** Copies `src` (broadcast to this shape) into this tensor; returns this. */
  assign<T extends Tensor>(this: T, src: Operand): T {
    inplace.assign(this, src);
    return this;
  }
  /** this += alpha * other, in place. */
  add_<T extends Tensor>(this: T, other: Operand, alpha = 1): T {
    inplace.binaryInPlace(this, 'add', other, alpha);
    return this;
  }
  /** this -= alpha * other, in place. */
  sub_<T extends Tensor>(this: T, other: Operand, alpha = 1): T {
    inplace.binaryInPlace(this, 'sub', other, alpha);
    return this;
  }
  /** this *= other, in place. */
  mul_<T extends Tensor>(this: T, other: Operand): T {
    inplace.binaryInPlace(this, 'mul', other, 1);
    return this;
  }
  /** this /= other, in place. */
  div_<T extends Tensor>(this: T, other: Operand): T {
    inplace.binaryInPlace(this, 'div', other, 1);
    return this;
  }
  /** Fills with `value`, in place. */
  fill_<T extends Tensor>(this: T, value: number): T {
    inplace.fillInPlace(this, value);
    return this;
  }
  /** Fills with zeros, in place. */
  zero_<T extends Tensor>(this: T): T {
    inplace.fillInPlace(this, 0);
    return this;
  }

  // ---- elementwise ----
  add(this: Tensor, other: Operand): Tensor { return ew.add(this, other); }
  sub(this: Tensor, other: Operand): Tensor { return ew.sub(this, other); }
  mul(this: Tensor, other: Operand): Tensor { return ew.mul(this, other); }
  div(this: Tensor, other: Operand): Tensor { return ew.div(this, other); }
  pow(this: Tensor, exponent: Operand): Tensor { return ew.pow(this, exponent); }
  maximum(this: Tensor, other: Operand): Tensor { return ew.maximum(this, other); }
  minimum(this: Tensor, other: Operand): Tensor { return ew.minimum(this, other); }
  clamp(this: Tensor, min?: number, max?: number): Tensor { return ew.clamp(this, min, max); }
  neg(this: Tensor): Tensor { return ew.neg(this); }
  exp(this: Tensor): Tensor { return ew.exp(this); }
  log(this: Tensor): Tensor { return ew.log(this); }
  sqrt(this: Tensor): Tensor { return ew.sqrt(this); }
  rsqrt(this: Tensor): Tensor { return ew.rsqrt(this); }
  tanh(this: Tensor): Tensor { return ew.tanh(this); }
  sigmoid(this: Tensor): Tensor { return ew.sigmoid(this); }
  silu(this: Tensor): Tensor { return ew.silu(this); }
  relu(this: Tensor): Tensor { return ew.relu(this); }
  gelu(this: Tensor): Tensor { return ew.gelu(this); }
  abs(this: Tensor): Tensor { return ew.abs(this); }
  square(this: Tensor): Tensor { return ew.square(this); }
  reciprocal(this: Tensor): Tensor { return ew.reciprocal(this); }
  sign(this: Tensor): Tensor { return ew.sign(this); }
  eq(this: Tensor, other: Operand): Tensor { return ew.eq(this, other); }
  ne(this: Tensor, other: Operand): Tensor { return ew.ne(this, other); }
  lt(this: Tensor, other: Operand): Tensor { return ew.lt(this, other); }
  le(this: Tensor, other: Operand): Tensor { return ew.le(this, other); }
  gt(this: Tensor, other: Operand): Tensor { return ew.gt(this, other); }
  ge(this: Tensor, other: Operand): Tensor { return ew.ge(this, other); }
  maskedFill(this: Tensor, mask: Tensor, value: number): Tensor { return ew.maskedFill(this, mask, value); }
  cast(this: Tensor, dtype: DType): Tensor { return ew.cast(this, dtype); }
  /** Same values as f32. */
  float(this: Tensor): Tensor { return ew.cast(this, 'f32'); }
  /** Same values as i32 (truncated toward zero). */
  int(this: Tensor): Tensor { return ew.cast(this, 'i32'); }

  // ---- reductions ----
  sum(this: Tensor, axis?: number | readonly number[], keepDims = false): Tensor { return red.sum(this, axis, keepDims); }
  mean(this: Tensor, axis?: number | readonly number[], keepDims = false): Tensor { return red.mean(this, axis, keepDims); }
  var(this: Tensor, axis?: number | readonly number[], keepDims = false, unbiased = true): Tensor { return red.variance(this, axis, keepDims, unbiased); }
  max(this: Tensor, axis?: number | readonly number[], keepDims = false): Tensor { return red.max(this, axis, keepDims); }
  min(this: Tensor, axis?: number | readonly number[], keepDims = false): Tensor { return red.min(this, axis, keepDims); }
  maxWithIndices(this: Tensor, axis: number, keepDims = false): { values: Tensor; indices: Tensor } { return red.maxWithIndices(this, axis, keepDims); }
  minWithIndices(this: Tensor, axis: number, keepDims = false): { values: Tensor; indices: Tensor } { return red.minWithIndices(this, axis, keepDims); }
  argmax(this: Tensor, axis?: number, keepDims = false): Tensor { return red.argmax(this, axis, keepDims); }
  argmin(this: Tensor, axis?: number, keepDims = false): Tensor { return red.argmin(this, axis, keepDims); }

  // ---- linear algebra ----
  matmul(this: Tensor, other: Tensor): Tensor { return mm.matmul(this, other); }

  // ---- shape ----
  reshape(this: Tensor, shape: readonly number[]): Tensor { return sh.reshape(this, shape); }
  view(this: Tensor, shape: readonly number[]): Tensor { return sh.view(this, shape); }
  contiguous(this: Tensor): Tensor { return sh.contiguous(this); }
  clone(this: Tensor): Tensor { return sh.clone(this); }
  transpose(this: Tensor, dim0 = -2, dim1 = -1): Tensor { return sh.transpose(this, dim0, dim1); }
  /** Transpose of the last two dimensions (PyTorch's mT); a 0-D or 1-D tensor comes back as a new handle. */
  get T(): Tensor {
    const x = this as unknown as Tensor;
    return x.rank < 2 ? sh.alias(x) : sh.transpose(x, -2, -1);
  }
  /** Transpose of the last two dimensions of a tensor with at least two (PyTorch's mT). */
  get mT(): Tensor {
    const x = this as unknown as Tensor;
    if (x.rank < 2) throw new ShapeError(`mT: needs at least 2 dimensions, got shape ${fmtShape(x.shape)}`);
    return sh.transpose(x, -2, -1);
  }
  /** PyTorch's t(): a 2-D tensor transposed; 0-D and 1-D come back as they are (a new handle). */
  t(this: Tensor): Tensor {
    if (this.rank > 2) throw new ShapeError(`t: expects a tensor with at most 2 dimensions, got shape ${fmtShape(this.shape)}; use transpose(dim0, dim1) or mT`);
    return this.rank < 2 ? sh.alias(this) : sh.transpose(this, 0, 1);
  }
  permute(this: Tensor, dims: readonly number[]): Tensor { return sh.permute(this, dims); }
  expand(this: Tensor, shape: readonly number[]): Tensor { return sh.expand(this, shape); }
  squeeze(this: Tensor, axis?: number | readonly number[]): Tensor { return sh.squeeze(this, axis); }
  unsqueeze(this: Tensor, axis: number): Tensor { return sh.unsqueeze(this, axis); }
  flatten(this: Tensor, startDim = 0, endDim = -1): Tensor { return sh.flatten(this, startDim, endDim); }
  slice(this: Tensor, ranges: readonly sh.SliceRange[]): Tensor { return sh.slice(this, ranges); }
  narrow(this: Tensor, axis: number, start: number, length: number): Tensor { return sh.narrow(this, axis, start, length); }
  split(this: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] { return sh.split(this, sizes, axis); }

  // ---- indexing ----
  gather(this: Tensor, axis: number, index: Tensor): Tensor { return idx.gather(this, axis, index); }
  indexSelect(this: Tensor, axis: number, indices: Tensor): Tensor { return idx.indexSelect(this, axis, indices); }

  // ---- neural-network functions ----
  softmax(this: Tensor, axis = -1): Tensor { return nn.softmax(this, axis); }
  logSoftmax(this: Tensor, axis = -1): Tensor { return nn.logSoftmax(this, axis); }
}


declare module './tensor.js' {
  interface Tensor extends TensorMethods {}
}

// Each method is wrapped by guardOp (scope.ts), as the free functions are in
// index.ts: a method that throws frees the tensors it created first.
for (const name of Object.getOwnPropertyNames(TensorMethods.prototype)) {
  if (name === 'constructor') continue;
  const d = Object.getOwnPropertyDescriptor(TensorMethods.prototype, name)!;
  if (typeof d.value === 'function') d.value = guardOp(d.value as (...args: never[]) => unknown);
  if (d.get) d.get = guardOp(d.get);
  Object.defineProperty(Tensor.prototype, name, d);
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
