/**
 * Writing safetensors files: a layout (`planSafetensors`) whose bytes match what HF
 * `safetensors.serialize` writes, and the whole file in memory (`serializeSafetensors`).
 */

import { ArgumentError, DTypeError, ShapeError, checkShape, fmtShape } from '@tessera/core';
import { numberToBf16, numberToF16 } from './half.js';
import { LITTLE_ENDIAN, SAFETENSORS_DTYPES, SAFETENSORS_DTYPE_SIZE, type SafetensorsDType } from './safetensors-format.js';

/** Dtypes `serializeSafetensors` can encode. */
export type SaveDType = Exclude<SafetensorsDType, 'F8_E5M2' | 'F8_E4M3'>;

/** A tensor to save: row-major `data` of `prod(shape)` elements, encoded as `dtype`. */
export interface TensorToSave {
  readonly dtype: SaveDType;
  readonly shape: readonly number[];
  /** Numbers (any numeric typed array or array); `I64`/`U64` also accept `BigInt64Array`/`BigUint64Array`. */
  readonly data: ArrayLike<number> | BigInt64Array | BigUint64Array;
}

/** A safetensors file laid out but not yet encoded: header bytes, then each tensor's bytes in order. */
export interface SafetensorsPlan {
  /** The 8-byte length plus the space-padded JSON header. */
  readonly header: Uint8Array;
  /** Tensors in file order; `encode()` returns the tensor's bytes (a view for F32 Float32Array input). */
  readonly parts: ReadonlyArray<{ readonly name: string; readonly byteLength: number; encode(): Uint8Array }>;
  /** Total file size in bytes. */
  readonly byteLength: number;
}

const INT_RANGE: Partial<Record<SaveDType, readonly [number, number]>> = {
  BOOL: [0, 1],
  U8: [0, 255],
  I8: [-128, 127],
  I16: [-32768, 32767],
  U16: [0, 65535],
  I32: [-2147483648, 2147483647],
  U32: [0, 4294967295],
  I64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  U64: [0, Number.MAX_SAFE_INTEGER],
};

/** Orders names as Rust's `String::cmp` does (by code point, i.e. by UTF-8 bytes). */
function compareCodePoints(a: string, b: string): number {
  const ia = a[Symbol.iterator]();
  const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next();
    const y = ib.next();
    if (x.done || y.done) return x.done && y.done ? 0 : x.done ? -1 : 1;
    const cx = x.value.codePointAt(0)!;
    const cy = y.value.codePointAt(0)!;
    if (cx !== cy) return cx - cy;
  }
}

/**
 * Lays out a safetensors file without encoding the tensor data (lets a file writer stream it).
 * Order is HF `safetensors`' own: by dtype descending in HF's `Dtype` declaration order (which
 * sorts 8-byte types first, then 4, 2, 1, so every tensor is aligned to its element size), then
 * by name in code-point order. The header JSON is compact, `__metadata__` first, padded with
 * spaces to a multiple of 8 bytes, so the bytes match what HF `safetensors.serialize` writes.
 */
export function planSafetensors(tensors: Readonly<Record<string, TensorToSave>>, metadata?: Readonly<Record<string, string>>): SafetensorsPlan {
  const order = SAFETENSORS_DTYPES as readonly string[];
  const names = Object.keys(tensors);
  for (const name of names) checkTensorToSave(name, tensors[name]);
  names.sort((a, b) => order.indexOf(tensors[b].dtype) - order.indexOf(tensors[a].dtype) || compareCodePoints(a, b));

  const header: Record<string, unknown> = {};
  if (metadata !== undefined) {
    const meta: Record<string, string> = {};
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new ArgumentError(`safetensors metadata ${JSON.stringify(k)} is a ${typeof v}; values must be strings`);
      Object.defineProperty(meta, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    header.__metadata__ = meta;
  }
  let offset = 0;
  const parts: { name: string; byteLength: number; encode(): Uint8Array }[] = [];
  for (const name of names) {
    const t = tensors[name];
    const byteLength = t.data.length * SAFETENSORS_DTYPE_SIZE[t.dtype];
    // defineProperty: a tensor named "__proto__" must become a key, not a prototype.
    Object.defineProperty(header, name, {
      value: { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + byteLength] },
      enumerable: true,
      writable: true,
      configurable: true,
    });
    parts.push({ name, byteLength, encode: () => encodeTensor(name, t) });
    offset += byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const n = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + n);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, n, true);
  dv.setUint32(4, 0, true);
  head.set(json, 8);
  head.fill(0x20, 8 + json.length);
  return { header: head, parts, byteLength: head.length + offset };
}

/**
 * Encodes tensors as a safetensors file that HF `safetensors` loads (layout: see `planSafetensors`).
 * Throws `ShapeError` when `data.length !== prod(shape)`, `DTypeError` when a value does not fit
 * an integer dtype, `ArgumentError` for a bad name or metadata value.
 * @example
 * const bytes = serializeSafetensors({ w: { dtype: 'F32', shape: [2, 2], data: new Float32Array(4) } }, { format: 'pt' });
 */
export function serializeSafetensors(tensors: Readonly<Record<string, TensorToSave>>, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const plan = planSafetensors(tensors, metadata);
  const out = new Uint8Array(plan.byteLength);
  out.set(plan.header, 0);
  let at = plan.header.length;
  for (const p of plan.parts) {
    out.set(p.encode(), at);
    at += p.byteLength;
  }
  return out;
}

function checkTensorToSave(name: string, t: TensorToSave): void {
  if (name === '__metadata__' || name.length === 0) {
    throw new ArgumentError(`safetensors: ${JSON.stringify(name)} cannot be a tensor name`);
  }
  if (t === null || typeof t !== 'object') throw new ArgumentError(`safetensors: tensor ${JSON.stringify(name)} is not {dtype, shape, data}`);
  if (!Object.prototype.hasOwnProperty.call(INT_RANGE, t.dtype) && !['F16', 'BF16', 'F32', 'F64'].includes(t.dtype)) {
    throw new DTypeError(`safetensors: tensor ${JSON.stringify(name)} has dtype ${JSON.stringify(t.dtype)}, which cannot be written (writable: F64, F32, F16, BF16, I64, U64, I32, U32, I16, U16, I8, U8, BOOL)`);
  }
  checkShape(t.shape, `tensor ${JSON.stringify(name)} shape`);
  let count = 1;
  for (const d of t.shape) count *= d;
  if (t.data.length !== count) {
    throw new ShapeError(`safetensors: tensor ${JSON.stringify(name)} has shape ${fmtShape(t.shape)} (${count} elements) but ${t.data.length} data values`);
  }
  if ((t.data instanceof BigInt64Array || t.data instanceof BigUint64Array) && t.dtype !== 'I64' && t.dtype !== 'U64') {
    throw new DTypeError(`safetensors: tensor ${JSON.stringify(name)}: bigint data can only be written as I64 or U64, not ${t.dtype}`);
  }
}

function encodeTensor(name: string, t: TensorToSave): Uint8Array {
  const n = t.data.length;
  const size = SAFETENSORS_DTYPE_SIZE[t.dtype];
  if (LITTLE_ENDIAN && ((t.dtype === 'F32' && t.data instanceof Float32Array) || (t.dtype === 'I32' && t.data instanceof Int32Array))) {
    return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  }
  const out = new Uint8Array(n * size);
  const dv = new DataView(out.buffer);
  if (t.data instanceof BigInt64Array || t.data instanceof BigUint64Array) {
    for (let i = 0; i < n; i++) {
      const v = t.data[i];
      if (t.dtype === 'U64' && v < 0n) badValue(name, t.dtype, i, v);
      if (t.dtype === 'I64' && v > 0x7fffffffffffffffn) badValue(name, t.dtype, i, v);
      if (t.dtype === 'I64') dv.setBigInt64(8 * i, v, true);
      else dv.setBigUint64(8 * i, v, true);
    }
    return out;
  }
  const data = t.data;
  switch (t.dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) dv.setFloat32(4 * i, data[i], true);
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) dv.setFloat64(8 * i, data[i], true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) dv.setUint16(2 * i, numberToF16(data[i]), true);
      return out;
    case 'BF16':
      for (let i = 0; i < n; i++) dv.setUint16(2 * i, numberToBf16(data[i]), true);
      return out;
    default: {
      const [lo, hi] = INT_RANGE[t.dtype]!;
      for (let i = 0; i < n; i++) {
        const v = data[i];
        if (!Number.isInteger(v) || v < lo || v > hi) badValue(name, t.dtype, i, v, lo, hi);
        switch (t.dtype) {
          case 'BOOL':
          case 'U8':
            dv.setUint8(i, v);
            break;
          case 'I8':
            dv.setInt8(i, v);
            break;
          case 'I16':
            dv.setInt16(2 * i, v, true);
            break;
          case 'U16':
            dv.setUint16(2 * i, v, true);
            break;
          case 'I32':
            dv.setInt32(4 * i, v, true);
            break;
          case 'U32':
            dv.setUint32(4 * i, v, true);
            break;
          case 'I64':
            dv.setBigInt64(8 * i, BigInt(v), true);
            break;
          case 'U64':
            dv.setBigUint64(8 * i, BigInt(v), true);
            break;
        }
      }
      return out;
    }
  }
}

function badValue(name: string, dtype: SaveDType, i: number, v: number | bigint, lo?: number, hi?: number): never {
  const range = lo === undefined ? '' : ` (integers in [${lo}, ${hi}])`;
  throw new DTypeError(`safetensors: tensor ${JSON.stringify(name)} element ${i} is ${v}, which ${dtype}${range} cannot hold`);
}
