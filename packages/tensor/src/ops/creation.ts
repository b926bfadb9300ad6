/**
 * Tensor creation on the active backend: from host data, constants, ranges
 * and seeded random draws (the backend's counter-based `random` kernel).
 */

import { ArgumentError, DTypeError, ShapeError, checkShape, fmtShape, hash32, sizeOf, type Backend, type DType } from '@tessera/core';
import { getBackend } from '../backend.js';
import { dense, emptyFor, writeHost } from '../kernels.js';
import { nextDraw } from '../random.js';
import { tidy } from '../scope.js';
import { Tensor } from '../tensor.js';
import { add, castRaw, minimum, mul } from './elementwise.js';

/** A dtype, or options for a new tensor. */
export type CreateOptions = DType | { dtype?: DType; requiresGrad?: boolean };

/** Host data accepted by `tensor`: a number, nested arrays of numbers/booleans, or a typed array. */
export type TensorLike = number | boolean | Float32Array | Int32Array | Float64Array | readonly TensorLike[];

function resolve(options: CreateOptions | undefined, fallback: DType): { dtype: DType; requiresGrad: boolean } {
  const o = typeof options === 'string' ? { dtype: options } : (options ?? {});
  const dtype = o.dtype ?? fallback;
  if (dtype !== 'f32' && dtype !== 'i32') throw new DTypeError(`unknown dtype '${dtype}'; expected 'f32' or 'i32'`);
  if (o.requiresGrad && dtype !== 'f32') throw new DTypeError(`only f32 tensors can require grad, got dtype ${dtype}`);
  return { dtype, requiresGrad: o.requiresGrad ?? false };
}

function finish(t: Tensor, requiresGrad: boolean): Tensor {
  return requiresGrad ? t.requiresGrad_() : t;
}

function shapeArg(op: string, shape: readonly number[]): number[] {
  if (!Array.isArray(shape)) throw new ArgumentError(`${op}: shape must be an array of sizes, got ${String(shape)}`);
  try {
    checkShape(shape, `${op} shape`);
  } catch (e) {
    if (e instanceof ShapeError) throw new ShapeError(`${op}: ${e.message}`);
    throw e;
  }
  return shape.slice();
}

/** Flattens rectangular nested arrays, returning the shape. */
function flattenNested(data: TensorLike, out: number[]): number[] {
  if (typeof data === 'number' || typeof data === 'boolean') {
    out.push(Number(data));
    return [];
  }
  if (ArrayBuffer.isView(data)) {
    for (let i = 0; i < data.length; i++) out.push(data[i]);
    return [data.length];
  }
  if (!Array.isArray(data)) throw new ArgumentError(`tensor: unsupported data element ${String(data)}; expected numbers, booleans, nested arrays or a typed array`);
  if (data.length === 0) return [0];
  let inner: number[] | null = null;
  data.forEach((d, i) => {
    const s = flattenNested(d, out);
    if (inner === null) inner = s;
    else if (s.length !== inner.length || s.some((v, j) => v !== inner![j])) {
      throw new ShapeError(`tensor: ragged nested array: element ${i} has shape ${fmtShape(s)} but element 0 has ${fmtShape(inner)}`);
    }
  });
  return [data.length, ...(inner ?? [])];
}

/**
 * A tensor from host data. Numbers default to f32; an Int32Array to i32.
 * `shape` reshapes flat data (it must hold exactly that many elements).
 * @example tensor([[1, 2], [3, 4]]); tensor(new Float32Array(6), [2, 3]); tensor([0, 2], undefined, 'i32')
 */
export function tensor(data: TensorLike, shape?: readonly number[], options?: CreateOptions): Tensor {
  const { dtype, requiresGrad } = resolve(options, data instanceof Int32Array ? 'i32' : 'f32');
  let flat: ArrayLike<number>;
  let inferred: number[];
  if (ArrayBuffer.isView(data)) {
    flat = data;
    inferred = [data.length];
  } else {
    const values: number[] = [];
    inferred = flattenNested(data, values);
    flat = values;
  }
  const target = shape ? shapeArg('tensor', shape) : inferred;
  if (sizeOf(target) !== flat.length) {
    throw new ShapeError(`tensor: ${flat.length} values do not fill shape ${fmtShape(target)} (${sizeOf(target)} elements)`);
  }
  if (dtype === 'i32') {
    for (let i = 0; i < flat.length; i++) {
      const v = flat[i];
      if (!Number.isInteger(v) || v < -2147483648 || v > 2147483647) throw new ArgumentError(`tensor: value ${v} at flat index ${i} is not a 32-bit integer (dtype i32)`);
    }
  }
  const t = emptyFor('tensor', getBackend(), target, dtype);
  if (t.size > 0) writeHost(t, flat);
  return finish(t, requiresGrad);
}

/**
 * A tensor of `shape` filled with `value`.
 * @example full([2, 2], 0.5)
 */
export function full(shape: readonly number[], value: number, options?: CreateOptions): Tensor {
  return fullOn(getBackend(), shape, value, options);
}

function fullOn(be: Backend, shape: readonly number[], value: number, options?: CreateOptions): Tensor {
  const { dtype, requiresGrad } = resolve(options, 'f32');
  const s = shapeArg('full', shape);
  if (dtype === 'i32' && !Number.isInteger(value)) throw new ArgumentError(`full: value ${value} is not an integer (dtype i32)`);
  const t = emptyFor('full', be, s, dtype);
  if (t.size > 0) be.fill({ out: dense(t), n: t.size, value, dtype });
  return finish(t, requiresGrad);
}

/** Zeros of `shape`. */
export function zeros(shape: readonly number[], options?: CreateOptions): Tensor {
  return full(shape, 0, options);
}

/** Ones of `shape`. */
export function ones(shape: readonly number[], options?: CreateOptions): Tensor {
  return full(shape, 1, options);
}

/** Zeros with x's shape (and dtype unless given), on x's backend. */
export function zerosLike(x: Tensor, options?: CreateOptions): Tensor {
  return fullOn(x.backend, x.shape, 0, options ?? x.dtype);
}

/** Ones with x's shape (and dtype unless given), on x's backend. */
export function onesLike(x: Tensor, options?: CreateOptions): Tensor {
  return fullOn(x.backend, x.shape, 1, options ?? x.dtype);
}

/** `value` with x's shape (and dtype unless given), on x's backend. */
export function fullLike(x: Tensor, value: number, options?: CreateOptions): Tensor {
  return fullOn(x.backend, x.shape, value, options ?? x.dtype);
}

/**
 * start, start + step, ... below end (arange(n) counts 0..n-1).
 * @example arange(5); arange(1, 2, 0.25); arange(0, 8, 1, 'i32')
 */
export function arange(start: number, end?: number, step = 1, options?: CreateOptions): Tensor {
  const { dtype, requiresGrad } = resolve(options, 'f32');
  let lo = start;
  let hi = end;
  if (hi === undefined) {
    hi = start;
    lo = 0;
  }
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !Number.isFinite(step) || step === 0) {
    throw new ArgumentError(`arange: start ${lo}, end ${hi} and step ${step} must be finite, with step != 0`);
  }
  const n = Math.max(0, Math.ceil((hi - lo) / step));
  if (dtype === 'i32' && !(Number.isInteger(lo) && Number.isInteger(step) && Math.max(Math.abs(lo), Math.abs(lo + (n - 1) * step)) <= 2147483647)) {
    throw new ArgumentError(`arange: values from ${lo} by ${step} to ${hi} are not 32-bit integers (dtype i32)`);
  }
  // The tensor is allocated first (the backend's size check, as for zeros), then
  // filled a chunk at a time, so no host array of n values is ever built.
  const t = emptyFor('arange', getBackend(), [n], dtype);
  const CHUNK = 1 << 16;
  for (let at = 0; at < n; at += CHUNK) {
    const values = new Float64Array(Math.min(CHUNK, n - at));
    for (let i = 0; i < values.length; i++) values[i] = lo + (at + i) * step;
    writeHost(t, values, at);
  }
  return finish(t, requiresGrad);
}

/** Options for random tensors. */
export interface RandomOptions {
  /** Seed for a reproducible draw independent of the global generator. */
  seed?: number;
  requiresGrad?: boolean;
}

function draw(op: string, dist: 'uniform' | 'normal', shape: readonly number[], options: RandomOptions): Tensor {
  const s = shapeArg(op, shape);
  const be = getBackend();
  const n = sizeOf(s);
  let at: { seed: number; counter: number };
  if (options.seed !== undefined) {
    if (!Number.isInteger(options.seed)) throw new ArgumentError(`${op}: seed must be an integer, got ${options.seed}`);
    at = { seed: hash32(options.seed | 0, dist === 'uniform' ? 0x756e6966 : 0x6e6f726d) | 0, counter: 0 };
  } else at = nextDraw(dist, n);
  const t = emptyFor(op, be, s, 'f32');
  if (n > 0) be.random({ out: dense(t), n, seed: at.seed, counter: at.counter, dist });
  return t;
}

/**
 * Uniform samples in [0, 1).
 * @example rand([2, 3], { seed: 1 })
 */
export function rand(shape: readonly number[], options: RandomOptions = {}): Tensor {
  return finish(draw('rand', 'uniform', shape, options), options.requiresGrad ?? false);
}

/**
 * Standard normal samples (scaled by `std`, shifted by `mean` when given).
 * @example randn([768, 768], { std: 0.02, requiresGrad: true })
 */
export function randn(shape: readonly number[], options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const std = options.std ?? 1;
  const mu = options.mean ?? 0;
  if (!(std >= 0 && std < Infinity)) throw new ArgumentError(`randn: std must be a finite number >= 0, got ${String(std)}`);
  if (!Number.isFinite(mu)) throw new ArgumentError(`randn: mean must be a finite number, got ${String(mu)}`);
  const z = draw('randn', 'normal', shape, options);
  if (std === 1 && mu === 0) return finish(z, options.requiresGrad ?? false);
  const out = tidy(() => add(mul(z, std), mu));
  z.dispose();
  return finish(out, options.requiresGrad ?? false);
}

/**
 * Uniform integers in [low, high) as i32.
 * @example randint(0, 10, [4], { seed: 3 })
 */
export function randint(low: number, high: number, shape: readonly number[], options: { seed?: number } = {}): Tensor {
  if (!Number.isInteger(low) || !Number.isInteger(high) || high <= low) throw new ArgumentError(`randint: need integers low < high, got ${low} and ${high}`);
  if (Math.abs(low) > 2 ** 24 || Math.abs(high) > 2 ** 24) {
    throw new ArgumentError(`randint: bounds ${low} and ${high} must lie within +-2^24 (integers exact in f32, reachable by a 24-bit uniform draw)`);
  }
  const range = high - low;
  const u = draw('randint', 'uniform', shape, options);
  try {
    return tidy(() => {
      // floor(u * range), clamped because u * range can round up to range in f32; then shift by low.
      const k = castRaw(mul(u, range), 'i32');
      const f = minimum(castRaw(k, 'f32'), range - 1);
      return castRaw(add(f, low), 'i32');
    });
  } finally {
    u.dispose();
  }
}
