/**
 * Glue between tensors and backend kernels: output allocation, operand
 * descriptors and dense temporaries. Internal to the package.
 */

import { ArgumentError, DTypeError, IndexError, OutOfMemoryError, contiguousStrides, fmtShape, normalizeAxis, sizeOf, type Backend, type DType, type Dense, type Strided } from '@tessera/core';
import { checkPrimitives } from './primitives.js';
import { StorageRef } from './storage.js';
import { Tensor } from './tensor.js';

/** The one backend all tensor operands live on; throws if disposed or mixed. */
export function backendOf(op: string, ...ts: readonly Tensor[]): Backend {
  let be: Backend | null = null;
  for (const t of ts) {
    t._assertLive(op);
    const b = t._ref.backend;
    if (be && b !== be) {
      throw new ArgumentError(`${op}: operands live on different backends ('${be.name}' and '${b.name}'); move one with await t.to(backend)`);
    }
    be = b;
  }
  if (!be) throw new ArgumentError(`${op}: no tensor operand`);
  return be;
}

/** A new, uninitialised, contiguous tensor on `be`. */
export function empty(be: Backend, shape: readonly number[], dtype: DType, track = true): Tensor {
  checkPrimitives(be);
  const ref = new StorageRef(be, be.alloc(Math.max(sizeOf(shape), 1) * 4));
  return new Tensor(ref, shape, contiguousStrides(shape), 0, dtype, track);
}

/**
 * `empty` for a creation op: the allocation is the size check, made before any
 * host array is built, and a refusal is an OutOfMemoryError naming `op`, the
 * shape and the bytes it needs.
 */
export function emptyFor(op: string, be: Backend, shape: readonly number[], dtype: DType): Tensor {
  try {
    return empty(be, shape, dtype);
  } catch (e) {
    if (e instanceof OutOfMemoryError) throw new OutOfMemoryError(`${op}: a ${dtype} tensor of shape ${fmtShape(shape)} needs ${sizeOf(shape) * 4} bytes on backend '${be.name}', which refused: ${e.message}`);
    throw e;
  }
}

/** The strided operand describing `t`. */
export function strided(t: Tensor): Strided {
  return { storage: t._ref.storage, offset: t.offset, strides: t.strides };
}

/** `t`'s strided operand read as `shape` (NumPy broadcasting by 0-strides). */
export function broadcastOperand(t: Tensor, shape: readonly number[]): Strided {
  return { storage: t._ref.storage, offset: t.offset, strides: broadcastStridesOf(t, shape) };
}

function broadcastStridesOf(t: Tensor, target: readonly number[]): number[] {
  const off = target.length - t.shape.length;
  const out = new Array<number>(target.length).fill(0);
  for (let i = 0; i < t.shape.length; i++) out[i + off] = t.shape[i] === 1 ? 0 : t.strides[i];
  return out;
}

/** The dense operand of a contiguous tensor. */
export function dense(t: Tensor): Dense {
  return { storage: t._ref.storage, offset: t.offset };
}

/** a + b for two f32 tensors of the same shape, outside autograd (summing gradients). */
export function addSameShape(a: Tensor, b: Tensor): Tensor {
  const be = backendOf('add', a, b);
  const out = empty(be, a.shape, 'f32');
  if (out.size > 0) be.binary({ op: 'add', a: strided(a), b: strided(b), out: dense(out), shape: a.shape });
  return out;
}

/** A contiguous copy of `t` (any dtype). */
export function copyContiguous(t: Tensor, track = true): Tensor {
  const be = backendOf('contiguous', t);
  const out = empty(be, t.shape, t.dtype, track);
  if (t.size > 0) be.copy({ x: strided(t), out: { storage: out._ref.storage, offset: 0, strides: out.strides }, shape: t.shape });
  return out;
}

/**
 * Runs `fn` with a dense operand for each tensor, copying the non-contiguous
 * ones to temporaries that are freed afterwards.
 */
export function withDense<R>(ts: readonly Tensor[], fn: (...ds: Dense[]) => R): R {
  const temps: Tensor[] = [];
  try {
    const ds = ts.map((t) => {
      if (t.isContiguous()) return dense(t);
      const c = copyContiguous(t, false);
      temps.push(c);
      return dense(c);
    });
    return fn(...ds);
  } finally {
    for (const t of temps) t.dispose();
  }
}

/** Throws a DTypeError unless `t` has dtype `want`. */
export function expectDType(op: string, t: Tensor, want: DType, role = 'input'): void {
  if (t.dtype !== want) {
    const hint = want === 'f32' ? '; convert with .float()' : want === 'i32' ? '; convert with .int()' : '';
    throw new DTypeError(`${op}: ${role} of shape ${fmtShape(t.shape)} has dtype ${t.dtype}, expected ${want}${hint}`);
  }
}

/** A scalar (shape []) tensor holding `value` on `be`, not tracked by scopes. */
export function scalarOn(be: Backend, value: number, dtype: DType = 'f32'): Tensor {
  const t = empty(be, [], dtype, false);
  be.fill({ out: dense(t), n: 1, value, dtype });
  return t;
}

/** A backend that holds f32 data in float64 (`Backend.float64`, for finite-difference gradient checks): its `write` takes a Float64Array. */
type Float64Backend = Backend & { readonly float64: true; write(storage: Dense['storage'], data: Float64Array, offset?: number): void };

function keepsFloat64(be: Backend): be is Float64Backend {
  return be.float64 === true;
}

/** Writes host values into a contiguous tensor from element `at` on; float64 values keep full precision where the backend stores float64. */
export function writeHost(t: Tensor, data: ArrayLike<number>, at = 0): void {
  const be = t._ref.backend;
  if (t.dtype === 'i32') {
    be.write(t._ref.storage, data instanceof Int32Array ? data : Int32Array.from(data), t.offset + at);
  } else if (keepsFloat64(be) && !(data instanceof Float32Array)) {
    be.write(t._ref.storage, data instanceof Float64Array ? data : Float64Array.from(data), t.offset + at);
  } else {
    be.write(t._ref.storage, data instanceof Float32Array ? data : Float32Array.from(data), t.offset + at);
  }
}

/** `axis` normalised for a tensor of `rank` dims; an ArgumentError naming `op` when out of range. */
export function axisFor(op: string, axis: number, rank: number): number {
  try {
    return normalizeAxis(axis, rank);
  } catch (e) {
    if (e instanceof ArgumentError) throw new ArgumentError(`${op}: ${e.message}`);
    throw e;
  }
}

/** Runs `fn` (a kernel call that checks indices), prefixing an IndexError with `context`. */
export function withContext<R>(context: string, fn: () => R): R {
  try {
    return fn();
  } catch (e) {
    if (e instanceof IndexError) throw new IndexError(`${context}: ${e.message}`);
    throw e;
  }
}
