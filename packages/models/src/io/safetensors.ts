/**
 * safetensors reader and writer (https://github.com/huggingface/safetensors, "Format").
 *
 * Layout: 8 bytes little-endian u64 `N`; `N` bytes of UTF-8 JSON starting with `{` (may be
 * padded with trailing spaces); then the data section. The JSON maps each tensor name to
 * `{dtype, shape, data_offsets: [begin, end]}` with offsets relative to the data section, plus an
 * optional `__metadata__` string-to-string map. Tensors are row-major, little-endian.
 *
 * Reading treats the bytes as hostile: every number in the header is checked before it is used
 * and any failure is a `FormatError` naming the tensor and the offsets. Tensors load as `f32`
 * (float dtypes) or `i32` (integer and bool dtypes). An F32 (or I32) tensor whose bytes are
 * 4-aligned in memory is returned as a view over the caller's buffer, not a copy, so loading a
 * model holds one copy of its weights; only converted dtypes allocate.
 */

import { ArgumentError, DTypeError, ShapeError, UnsupportedError, checkShape, fmtShape } from '@tessera/core';
import { FormatError } from './errors.js';
import { decodeBf16, decodeF16, f16BitsToF32Bits, numberToBf16, numberToF16 } from './half.js';
import { parseJsonStrict, type JsonObject, type JsonValue } from './json.js';

/** Element types a safetensors file may declare (HF `Dtype`, in its declaration order). */
export const SAFETENSORS_DTYPES = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
] as const;

/** A safetensors element type. */
export type SafetensorsDType = (typeof SAFETENSORS_DTYPES)[number];

/** Bytes per element of each dtype. */
export const SAFETENSORS_DTYPE_SIZE: Readonly<Record<SafetensorsDType, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
};

const FLOAT_DTYPES: ReadonlySet<SafetensorsDType> = new Set(['F8_E5M2', 'F8_E4M3', 'F16', 'BF16', 'F32', 'F64']);

/** The largest header accepted (the HF reference implementation's limit): stops JSON bombs. */
export const MAX_HEADER_BYTES = 100_000_000;

/** One tensor's header entry. `dataOffsets` are relative to the data section; `fileOffsets` to the file. */
export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: SafetensorsDType;
  readonly shape: readonly number[];
  readonly dataOffsets: readonly [number, number];
  readonly fileOffsets: readonly [number, number];
}

/** A loaded tensor: float dtypes load as `f32`, integer and bool dtypes as `i32`. */
export type LoadedTensor =
  | { readonly dtype: 'f32'; readonly fileDtype: SafetensorsDType; readonly shape: number[]; readonly data: Float32Array }
  | { readonly dtype: 'i32'; readonly fileDtype: SafetensorsDType; readonly shape: number[]; readonly data: Int32Array };

/** Options of `openSafetensors` / `readSafetensors`. */
export interface SafetensorsReadOptions {
  /**
   * Also require what the HF reference reader requires: tensor byte ranges tile the data section
   * exactly, from 0 to its end, with no gap and no trailing bytes. Default `false`: gaps and
   * trailing bytes are allowed, overlaps never are.
   */
  readonly strict?: boolean;
}

/** Everything in a safetensors file, loaded. */
export interface SafetensorsContents {
  readonly tensors: Map<string, LoadedTensor>;
  readonly metadata: Record<string, string>;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function toBytes(source: Uint8Array | ArrayBuffer): Uint8Array {
  return source instanceof Uint8Array ? source : new Uint8Array(source);
}

/**
 * Lazy access to a safetensors file held in memory: the header is parsed and validated on open;
 * each `get` converts (or views) one tensor on demand and does not cache it.
 * @example
 * const st = openSafetensors(bytes);
 * const wte = st.get('wte.weight'); // { dtype: 'f32', shape: [50257, 768], data: Float32Array }
 */
export class SafetensorsReader {
  /** The `__metadata__` map (empty when the file has none). */
  readonly metadata: Record<string, string>;
  /** Byte length `N` of the JSON header. */
  readonly headerLength: number;
  /** Absolute offset of the data section (`8 + N`). */
  readonly dataStart: number;
  private readonly bytes: Uint8Array;
  private readonly entries: Map<string, SafetensorsEntry>;

  /** @internal Use `openSafetensors`, which validates the entries this trusts. */
  constructor(bytes: Uint8Array, headerLength: number, entries: Map<string, SafetensorsEntry>, metadata: Record<string, string>) {
    this.bytes = bytes;
    this.headerLength = headerLength;
    this.dataStart = 8 + headerLength;
    this.entries = entries;
    this.metadata = metadata;
  }

  /** Tensor names, in data-offset order. */
  names(): string[] {
    return [...this.entries.keys()];
  }

  /** Whether the file holds a tensor named `name`. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The header entry of `name` (dtype, shape, offsets), without touching the data. */
  entry(name: string): SafetensorsEntry {
    const e = this.entries.get(name);
    if (e === undefined) {
      const names = this.names();
      const shown = names.slice(0, 8).map((n) => JSON.stringify(n)).join(', ');
      throw new ArgumentError(
        `no tensor named ${JSON.stringify(name)} in this safetensors file; it holds ${names.length} tensor(s)` +
          (names.length > 0 ? `: ${shown}${names.length > 8 ? ', ...' : ''}` : ''),
      );
    }
    return e;
  }

  /** The raw little-endian bytes of `name`: a view over the file buffer. */
  rawBytes(name: string): Uint8Array {
    const e = this.entry(name);
    return this.bytes.subarray(e.fileOffsets[0], e.fileOffsets[1]);
  }

  /**
   * Loads `name` as f32 (float dtypes) or i32 (integer and bool dtypes). F32 and I32 tensors at a
   * 4-aligned address are views over the file buffer (writing to them writes the buffer).
   * Throws `DTypeError` when an integer does not fit in i32 or an F64 overflows f32, and
   * `FormatError` for a BOOL byte other than 0 or 1.
   */
  get(name: string): LoadedTensor {
    const e = this.entry(name);
    const shape = [...e.shape];
    const count = (e.dataOffsets[1] - e.dataOffsets[0]) / SAFETENSORS_DTYPE_SIZE[e.dtype];
    const at = e.fileOffsets[0];
    if (FLOAT_DTYPES.has(e.dtype)) return { dtype: 'f32', fileDtype: e.dtype, shape, data: this.loadFloat(e, at, count) };
    return { dtype: 'i32', fileDtype: e.dtype, shape, data: this.loadInt(e, at, count) };
  }

  /** Loads every tensor (see `get`), in data-offset order. */
  readAll(): Map<string, LoadedTensor> {
    const out = new Map<string, LoadedTensor>();
    for (const name of this.entries.keys()) out.set(name, this.get(name));
    return out;
  }

  private aligned(at: number, size: number): boolean {
    return LITTLE_ENDIAN && (this.bytes.byteOffset + at) % size === 0;
  }

  private view(at: number, bytes: number): DataView {
    return new DataView(this.bytes.buffer, this.bytes.byteOffset + at, bytes);
  }

  private u16(at: number, count: number): Uint16Array {
    if (this.aligned(at, 2)) return new Uint16Array(this.bytes.buffer, this.bytes.byteOffset + at, count);
    const dv = this.view(at, count * 2);
    const out = new Uint16Array(count);
    for (let i = 0; i < count; i++) out[i] = dv.getUint16(2 * i, true);
    return out;
  }

  private loadFloat(e: SafetensorsEntry, at: number, count: number): Float32Array {
    switch (e.dtype) {
      case 'F32': {
        if (this.aligned(at, 4)) return new Float32Array(this.bytes.buffer, this.bytes.byteOffset + at, count);
        const dv = this.view(at, count * 4);
        const out = new Float32Array(count);
        for (let i = 0; i < count; i++) out[i] = dv.getFloat32(4 * i, true);
        return out;
      }
      case 'F16': {
        const out = new Float32Array(count);
        decodeF16(this.u16(at, count), out);
        return out;
      }
      case 'BF16': {
        const out = new Float32Array(count);
        decodeBf16(this.u16(at, count), out);
        return out;
      }
      case 'F64': {
        const dv = this.view(at, count * 8);
        const out = new Float32Array(count);
        for (let i = 0; i < count; i++) {
          const v = dv.getFloat64(8 * i, true);
          out[i] = v;
          if (Number.isFinite(v) && !Number.isFinite(out[i])) {
            throw new DTypeError(`tensor ${JSON.stringify(e.name)} (F64): element ${i} is ${v}, beyond the f32 range it loads into`);
          }
        }
        return out;
      }
      case 'F8_E5M2': {
        // E5M2 is the top byte of a binary16.
        const out = new Float32Array(count);
        const u = new Uint32Array(out.buffer);
        for (let i = 0; i < count; i++) u[i] = f16BitsToF32Bits(this.bytes[at + i] << 8);
        return out;
      }
      case 'F8_E4M3': {
        const out = new Float32Array(count);
        for (let i = 0; i < count; i++) out[i] = e4m3fnToNumber(this.bytes[at + i]);
        return out;
      }
      default:
        throw new UnsupportedError(`tensor ${JSON.stringify(e.name)}: no f32 conversion for dtype ${e.dtype}`);
    }
  }

  private loadInt(e: SafetensorsEntry, at: number, count: number): Int32Array {
    const b = this.bytes;
    const tooBig = (i: number, v: number | bigint): never => {
      throw new DTypeError(
        `tensor ${JSON.stringify(e.name)} (${e.dtype}): element ${i} is ${v}, outside the i32 range [-2147483648, 2147483647] it loads into`,
      );
    };
    switch (e.dtype) {
      case 'I32': {
        if (this.aligned(at, 4)) return new Int32Array(b.buffer, b.byteOffset + at, count);
        const dv = this.view(at, count * 4);
        const out = new Int32Array(count);
        for (let i = 0; i < count; i++) out[i] = dv.getInt32(4 * i, true);
        return out;
      }
      case 'BOOL': {
        const out = new Int32Array(count);
        for (let i = 0; i < count; i++) {
          const v = b[at + i];
          if (v > 1) {
            throw new FormatError(
              `tensor ${JSON.stringify(e.name)} (BOOL): byte ${v} at file offset ${at + i} (element ${i}) is not 0 or 1`,
            );
          }
          out[i] = v;
        }
        return out;
      }
      case 'U8': {
        const out = new Int32Array(count);
        for (let i = 0; i < count; i++) out[i] = b[at + i];
        return out;
      }
      case 'I8': {
        const out = new Int32Array(count);
        for (let i = 0; i < count; i++) out[i] = (b[at + i] << 24) >> 24;
        return out;
      }
      case 'I16': {
        const dv = this.view(at, count * 2);
        const out = new Int32Array(count);
        for (let i = 0; i < count; i++) out[i] = dv.getInt16(2 * i, true);
        return out;
      }
      case 'U16': {
        const dv = this.view(at, count * 2);
        const out = new Int32Array(count);
        for (let i = 0; i < count; i++) out[i] = dv.getUint16(2 * i, true);
        return out;
      }
      case 'U32': {
        const dv = this.view(at, count * 4);
        const out = new Int32Array(count);
        for (let i = 0; i < count; i++) {
          const v = dv.getUint32(4 * i, true);
          if (v > 0x7fffffff) tooBig(i, v);
          out[i] = v;
        }
        return out;
      }
      case 'I64': {
        const dv = this.view(at, count * 8);
        const out = new Int32Array(count);
        for (let i = 0; i < count; i++) {
          const lo = dv.getInt32(8 * i, true);
          if (dv.getInt32(8 * i + 4, true) !== lo >> 31) tooBig(i, dv.getBigInt64(8 * i, true));
          out[i] = lo;
        }
        return out;
      }
      case 'U64': {
        const dv = this.view(at, count * 8);
        const out = new Int32Array(count);
        for (let i = 0; i < count; i++) {
          const lo = dv.getInt32(8 * i, true);
          if (dv.getUint32(8 * i + 4, true) !== 0 || lo < 0) tooBig(i, dv.getBigUint64(8 * i, true));
          out[i] = lo;
        }
        return out;
      }
      default:
        throw new UnsupportedError(`tensor ${JSON.stringify(e.name)}: no i32 conversion for dtype ${e.dtype}`);
    }
  }
}

/** OCP FP8 E4M3FN: bias 7, no infinities, S.1111.111 is NaN. */
function e4m3fnToNumber(byte: number): number {
  const sign = byte & 0x80 ? -1 : 1;
  const exp = (byte >>> 3) & 0xf;
  const mant = byte & 7;
  if (exp === 0xf && mant === 7) return NaN;
  if (exp === 0) return sign * mant * 2 ** -9;
  return sign * (1 + mant / 8) * 2 ** (exp - 7);
}

/**
 * Parses and validates the header of a safetensors file held in memory.
 * Throws `FormatError` naming the first problem: truncated file, header length past the file or
 * over `MAX_HEADER_BYTES`, header not UTF-8 / not JSON / not starting with `{`, duplicate keys,
 * an entry without `dtype`/`shape`/`data_offsets`, an unknown dtype, a negative or fractional
 * dimension, a byte range whose length is not `prod(shape) * sizeof(dtype)`, a range outside the
 * data section, or two tensors whose ranges overlap.
 * @example const st = openSafetensors(await fs.readFile('model.safetensors'));
 */
export function openSafetensors(source: Uint8Array | ArrayBuffer, options: SafetensorsReadOptions = {}): SafetensorsReader {
  const bytes = toBytes(source);
  const size = bytes.length;
  if (size < 8) throw new FormatError(`safetensors: file is ${size} bytes, shorter than the 8-byte header length field`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const n = hi * 2 ** 32 + lo; // exact: < 2^64 but only compared against small limits below
  if (n > MAX_HEADER_BYTES) {
    throw new FormatError(`safetensors: header length ${hi === 0 ? n : `~${n}`} at bytes 0..8 exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (n > size - 8) {
    throw new FormatError(`safetensors: header length ${n} at bytes 0..8 runs past the end of the ${size}-byte file (at most ${size - 8} bytes follow)`);
  }
  if (n === 0 || bytes[8] !== 0x7b) {
    throw new FormatError(`safetensors: the ${n}-byte header at file offset 8 does not start with '{'`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes.subarray(8, 8 + n));
  } catch {
    throw new FormatError(`safetensors: the ${n}-byte header at file offset 8 is not valid UTF-8`);
  }
  const root = parseJsonStrict(text, `safetensors header (file bytes 8..${8 + n})`);
  if (!(root instanceof Map)) throw new FormatError('safetensors: the header JSON is not an object');

  const dataStart = 8 + n;
  const dataLength = size - dataStart;
  let metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  const entries: SafetensorsEntry[] = [];
  for (const [name, value] of root) {
    if (name === '__metadata__') metadata = parseMetadata(value);
    else entries.push(parseEntry(name, value, dataStart, dataLength));
  }

  entries.sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  checkRanges(entries, dataLength, options.strict === true);
  return new SafetensorsReader(bytes, n, new Map(entries.map((e) => [e.name, e])), metadata);
}

/**
 * Reads a whole safetensors file: validated header, every tensor loaded (see `SafetensorsReader.get`).
 * @example const { tensors, metadata } = readSafetensors(bytes);
 */
export function readSafetensors(source: Uint8Array | ArrayBuffer, options: SafetensorsReadOptions = {}): SafetensorsContents {
  const reader = openSafetensors(source, options);
  return { tensors: reader.readAll(), metadata: reader.metadata };
}

function parseMetadata(value: JsonValue): Record<string, string> {
  if (!(value instanceof Map)) throw new FormatError('safetensors: "__metadata__" is not an object of strings');
  const out = Object.create(null) as Record<string, string>;
  for (const [k, v] of value) {
    if (typeof v !== 'string') {
      throw new FormatError(`safetensors: "__metadata__" key ${JSON.stringify(k)} has a ${jsonKind(v)} value; metadata values must be strings`);
    }
    out[k] = v;
  }
  return out;
}

function jsonKind(v: JsonValue): string {
  if (v === null) return 'null';
  if (v instanceof Map) return 'object';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function isDType(s: string): s is SafetensorsDType {
  return Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_SIZE, s);
}

function parseEntry(name: string, value: JsonValue, dataStart: number, dataLength: number): SafetensorsEntry {
  const what = `safetensors: tensor ${JSON.stringify(name)}`;
  if (!(value instanceof Map)) throw new FormatError(`${what}: header entry is a ${jsonKind(value)}, not an object`);
  const field = (key: string): JsonValue => {
    const v = (value as JsonObject).get(key);
    if (v === undefined) throw new FormatError(`${what}: header entry has no "${key}"`);
    return v;
  };
  const dtype = field('dtype');
  if (typeof dtype !== 'string') throw new FormatError(`${what}: "dtype" is a ${jsonKind(dtype)}, not a string`);
  if (!isDType(dtype)) throw new FormatError(`${what}: unknown dtype ${JSON.stringify(dtype)} (known: ${SAFETENSORS_DTYPES.join(', ')})`);

  const shapeValue = field('shape');
  if (!Array.isArray(shapeValue)) throw new FormatError(`${what}: "shape" is a ${jsonKind(shapeValue)}, not an array`);
  const shape: number[] = [];
  for (const d of shapeValue) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      throw new FormatError(`${what}: shape ${JSON.stringify(shapeValue.map((x) => (x instanceof Map ? '{...}' : x)))} has dimension ${JSON.stringify(d instanceof Map ? '{...}' : d)}; dimensions are non-negative integers`);
    }
    shape.push(d);
  }

  const offs = field('data_offsets');
  if (
    !Array.isArray(offs) ||
    offs.length !== 2 ||
    !offs.every((o): o is number => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
  ) {
    throw new FormatError(`${what}: "data_offsets" must be [begin, end] with non-negative integers, got ${JSON.stringify(offs instanceof Map ? '{...}' : offs)}`);
  }
  const [begin, end] = offs;
  const at = `data_offsets [${begin}, ${end}] (file bytes ${dataStart + begin}..${dataStart + end})`;
  if (end < begin) throw new FormatError(`${what}: ${at} end before begin`);

  // prod(shape) * size, refusing anything past 2^53 (no file is that big: it cannot match a range).
  let expected = SAFETENSORS_DTYPE_SIZE[dtype];
  for (const d of shape) {
    expected *= d;
    if (expected > Number.MAX_SAFE_INTEGER) break;
  }
  if (expected !== end - begin) {
    throw new FormatError(
      `${what}: ${dtype} ${fmtShape(shape)} needs ${expected > Number.MAX_SAFE_INTEGER ? 'more than 2^53' : expected} bytes but ${at} spans ${end - begin}`,
    );
  }
  if (end > dataLength) {
    throw new FormatError(`${what}: ${at} runs past the end of the ${dataLength}-byte data section (file size ${dataStart + dataLength})`);
  }
  return { name, dtype, shape, dataOffsets: [begin, end], fileOffsets: [dataStart + begin, dataStart + end] };
}

/** `entries` sorted by begin: no two non-empty ranges overlap; with `strict`, they tile the data section. */
function checkRanges(entries: readonly SafetensorsEntry[], dataLength: number, strict: boolean): void {
  let last: SafetensorsEntry | undefined; // the non-empty entry reaching furthest so far
  let covered = 0;
  for (const e of entries) {
    const [b, end] = e.dataOffsets;
    if (strict && b !== covered) {
      throw new FormatError(
        `safetensors: tensor ${JSON.stringify(e.name)} data_offsets [${b}, ${end}] ${b > covered ? `leave a gap after byte ${covered}` : `overlap bytes before ${covered}`} (strict mode requires contiguous ranges from 0)`,
      );
    }
    if (b === end) continue;
    if (last !== undefined && b < last.dataOffsets[1]) {
      throw new FormatError(
        `safetensors: tensors ${JSON.stringify(last.name)} data_offsets [${last.dataOffsets[0]}, ${last.dataOffsets[1]}] and ` +
          `${JSON.stringify(e.name)} data_offsets [${b}, ${end}] overlap`,
      );
    }
    if (last === undefined || end > last.dataOffsets[1]) last = e;
    covered = Math.max(covered, end);
  }
  if (strict && covered !== dataLength) {
    throw new FormatError(`safetensors: tensors cover data bytes 0..${covered} but the data section is ${dataLength} bytes (strict mode requires full coverage)`);
  }
}

// ---------------------------------------------------------------------------------------------
// Writing

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
