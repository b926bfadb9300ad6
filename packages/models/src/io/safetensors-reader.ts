/**
 * Reading safetensors files held in memory. The header is validated on open (see
 * safetensors-header.ts). Tensors load as `f32` (float dtypes) or `i32` (integer and bool
 * dtypes). An F32 (or I32) tensor whose bytes are 4-aligned in memory is returned as a view
 * over the caller's buffer, not a copy, so loading a model holds one copy of its weights; only
 * converted dtypes allocate.
 */

import { ArgumentError, DTypeError, UnsupportedError } from '@tessera/core';
import { FormatError } from './errors.js';
import { decodeF8E4M3, decodeF8E5M2 } from './fp8.js';
import { decodeBf16, decodeF16 } from './half.js';
import { FLOAT_DTYPES, LITTLE_ENDIAN, SAFETENSORS_DTYPE_SIZE, type SafetensorsDType, type SafetensorsEntry } from './safetensors-format.js';
import { parseSafetensorsHeader } from './safetensors-header.js';

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
        const out = new Float32Array(count);
        decodeF8E5M2(this.bytes.subarray(at, at + count), out);
        return out;
      }
      case 'F8_E4M3': {
        const out = new Float32Array(count);
        decodeF8E4M3(this.bytes.subarray(at, at + count), out);
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

/**
 * Opens a safetensors file held in memory: parses and validates the header (see
 * `parseSafetensorsHeader` for what throws `FormatError`); tensors are converted on `get`.
 * @example const st = openSafetensors(await fs.readFile('model.safetensors'));
 */
export function openSafetensors(source: Uint8Array | ArrayBuffer, options: SafetensorsReadOptions = {}): SafetensorsReader {
  const bytes = toBytes(source);
  const { headerLength, entries, metadata } = parseSafetensorsHeader(bytes, options.strict === true);
  return new SafetensorsReader(bytes, headerLength, new Map(entries.map((e) => [e.name, e])), metadata);
}

/**
 * Reads a whole safetensors file: validated header, every tensor loaded (see `SafetensorsReader.get`).
 * @example const { tensors, metadata } = readSafetensors(bytes);
 */
export function readSafetensors(source: Uint8Array | ArrayBuffer, options: SafetensorsReadOptions = {}): SafetensorsContents {
  const reader = openSafetensors(source, options);
  return { tensors: reader.readAll(), metadata: reader.metadata };
}
