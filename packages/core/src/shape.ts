/** Shape helpers shared by backends and the tensor package. */

import { ArgumentError, ShapeError, fmtShape } from './errors.js';

/** Number of elements of a shape (1 for a scalar `[]`). */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides of a contiguous tensor of `shape`. */
export function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** Throws unless every dim is a non-negative safe integer. */
export function checkShape(shape: readonly number[], what = 'shape'): void {
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new ShapeError(`${what} ${fmtShape(shape)} has an invalid dimension ${d}; dimensions are non-negative integers`);
    }
  }
}

/** NumPy broadcasting of two shapes; throws ShapeError naming both. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = i < n - a.length ? 1 : a[i - (n - a.length)];
    const db = i < n - b.length ? 1 : b[i - (n - b.length)];
    if (da !== db && da !== 1 && db !== 1) {
      throw new ShapeError(`shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together (dimension ${i}: ${da} vs ${db})`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Strides that read a tensor of `shape`/`strides` as if it had shape `target`
 * (NumPy broadcasting): missing leading dims and size-1 dims get stride 0.
 */
export function broadcastStrides(shape: readonly number[], strides: readonly number[], target: readonly number[]): number[] {
  const off = target.length - shape.length;
  if (off < 0) throw new ShapeError(`cannot broadcast ${fmtShape(shape)} to the shorter ${fmtShape(target)}`);
  const out = new Array<number>(target.length).fill(0);
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    const t = target[i + off];
    if (d === t) out[i + off] = strides[i];
    else if (d === 1) out[i + off] = 0;
    else throw new ShapeError(`cannot broadcast ${fmtShape(shape)} to ${fmtShape(target)} (dimension ${i + off}: ${d} vs ${t})`);
  }
  return out;
}

/** Resolves a possibly negative axis against a rank; throws naming both. */
export function normalizeAxis(axis: number, rank: number): number {
  if (!Number.isInteger(axis) || axis < -Math.max(rank, 1) || axis >= Math.max(rank, 1)) {
    throw new ArgumentError(`axis ${axis} is out of range for a tensor of rank ${rank}`);
  }
  return axis < 0 ? axis + Math.max(rank, 1) : axis;
}
