/**
 * Shape ops. reshape/view/transpose/permute/expand/squeeze/unsqueeze/slice/
 * narrow/split return views sharing the input's storage (a new handle, so
 * disposing a view never frees data another tensor still uses); concat,
 * stack, contiguous (of a non-contiguous input) and clone copy.
 */

import { ArgumentError, DTypeError, IndexError, ShapeError, contiguousStrides, fmtShape, sizeOf, type ArrayFor, type Backend, type DType } from '@tessera/core';
import { attachGrad } from '../autograd.js';
import { axisFor, backendOf, copyContiguous, dense, empty, strided, writeHost } from '../kernels.js';
import { tidy } from '../scope.js';
import type { Tensor } from '../tensor.js';
import { sumToShapeRaw as sumToShape } from './broadcast.js';

/** A view of x with the given geometry whose gradient is `back(g)`. */
function viewOp(name: string, x: Tensor, shape: readonly number[], strides: readonly number[], offset: number, back: (g: Tensor) => Tensor): Tensor {
  const out = x._view(shape, strides, offset, true);
  return attachGrad(name, out, [x], () => (g) => [back(g)]);
}

/** A new handle on the same data (gradient passes straight through). */
export function alias(x: Tensor): Tensor {
  return viewOp('Alias', x, x.shape, x.strides, x.offset, (g) => g);
}

function copyOp(name: string, x: Tensor): Tensor {
  const out = copyContiguous(x);
  return attachGrad(name, out, [x], () => (g) => [g]);
}

/** @internal A contiguous copy outside autograd and scopes (for reads). */
export function contiguousRaw(x: Tensor): Tensor {
  return copyContiguous(x, false);
}

/**
 * x itself (as a new handle) when contiguous, else a row-major copy.
 * @example x.transpose(0, 1).contiguous()
 */
export function contiguous(x: Tensor): Tensor {
  x._assertLive('contiguous');
  return x.isContiguous() ? alias(x) : copyOp('Contiguous', x);
}

/** A copy with its own storage (gradient passes through). */
export function clone(x: Tensor): Tensor {
  x._assertLive('clone');
  return copyOp('Clone', x);
}

function resolveShape(op: string, x: Tensor, shape: readonly number[]): number[] {
  let infer = -1;
  let known = 1;
  shape.forEach((d, i) => {
    if (d === -1) {
      if (infer >= 0) throw new ShapeError(`${op}: only one dimension can be -1, got ${fmtShape(shape)}`);
      infer = i;
    } else if (!Number.isSafeInteger(d) || d < 0) {
      throw new ShapeError(`${op}: invalid dimension ${d} in ${fmtShape(shape)}`);
    } else known *= d;
  });
  const out = shape.slice();
  if (infer >= 0) {
    if (known === 0 || x.size % known !== 0) {
      throw new ShapeError(`${op}: cannot infer the -1 in ${fmtShape(shape)} for a tensor of shape ${fmtShape(x.shape)} (${x.size} elements)`);
    }
    out[infer] = x.size / known;
  }
  if (sizeOf(out) !== x.size) {
    throw new ShapeError(`${op}: cannot reshape a tensor of shape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(out)} (${sizeOf(out)} elements)`);
  }
  return out;
}

/**
 * Strides that view (shape, strides) as newShape without copying, or null
 * when the layout does not allow it (PyTorch's computeStride).
 */
function viewStrides(shape: readonly number[], strides: readonly number[], newShape: readonly number[]): number[] | null {
  const size = sizeOf(shape);
  if (size <= 1 || shape.length === 0) return contiguousStrides(newShape);
  const out = new Array<number>(newShape.length).fill(0);
  let viewD = newShape.length - 1;
  let chunkBase = strides[strides.length - 1];
  let tensorNumel = 1;
  let viewNumel = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    tensorNumel *= shape[d];
    if (d === 0 || (shape[d - 1] !== 1 && strides[d - 1] !== tensorNumel * chunkBase)) {
      while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] === 1)) {
        out[viewD] = viewNumel * chunkBase;
        viewNumel *= newShape[viewD];
        viewD--;
      }
      if (viewNumel !== tensorNumel) return null;
      if (d > 0) {
        chunkBase = strides[d - 1];
        tensorNumel = 1;
        viewNumel = 1;
      }
    }
  }
  return viewD === -1 ? out : null;
}

/**
 * The same elements in a new shape (one dim may be -1). A view when the
 * layout allows, else a copy.
 * @example reshape(x, [2, -1])
 */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  x._assertLive('reshape');
  const target = resolveShape('reshape', x, shape);
  const st = viewStrides(x.shape, x.strides, target);
  const xs = x.shape;
  if (st) return viewOp('Reshape', x, target, st, x.offset, (g) => reshape(g, xs));
  return tidy(() => reshape(copyOp('Contiguous', x), target));
}

/**
 * Like reshape, but only for contiguous tensors (always a view); throws otherwise.
 * @example x.view([-1])
 */
export function view(x: Tensor, shape: readonly number[]): Tensor {
  x._assertLive('view');
  if (!x.isContiguous()) {
    throw new ShapeError(`view: tensor of shape ${fmtShape(x.shape)} with strides ${fmtShape(x.strides)} is not contiguous; use reshape() or contiguous().view()`);
  }
  const target = resolveShape('view', x, shape);
  const xs = x.shape;
  return viewOp('View', x, target, contiguousStrides(target), x.offset, (g) => reshape(g, xs));
}

/**
 * Reorders dimensions (a view).
 * @example permute(x, [0, 2, 1])
 */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  x._assertLive('permute');
  if (dims.length !== x.rank) throw new ArgumentError(`permute: ${dims.length} dims given for a tensor of rank ${x.rank} (shape ${fmtShape(x.shape)})`);
  const p = dims.map((d) => axisFor('permute', d, x.rank));
  if (new Set(p).size !== p.length) throw new ArgumentError(`permute: [${dims.join(', ')}] is not a permutation of the ${x.rank} dimensions`);
  const inverse = new Array<number>(p.length);
  p.forEach((d, i) => (inverse[d] = i));
  return viewOp(
    'Permute',
    x,
    p.map((d) => x.shape[d]),
    p.map((d) => x.strides[d]),
    x.offset,
    (g) => permute(g, inverse),
  );
}

/**
 * Swaps two dimensions (a view); defaults to the last two.
 * @example transpose(w) // [in, out] -> [out, in]
 */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  x._assertLive('transpose');
  const a = axisFor('transpose', dim0, x.rank);
  const b = axisFor('transpose', dim1, x.rank);
  const p = x.shape.map((_, i) => i);
  p[a] = b;
  p[b] = a;
  return permute(x, p);
}

/**
 * Broadcasts size-1 dims (and new leading dims) to `shape` without copying; -1 keeps a dim.
 * @example expand(bias, [batch, -1])
 */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  x._assertLive('expand');
  const lead = shape.length - x.rank;
  if (lead < 0) throw new ShapeError(`expand: target ${fmtShape(shape)} has fewer dimensions than the input ${fmtShape(x.shape)}`);
  const outShape: number[] = [];
  const outStrides: number[] = [];
  shape.forEach((d, i) => {
    const j = i - lead;
    if (j < 0) {
      if (!Number.isSafeInteger(d) || d < 0) throw new ShapeError(`expand: new leading dimension ${d} in ${fmtShape(shape)} must be a size >= 0`);
      outShape.push(d);
      outStrides.push(0);
      return;
    }
    const xd = x.shape[j];
    if (d === -1 || d === xd) {
      outShape.push(xd);
      outStrides.push(x.strides[j]);
    } else if (xd === 1 && Number.isSafeInteger(d) && d >= 0) {
      outShape.push(d);
      outStrides.push(0);
    } else {
      throw new ShapeError(`expand: cannot expand shape ${fmtShape(x.shape)} to ${fmtShape(shape)} (dimension ${i}: ${xd} vs ${d}; only size-1 dims expand)`);
    }
  });
  const xs = x.shape;
  return viewOp('Expand', x, outShape, outStrides, x.offset, (g) => sumToShape(g, xs));
}

/**
 * Removes size-1 dims: all of them, or those among `axis` (others are left as they are, like PyTorch).
 * @example squeeze(x, 0)
 */
export function squeeze(x: Tensor, axis?: number | readonly number[]): Tensor {
  x._assertLive('squeeze');
  const drop = new Set<number>();
  if (axis === undefined) x.shape.forEach((d, i) => d === 1 && drop.add(i));
  else for (const a of typeof axis === 'number' ? [axis] : axis) {
    const n = axisFor('squeeze', a, x.rank);
    if (x.rank > 0 && x.shape[n] === 1) drop.add(n);
  }
  const xs = x.shape;
  return viewOp(
    'Squeeze',
    x,
    x.shape.filter((_, i) => !drop.has(i)),
    x.strides.filter((_, i) => !drop.has(i)),
    x.offset,
    (g) => reshape(g, xs),
  );
}

/**
 * Inserts a size-1 dim at `axis` (-1 appends).
 * @example unsqueeze(x, 0) // [3] -> [1, 3]
 */
export function unsqueeze(x: Tensor, axis: number): Tensor {
  x._assertLive('unsqueeze');
  const a = axisFor('unsqueeze', axis, x.rank + 1);
  const shape = [...x.shape.slice(0, a), 1, ...x.shape.slice(a)];
  const stride = a < x.rank ? x.strides[a] * x.shape[a] : 1;
  const strides = [...x.strides.slice(0, a), stride, ...x.strides.slice(a)];
  const xs = x.shape;
  return viewOp('Unsqueeze', x, shape, strides, x.offset, (g) => reshape(g, xs));
}

/**
 * Merges dims startDim..endDim (inclusive) into one.
 * @example flatten(x, 1) // [B, C, H, W] -> [B, C*H*W]
 */
export function flatten(x: Tensor, startDim = 0, endDim = -1): Tensor {
  x._assertLive('flatten');
  if (x.rank === 0) return reshape(x, [1]);
  const s = axisFor('flatten', startDim, x.rank);
  const e = axisFor('flatten', endDim, x.rank);
  if (s > e) throw new ArgumentError(`flatten: startDim ${startDim} comes after endDim ${endDim} for rank ${x.rank}`);
  return reshape(x, [...x.shape.slice(0, s), sizeOf(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)]);
}

/** One dim of a slice: [start, end?, step?] with Python semantics (negative counts from the end); null keeps the dim. */
export type SliceRange = null | undefined | readonly [start?: number | null, end?: number | null, step?: number];

/** A slice's gradient: zeros of the input's shape with g written into the sliced region. */
function padInto(g: Tensor, xShape: readonly number[], offset: number, strides: readonly number[]): Tensor {
  const be = backendOf('slice backward', g);
  const dx = empty(be, xShape, 'f32');
  if (dx.size > 0) be.fill({ out: dense(dx), n: dx.size, value: 0, dtype: 'f32' });
  if (g.size > 0) be.copy({ x: strided(g), out: { storage: dx._ref.storage, offset, strides }, shape: g.shape });
  return dx;
}

/**
 * A strided window (a view): one [start, end?, step?] per leading dim, null to keep a dim.
 * @example slice(x, [[0, 2], null, [1, undefined, 2]]) // x[0:2, :, 1::2]
 */
export function slice(x: Tensor, ranges: readonly SliceRange[]): Tensor {
  x._assertLive('slice');
  if (ranges.length > x.rank) throw new ArgumentError(`slice: ${ranges.length} ranges given for a tensor of rank ${x.rank} (shape ${fmtShape(x.shape)})`);
  const cs = contiguousStrides(x.shape);
  const shape = x.shape.slice();
  const strides = x.strides.slice();
  let offset = x.offset;
  let gradOffset = 0;
  const gradStrides = cs.slice();
  ranges.forEach((r, i) => {
    if (r === null || r === undefined) return;
    const n = x.shape[i];
    const step = r[2] ?? 1;
    if (!Number.isSafeInteger(step) || step < 1) throw new ArgumentError(`slice: step ${step} in dimension ${i} must be a positive integer`);
    const norm = (v: number | null | undefined, dflt: number) => {
      if (v === null || v === undefined) return dflt;
      if (!Number.isInteger(v)) throw new ArgumentError(`slice: bound ${v} in dimension ${i} is not an integer`);
      return Math.min(Math.max(v < 0 ? v + n : v, 0), n);
    };
    const start = norm(r[0], 0);
    const end = norm(r[1], n);
    const len = end > start ? Math.ceil((end - start) / step) : 0;
    shape[i] = len;
    if (len > 0) offset += start * x.strides[i];
    strides[i] = x.strides[i] * step;
    if (len > 0) gradOffset += start * cs[i];
    gradStrides[i] = cs[i] * step;
  });
  const xs = x.shape;
  return viewOp('Slice', x, shape, strides, offset, (g) => padInto(g, xs, gradOffset, gradStrides));
}

/**
 * `length` elements of `axis` from `start` (a view).
 * @example narrow(x, 1, 0, 2) // x[:, 0:2]
 */
export function narrow(x: Tensor, axis: number, start: number, length: number): Tensor {
  x._assertLive('narrow');
  const a = axisFor('narrow', axis, x.rank);
  const n = x.shape[a];
  const s = start < 0 ? start + n : start;
  if (!Number.isInteger(s) || !Number.isInteger(length) || s < 0 || length < 0 || s + length > n) {
    throw new IndexError(`narrow: start ${start}, length ${length} is out of range for dimension ${a} of size ${n} (shape ${fmtShape(x.shape)})`);
  }
  const ranges: SliceRange[] = x.shape.map(() => null);
  ranges[a] = [s, s + length];
  return slice(x, ranges);
}

/**
 * Joins tensors along an existing axis; all other dims must match.
 * @example concat([a, b], 1)
 */
export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ArgumentError('concat: needs at least one tensor');
  const first = tensors[0];
  const be = backendOf('concat', ...tensors);
  const a = axisFor('concat', axis, first.rank);
  if (first.rank === 0) throw new ShapeError('concat: scalars cannot be concatenated; unsqueeze them or use stack()');
  let total = 0;
  for (const t of tensors) {
    if (t.dtype !== first.dtype) throw new DTypeError(`concat: dtype mismatch: ${fmtShape(first.shape)} ${first.dtype} vs ${fmtShape(t.shape)} ${t.dtype}`);
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new ShapeError(
        `concat: shapes ${tensors.map((u) => fmtShape(u.shape)).join(', ')} must match in every dimension except ${a}`,
      );
    }
    total += t.shape[a];
  }
  const shape = first.shape.slice();
  shape[a] = total;
  const out = empty(be, shape, first.dtype);
  let at = 0;
  const starts: number[] = [];
  for (const t of tensors) {
    starts.push(at);
    if (t.size > 0) be.copy({ x: strided(t), out: { storage: out._ref.storage, offset: at * out.strides[a], strides: out.strides }, shape: t.shape });
    at += t.shape[a];
  }
  const lens = tensors.map((t) => t.shape[a]);
  return attachGrad('Concat', out, tensors, (_s, needs) => (g) => lens.map((len, i) => (needs[i] ? narrow(g, a, starts[i], len) : null)));
}

/**
 * Joins same-shaped tensors along a new axis.
 * @example stack([a, b]) // two [3] -> [2, 3]
 */
export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new ArgumentError('stack: needs at least one tensor');
  const first = tensors[0];
  for (const t of tensors) {
    if (t.rank !== first.rank || t.shape.some((d, i) => d !== first.shape[i])) {
      throw new ShapeError(`stack: every tensor must have the same shape, got ${tensors.map((u) => fmtShape(u.shape)).join(', ')}`);
    }
  }
  const a = axisFor('stack', axis, first.rank + 1);
  return tidy(() => concat(tensors.map((t) => unsqueeze(t, a)), a));
}

/**
 * Splits along `axis` into chunks of `sizes` (a number: equal chunks, the last may be smaller). Views.
 * @example const [q, k, v] = split(qkv, 768, -1);
 */
export function split(x: Tensor, sizes: number | readonly number[], axis = 0): Tensor[] {
  x._assertLive('split');
  const a = axisFor('split', axis, x.rank);
  const n = x.shape[a];
  let parts: number[];
  if (typeof sizes === 'number') {
    if (!Number.isSafeInteger(sizes) || sizes <= 0) throw new ArgumentError(`split: chunk size ${sizes} must be a positive integer`);
    parts = [];
    for (let at = 0; at < n; at += sizes) parts.push(Math.min(sizes, n - at));
  } else {
    parts = sizes.slice();
    if (parts.some((p) => !Number.isSafeInteger(p) || p < 0) || parts.reduce((p, q) => p + q, 0) !== n) {
      throw new ShapeError(`split: sizes [${parts.join(', ')}] must be non-negative and sum to ${n}, the size of dimension ${a} of ${fmtShape(x.shape)}`);
    }
  }
  let at = 0;
  return parts.map((len) => {
    const t = narrow(x, a, at, len);
    at += len;
    return t;
  });
}

/** @internal A copy of `t` on another backend (synchronous read; no autograd link). */
export function toBackend(t: Tensor, be: Backend): Tensor {
  return fromHost(t.dataSync(), t.shape, t.dtype, be);
}

/** @internal A new tensor on `be` holding host values read from a tensor of `shape` and `dtype`. */
export function fromHost(data: ArrayFor<DType>, shape: readonly number[], dtype: DType, be: Backend): Tensor {
  const out = empty(be, shape, dtype);
  if (out.size > 0) writeHost(out, data);
  return out;
}
