/**
 * Parsing and validating a safetensors header held in memory. The bytes are treated as
 * hostile: every number is checked before it is used, and any failure is a `FormatError`
 * naming the tensor and the offsets.
 */

import { fmtShape } from '@tessera/core';
import { FormatError } from './errors.js';
import { parseJsonStrict, type JsonObject, type JsonValue } from './json.js';
import { MAX_HEADER_BYTES, SAFETENSORS_DTYPES, SAFETENSORS_DTYPE_SIZE, type SafetensorsDType, type SafetensorsEntry } from './safetensors-format.js';

/** A parsed, validated header: its length `N`, the entries sorted by data offset, the metadata. */
export interface SafetensorsHeader {
  readonly headerLength: number;
  readonly entries: readonly SafetensorsEntry[];
  readonly metadata: Record<string, string>;
}

/**
 * Parses and validates the header of the safetensors file `bytes`.
 * Throws `FormatError` naming the first problem: truncated file, header length past the file or
 * over `MAX_HEADER_BYTES`, header not UTF-8 / not JSON / not starting with `{`, duplicate keys,
 * an entry without `dtype`/`shape`/`data_offsets`, an unknown dtype, a negative or fractional
 * dimension, a byte range whose length is not `prod(shape) * sizeof(dtype)`, a range outside the
 * data section, or two tensors whose ranges overlap (with `strict`, also gaps and trailing bytes).
 */
export function parseSafetensorsHeader(bytes: Uint8Array, strict: boolean): SafetensorsHeader {
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
  checkRanges(entries, dataLength, strict);
  return { headerLength: n, entries, metadata };
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
      `${what}: ${dtype} shape ${fmtShape(shape)} needs ${expected > Number.MAX_SAFE_INTEGER ? 'more than 2^53' : expected} bytes but ${at} spans ${end - begin}`,
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
