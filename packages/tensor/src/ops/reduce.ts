/**
 * Reductions: sum, mean, var, max/min (with indices), argmax/argmin, and
 * sumToShape (how broadcast gradients get back to their input's shape).
 *
 * The kernel reduces the middle axis of a contiguous [outer, axisLen, inner]
 * view, so one primitive reduces a run of adjacent dims; other axis sets are
 * permuted next to each other first (a view, so autograd composes through it).
 */

import { ArgumentError, ShapeError, fmtShape, fmtValue, normalizeAxis, sizeOf, type ReduceOp } from '@tessera/core';
import { attachGrad, recording } from '../autograd.js';
import { backendOf, dense, empty, expectDType, withDense } from '../kernels.js';
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { div, mul, square, sub } from './elementwise.js';
import { broadcastAxes } from './broadcast.js';
import { alias, expand, permute, reshape } from './shape.js';

/** Sorted, de-duplicated, non-negative axes; undefined means every axis. */
export function normalizeAxes(op: string, axis: number | readonly number[] | undefined, rank: number): number[] {
  if (axis === undefined) return Array.from({ length: rank }, (_, i) => i);
  if (typeof axis !== 'number' && !Array.isArray(axis)) throw new ArgumentError(`${op}: axis must be an integer or an array of integers, got ${fmtValue(axis)}`);
  const list = typeof axis === 'number' ? [axis] : axis;
  const out = new Set<number>();
  for (const a of list) {
    let n: number;
    try {
      n = normalizeAxis(a, rank);
    } catch (e) {
      if (e instanceof ArgumentError) throw new ArgumentError(`${op}: ${e.message}`);
      throw e;
    }
    if (out.has(n)) throw new ArgumentError(`${op}: axis ${a} appears twice in [${list.join(', ')}]`);
    out.add(n);
  }
  // A scalar has no axes; axis 0 / -1 of a scalar reduce nothing.
  return rank === 0 ? [] : [...out].sort((p, q) => p - q);
}

function consecutive(axes: readonly number[]): boolean {
  return axes.every((a, i) => i === 0 || a === axes[i - 1] + 1);
}

/** [outer, axisLen, inner] of reducing dims [s, e) of `shape`. */
function split3(shape: readonly number[], s: number, e: number): [number, number, number] {
  return [sizeOf(shape.slice(0, s)), sizeOf(shape.slice(s, e)), sizeOf(shape.slice(e))];
}

/** Runs `fn` on x with the reduced `axes` made adjacent: fn gets (view, first reduced dim). */
function withAdjacent(x: Tensor, axes: readonly number[], fn: (v: Tensor, s: number, e: number) => Tensor): Tensor {
  if (consecutive(axes)) return fn(x, axes[0], axes[axes.length - 1] + 1);
  const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
  return fn(permute(x, [...kept, ...axes]), kept.length, x.rank);
}

function keptShape(shape: readonly number[], axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** sum or mean over the adjacent dims [s, e). */
function sumRange(op: 'sum' | 'mean', x: Tensor, s: number, e: number): Tensor {
  const be = backendOf(op, x);
  expectDType(op, x, 'f32');
  const [outer, axisLen, inner] = split3(x.shape, s, e);
  const out = empty(be, [...x.shape.slice(0, s), ...x.shape.slice(e)], 'f32');
  if (out.size > 0) withDense([x], (xd) => be.reduce({ op, x: xd, out: dense(out), outer, axisLen, inner }));
  const xs = x.shape;
  return attachGrad(op === 'sum' ? 'Sum' : 'Mean', out, [x], () => (g) => {
    const spread = expand(reshape(g, [...xs.slice(0, s), ...new Array<number>(e - s).fill(1), ...xs.slice(e)]), xs);
    return [op === 'mean' ? mul(spread, 1 / axisLen) : spread];
  });
}

function reduceAxes(op: 'sum' | 'mean', x: Tensor, axis: number | readonly number[] | undefined, keepDims: boolean): Tensor {
  const axes = normalizeAxes(op, axis, x.rank);
  x._assertLive(op);
  expectDType(op, x, 'f32');
  return tidy(() => {
    if (axes.length === 0) return alias(x);
    const r = withAdjacent(x, axes, (v, s, e) => sumRange(op, v, s, e));
    return keepDims ? reshape(r, keptShape(x.shape, axes)) : r;
  });
}

/**
 * Sum over `axis` (a dim, a list of dims, or every dim when omitted).
 * @example sum(x); sum(x, 1); sum(x, [0, 2], true)
 */
export function sum(x: Tensor, axis?: number | readonly number[], keepDims = false): Tensor {
  return reduceAxes('sum', x, axis, keepDims);
}

/** Mean over `axis` (every dim when omitted). */
export function mean(x: Tensor, axis?: number | readonly number[], keepDims = false): Tensor {
  return reduceAxes('mean', x, axis, keepDims);
}

/**
 * Variance over `axis`; `unbiased` (default) divides by n - 1 like PyTorch.
 * @example variance(x, -1, true, false) // population variance of each row
 */
export function variance(x: Tensor, axis?: number | readonly number[], keepDims = false, unbiased = true): Tensor {
  const axes = normalizeAxes('var', axis, x.rank);
  const n = sizeOf(axes.map((a) => x.shape[a]));
  return tidy(() => {
    const d = sub(x, mean(x, axes, true));
    return div(sum(square(d), axes, keepDims), n - (unbiased ? 1 : 0));
  });
}

function checkNonEmpty(op: string, x: Tensor, axes: readonly number[]): void {
  if (axes.some((a) => x.shape[a] === 0) || (x.rank === 0 && x.size === 0)) {
    throw new ShapeError(`${op}: cannot reduce an empty dimension (shape ${fmtShape(x.shape)}, axes [${axes.join(', ')}]); it has no identity`);
  }
}

/** max/min over adjacent dims [s, e), with the flat index within them. */
function extremeRange(op: 'max' | 'min', x: Tensor, s: number, e: number, wantIndices: boolean): { values: Tensor; indices: Tensor | null } {
  const be = backendOf(op, x);
  expectDType(op, x, 'f32');
  const [outer, axisLen, inner] = split3(x.shape, s, e);
  const outShape = [...x.shape.slice(0, s), ...x.shape.slice(e)];
  const values = empty(be, outShape, 'f32');
  const needIdx = wantIndices || recording(x);
  const indices = needIdx ? empty(be, outShape, 'i32') : null;
  if (values.size > 0) {
    withDense([x], (xd) => {
      be.reduce({ op, x: xd, out: dense(values), outer, axisLen, inner });
      if (indices) be.reduce({ op: op === 'max' ? 'argmax' : 'argmin', x: xd, out: dense(indices), outer, axisLen, inner });
    });
  }
  const xs = x.shape;
  attachGrad(op === 'max' ? 'Max' : 'Min', values, [x], (save) => {
    const I = save(indices!);
    // The gradient goes to the selected element: scatter-add into zeros [outer, axisLen, inner].
    return (g) => {
      const gb = backendOf(`${op} backward`, g, I);
      const dx = empty(gb, xs, 'f32');
      if (dx.size > 0) {
        gb.fill({ out: dense(dx), n: dx.size, value: 0, dtype: 'f32' });
        withDense([g, I], (gd, id) => gb.scatterAdd({ dOut: gd, indices: id, dx: dense(dx), outer, axisLen, inner, count: 1 }));
      }
      return [dx];
    };
  });
  if (!wantIndices && indices) {
    indices.dispose();
    return { values, indices: null };
  }
  return { values, indices };
}

function extreme(op: 'max' | 'min', x: Tensor, axis: number | readonly number[] | undefined, keepDims: boolean): Tensor {
  const axes = normalizeAxes(op, axis, x.rank);
  x._assertLive(op);
  expectDType(op, x, 'f32');
  checkNonEmpty(op, x, axes);
  return tidy(() => {
    if (axes.length === 0) return alias(x);
    const r = withAdjacent(x, axes, (v, s, e) => extremeRange(op, v, s, e, false).values);
    return keepDims ? reshape(r, keptShape(x.shape, axes)) : r;
  });
}

/**
 * Maximum over `axis` (every dim when omitted). The gradient goes to the
 * first maximal element. For the indices too, see `maxWithIndices`.
 */
export function max(x: Tensor, axis?: number | readonly number[], keepDims = false): Tensor {
  return extreme('max', x, axis, keepDims);
}

/** Minimum over `axis` (every dim when omitted). */
export function min(x: Tensor, axis?: number | readonly number[], keepDims = false): Tensor {
  return extreme('min', x, axis, keepDims);
}

function extremeWithIndices(op: 'max' | 'min', x: Tensor, axis: number, keepDims: boolean): { values: Tensor; indices: Tensor } {
  if (typeof axis !== 'number') throw new ArgumentError(`${op}WithIndices: axis must be a single dimension, got ${String(axis)}`);
  const [a] = normalizeAxes(`${op}WithIndices`, axis, x.rank);
  x._assertLive(op);
  expectDType(op, x, 'f32');
  if (a === undefined) {
    // A scalar: its only element is the extreme, at index 0.
    return tidy(() => {
      const r = extremeRange(op, reshape(x, [1]), 0, 1, true);
      return { values: r.values, indices: r.indices! };
    });
  }
  checkNonEmpty(op, x, [a]);
  return tidy(() => {
    const r = extremeRange(op, x, a, a + 1, true);
    const indices = r.indices!;
    if (!keepDims) return { values: r.values, indices };
    const ks = keptShape(x.shape, [a]);
    return { values: reshape(r.values, ks), indices: reshape(indices, ks) };
  });
}

/**
 * Maximum along one axis and where it is (i32 indices), like torch.max(x, dim).
 * @example const { values, indices } = maxWithIndices(logits, -1);
 */
export function maxWithIndices(x: Tensor, axis: number, keepDims = false): { values: Tensor; indices: Tensor } {
  return extremeWithIndices('max', x, axis, keepDims);
}

/** Minimum along one axis and where it is (i32 indices). */
export function minWithIndices(x: Tensor, axis: number, keepDims = false): { values: Tensor; indices: Tensor } {
  return extremeWithIndices('min', x, axis, keepDims);
}

function argExtreme(op: 'argmax' | 'argmin', x: Tensor, axis: number | undefined, keepDims: boolean): Tensor {
  const be = backendOf(op, x);
  expectDType(op, x, 'f32');
  const axes = normalizeAxes(op, axis, x.rank);
  checkNonEmpty(op, x, axes);
  const [s, e] = axes.length === 0 ? [0, 0] : [axes[0], axes[axes.length - 1] + 1];
  const [outer, axisLen, inner] = split3(x.shape, s, e);
  const shape = keepDims ? keptShape(x.shape, axes) : [...x.shape.slice(0, s), ...x.shape.slice(e)];
  const out = empty(be, shape, 'i32');
  if (out.size > 0) withDense([x], (xd) => be.reduce({ op: op as ReduceOp, x: xd, out: dense(out), outer, axisLen, inner }));
  return out;
}

/**
 * Index of the maximum along `axis` (i32; over the flattened tensor when omitted).
 * @example argmax(logits, -1)
 */
export function argmax(x: Tensor, axis?: number, keepDims = false): Tensor {
  return argExtreme('argmax', x, axis, keepDims);
}

/** Index of the minimum along `axis` (i32; over the flattened tensor when omitted). */
export function argmin(x: Tensor, axis?: number, keepDims = false): Tensor {
  return argExtreme('argmin', x, axis, keepDims);
}

/**
 * Sums a broadcast gradient back to `shape`: over leading dims it lacks and
 * over dims where it has size 1. Returns `g` itself when the shapes match.
 * @example sumToShape(g, [1, 3]) // g: [4, 2, 3] -> [1, 3]
 */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const axes = broadcastAxes('sumToShape', g.shape, shape);
  return tidy(() => reshape(sum(g, axes, true), shape));
}
