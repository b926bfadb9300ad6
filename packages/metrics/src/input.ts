/**
 * Input handling shared by every metric: the structural `TensorLike`
 * interface, conversion of the accepted array types to `Float64Array`, and
 * the validators whose `MetricsError` messages name the offending argument,
 * index and value.
 *
 * All arithmetic in this package is done in float64 on a private copy, so
 * `Float32Array`/`Int32Array`/tensor inputs are never modified.
 */

import { MetricsError } from './errors.js';

/**
 * Anything that looks like a tensor: a row-major `dataSync()` read-back and a
 * `shape`. `@tessera/tensor`'s `Tensor` satisfies it structurally; there is no
 * runtime dependency on any other Tessera package.
 */
export interface TensorLike {
  readonly shape: readonly number[];
  dataSync(): Float32Array | Int32Array;
}

/** A plain or typed array of numbers. */
export type NumericArray = readonly number[] | Float32Array | Float64Array | Int32Array;

/** What every "array" parameter accepts. Tensors are flattened in row-major order. */
export type ArrayInput = NumericArray | TensorLike;

/**
 * What every "matrix" parameter (`[n, c]` scores, probabilities, logits)
 * accepts: a flat array plus a column count, nested rows, or a tensor whose
 * last dimension is the column count.
 */
export type MatrixInput = ArrayInput | readonly NumericArray[];

/** A dense row-major float64 matrix. */
export interface Matrix {
  readonly data: Float64Array;
  readonly rows: number;
  readonly cols: number;
}

/**
 * True when `x` has a `dataSync` method and an array `shape`.
 * @example isTensorLike({ shape: [2], dataSync: () => new Float32Array(2) }) // true
 */
export function isTensorLike(x: unknown): x is TensorLike {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as { dataSync?: unknown }).dataSync === 'function' &&
    Array.isArray((x as { shape?: unknown }).shape)
  );
}

function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function tensorData(t: TensorLike, name: string): Float32Array | Int32Array {
  let size = 1;
  for (const d of t.shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new MetricsError(`${name} has invalid shape ${fmtShape(t.shape)}`);
    }
    size *= d;
  }
  const data = t.dataSync();
  if (data.length !== size) {
    throw new MetricsError(
      `${name} has shape ${fmtShape(t.shape)} (${size} elements) but dataSync() returned ${data.length} values`,
    );
  }
  return data;
}

function copyNumbers(src: ArrayLike<unknown>, name: string): Float64Array {
  const out = new Float64Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (typeof v !== 'number') {
      throw new MetricsError(`${name}[${i}] is not a number (got ${v === null ? 'null' : typeof v})`);
    }
    out[i] = v;
  }
  return out;
}

/**
 * Copies any accepted array (tensors flattened row-major) into a new `Float64Array`.
 * @example toArray(new Int32Array([1, 2])) // Float64Array [1, 2]
 */
export function toArray(x: ArrayInput, name = 'input'): Float64Array {
  if (isTensorLike(x)) return Float64Array.from(tensorData(x, name));
  if (x instanceof Float64Array) return x.slice();
  if (x instanceof Float32Array || x instanceof Int32Array) return Float64Array.from(x);
  if (Array.isArray(x)) return copyNumbers(x, name);
  throw new MetricsError(`${name} must be a number[], Float32Array, Float64Array, Int32Array or tensor`);
}

function isRowArray(x: unknown): x is NumericArray {
  return Array.isArray(x) || x instanceof Float32Array || x instanceof Float64Array || x instanceof Int32Array;
}

/**
 * Copies a score/probability/logit matrix into a row-major float64 `Matrix`:
 * nested rows, a flat array with `cols` given, or a tensor of shape `[..., cols]`
 * (leading dimensions are flattened into rows).
 * @example toMatrix([0.1, 0.9, 0.8, 0.2], 2) // { rows: 2, cols: 2, data: Float64Array [...] }
 */
export function toMatrix(x: MatrixInput, cols?: number, name = 'input'): Matrix {
  if (cols !== undefined && (!Number.isInteger(cols) || cols < 1)) {
    throw new MetricsError(`number of columns for ${name} must be a positive integer, got ${cols}`);
  }
  if (isTensorLike(x)) {
    const data = tensorData(x, name);
    const shape = x.shape;
    if (shape.length >= 2) {
      const c = shape[shape.length - 1];
      if (cols !== undefined && c !== cols) {
        throw new MetricsError(`${name} has shape ${fmtShape(shape)} whose last dimension ${c} is not the given ${cols} columns`);
      }
      if (c === 0) throw new MetricsError(`${name} has shape ${fmtShape(shape)} with zero columns`);
      return { data: Float64Array.from(data), rows: data.length / c, cols: c };
    }
    if (cols === undefined) {
      throw new MetricsError(`${name} has shape ${fmtShape(shape)}; pass the number of columns or a tensor of shape [n, c]`);
    }
    return reshapeFlat(Float64Array.from(data), cols, name);
  }
  if (Array.isArray(x) && x.length > 0 && isRowArray(x[0])) {
    const rowsIn = x as readonly unknown[];
    const c = (rowsIn[0] as NumericArray).length;
    if (cols !== undefined && c !== cols) {
      throw new MetricsError(`${name}[0] has ${c} columns but ${cols} were given`);
    }
    if (c === 0) throw new MetricsError(`${name}[0] is an empty row`);
    const data = new Float64Array(rowsIn.length * c);
    for (let r = 0; r < rowsIn.length; r++) {
      const row = rowsIn[r];
      if (!isRowArray(row)) throw new MetricsError(`${name}[${r}] is not an array row`);
      if (row.length !== c) {
        throw new MetricsError(`${name}[${r}] has length ${row.length} but ${name}[0] has length ${c}`);
      }
      for (let j = 0; j < c; j++) {
        const v = row[j];
        if (typeof v !== 'number') throw new MetricsError(`${name}[${r}][${j}] is not a number`);
        data[r * c + j] = v;
      }
    }
    return { data, rows: rowsIn.length, cols: c };
  }
  const flat = toArray(x as ArrayInput, name);
  if (cols === undefined) {
    throw new MetricsError(`${name} is a flat array of length ${flat.length}; pass the number of columns or nested rows`);
  }
  return reshapeFlat(flat, cols, name);
}

function reshapeFlat(flat: Float64Array, cols: number, name: string): Matrix {
  if (flat.length % cols !== 0) {
    throw new MetricsError(`${name} has length ${flat.length}, which is not a multiple of ${cols} columns`);
  }
  return { data: flat, rows: flat.length / cols, cols };
}

// ---------------------------------------------------------------------------
// Validators (internal; each throws a MetricsError naming what is wrong).

/** Throws when `a` has no elements. */
export function requireNonEmpty(a: ArrayLike<number>, name: string): void {
  if (a.length === 0) throw new MetricsError(`${name} is empty; a metric needs at least one sample`);
}

/** Throws when the two arrays differ in length, naming both lengths. */
export function requireSameLength(a: ArrayLike<number>, b: ArrayLike<number>, nameA: string, nameB: string): void {
  if (a.length !== b.length) {
    throw new MetricsError(`${nameA} has length ${a.length} but ${nameB} has length ${b.length}`);
  }
}

/** Throws on the first NaN or infinite value, naming its index. */
export function requireFinite(a: ArrayLike<number>, name: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new MetricsError(`${name}[${i}] is ${a[i]}; expected a finite number`);
  }
}

/** Throws on the first value that is not an integer label. */
export function requireIntegers(a: ArrayLike<number>, name: string): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isInteger(a[i])) throw new MetricsError(`${name}[${i}] = ${a[i]} is not an integer label`);
  }
}

/** Throws on the first value outside [0, 1] (NaN included). */
export function requireProbabilities(a: ArrayLike<number>, name: string): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (!(v >= 0 && v <= 1)) throw new MetricsError(`${name}[${i}] = ${v} is not a probability in [0, 1]`);
  }
}

/** Throws on the first value that is not an integer in [0, n). */
export function requireClassIndices(a: ArrayLike<number>, n: number, name: string): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (!Number.isInteger(v) || v < 0 || v >= n) {
      throw new MetricsError(`${name}[${i}] = ${v} is not a class index in [0, ${n})`);
    }
  }
}

/** Converts and validates a pair of equally long, non-empty, finite vectors. */
export function finitePair(
  a: ArrayInput,
  b: ArrayInput,
  nameA: string,
  nameB: string,
): [Float64Array, Float64Array] {
  const x = toArray(a, nameA);
  const y = toArray(b, nameB);
  requireSameLength(x, y, nameA, nameB);
  requireNonEmpty(x, nameA);
  requireFinite(x, nameA);
  requireFinite(y, nameB);
  return [x, y];
}

/** Converts and validates a pair of equally long, non-empty integer label vectors. */
export function labelPair(
  a: ArrayInput,
  b: ArrayInput,
  nameA = 'yTrue',
  nameB = 'yPred',
): [Float64Array, Float64Array] {
  const x = toArray(a, nameA);
  const y = toArray(b, nameB);
  requireSameLength(x, y, nameA, nameB);
  requireNonEmpty(x, nameA);
  requireIntegers(x, nameA);
  requireIntegers(y, nameB);
  return [x, y];
}
