/**
 * GGUF parsing over bytes in memory (any runtime; the node entry reads files into them).
 * Every count, length and offset is checked against the bytes that are actually there
 * before anything is allocated for it, so a truncated or hostile file ends in a
 * GgufFormatError naming the field, never a hang or an allocation its size does not justify.
 */

import { bf16ToNumber, f16ToNumber } from '../io/half.js';
import {
  GGML_TYPES,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_MAX_DIMS,
  GGUF_SCALAR_SIZE,
  GGUF_VALUE_TYPES,
  GgufFormatError,
  type GgufItem,
  type GgufValue,
  type GgufValueType,
} from './format.js';

/** One tensor's header entry, checked against the file. */
export interface GgufTensorInfo {
  readonly name: string;
  /** ne: ne[0] is the fastest-moving dimension (a row-major [rows, cols] is [cols, rows]). */
  readonly dims: readonly number[];
  /** ggml type id and name (GGML_TYPES). */
  readonly type: number;
  readonly typeName: string;
  /** Byte offset in the file and byte length. */
  readonly fileOffset: number;
  readonly byteLength: number;
}

/** A parsed GGUF file: header, metadata and tensor entries over the file's bytes. */
export interface GgufFile {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  /** Where the data section starts. */
  readonly dataOffset: number;
  readonly bytes: Uint8Array;
}

/** Nested arrays deeper than this are refused (the format allows nesting; no model uses more than 1 level). */
const MAX_ARRAY_DEPTH = 4;
const utf8 = new TextDecoder('utf-8', { fatal: true });

class Cursor {
  pos = 0;
  private readonly dv: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get left(): number {
    return this.bytes.length - this.pos;
  }

  need(n: number, field: string): void {
    if (n > this.left) throw new GgufFormatError(`GGUF: ${field} needs ${n} byte(s) at offset ${this.pos}, but the file ends after ${this.left} more (${this.bytes.length} bytes in all): truncated`, field);
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  /** A u64 as a number; values past 2^53 cannot describe anything in a file of this size. */
  u64(field: string): number {
    this.need(8, field);
    const v = this.dv.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new GgufFormatError(`GGUF: ${field} is ${v}, beyond anything a file can hold`, field);
    return Number(v);
  }

  string(field: string): string {
    const n = this.u64(`${field} length`);
    this.need(n, field);
    try {
      return utf8.decode(this.bytes.subarray(this.pos, (this.pos += n)));
    } catch {
      throw new GgufFormatError(`GGUF: ${field} is not valid UTF-8`, field);
    }
  }

  scalar(type: GgufValueType, field: string): GgufItem {
    const size = GGUF_SCALAR_SIZE[type]!;
    this.need(size, field);
    const at = this.pos;
    this.pos += size;
    switch (type) {
      case 'UINT8':
        return this.dv.getUint8(at);
      case 'INT8':
        return this.dv.getInt8(at);
      case 'UINT16':
        return this.dv.getUint16(at, true);
      case 'INT16':
        return this.dv.getInt16(at, true);
      case 'UINT32':
        return this.dv.getUint32(at, true);
      case 'INT32':
        return this.dv.getInt32(at, true);
      case 'FLOAT32':
        return this.dv.getFloat32(at, true);
      case 'FLOAT64':
        return this.dv.getFloat64(at, true);
      case 'UINT64':
        return this.dv.getBigUint64(at, true);
      case 'INT64':
        return this.dv.getBigInt64(at, true);
      case 'BOOL': {
        const b = this.dv.getUint8(at);
        if (b > 1) throw new GgufFormatError(`GGUF: ${field} is a BOOL of byte value ${b} (0 or 1 expected)`, field);
        return b === 1;
      }
      default:
        throw new GgufFormatError(`GGUF: ${field} has no scalar type ${type}`, field);
    }
  }

  valueType(field: string): GgufValueType {
    const t = this.u32(field);
    const name = GGUF_VALUE_TYPES[t];
    if (name === undefined) throw new GgufFormatError(`GGUF: ${field} is ${t}, not a metadata value type (0-${GGUF_VALUE_TYPES.length - 1})`, field);
    return name;
  }

  value(type: GgufValueType, field: string, depth = 0): GgufValue {
    if (type === 'STRING') return { type, value: this.string(field) };
    if (type !== 'ARRAY') return { type, value: this.scalar(type, field) } as GgufValue;
    if (depth >= MAX_ARRAY_DEPTH) throw new GgufFormatError(`GGUF: ${field} nests arrays more than ${MAX_ARRAY_DEPTH} deep`, field);
    const itemType = this.valueType(`${field} item type`);
    const count = this.u64(`${field} count`);
    // Every element takes at least this many bytes, so the count is bounded by what is left.
    const min = itemType === 'STRING' || itemType === 'ARRAY' ? 8 : GGUF_SCALAR_SIZE[itemType]!;
    if (count > this.left / min) throw new GgufFormatError(`GGUF: ${field} claims ${count} ${itemType} elements, but only ${this.left} bytes are left (each takes at least ${min})`, `${field} count`);
    const value: GgufItem[] = new Array(count);
    for (let i = 0; i < count; i++) value[i] = this.value(itemType, `${field}[${i}]`, depth + 1).value;
    return { type: 'ARRAY', itemType, value };
  }
}

/**
 * Parses and checks a GGUF file's header, metadata and tensor entries (the data is not
 * copied): magic and version (2 or 3), counts bounded by the bytes left, UTF-8 strings,
 * known value and tensor types, 1-4 positive dims whose first is a multiple of the type's
 * block, offsets aligned, inside the file and not overlapping, unique keys and names.
 * Throws a GgufFormatError naming the field.
 * @example const file = parseGguf(bytes); file.metadata.get('general.architecture')
 */
export function parseGguf(source: Uint8Array | ArrayBuffer): GgufFile {
  const bytes = source instanceof Uint8Array ? source : new Uint8Array(source);
  const c = new Cursor(bytes);
  const magic = c.u32('header.magic');
  if (magic !== GGUF_MAGIC) throw new GgufFormatError(`GGUF: header.magic is 0x${magic.toString(16).padStart(8, '0')}, not "GGUF" (0x46554747): not a GGUF file`, 'header.magic');
  const version = c.u32('header.version');
  if (version !== 2 && version !== 3) throw new GgufFormatError(`GGUF: header.version is ${version}; versions 2 and 3 are read`, 'header.version');
  const tensorCount = c.u64('header.tensor_count');
  const kvCount = c.u64('header.metadata_kv_count');
  // A key-value pair takes at least 8 (key length) + 1 + 4 (type) + 1 bytes; a tensor entry 8 + 1 + 4 + 8 + 4 + 8.
  if (kvCount > c.left / 14) throw new GgufFormatError(`GGUF: header.metadata_kv_count is ${kvCount}, more than the ${c.left} bytes left can hold`, 'header.metadata_kv_count');
  if (tensorCount > c.left / 33) throw new GgufFormatError(`GGUF: header.tensor_count is ${tensorCount}, more than the ${c.left} bytes left can hold`, 'header.tensor_count');
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const key = c.string(`metadata[${i}].key`);
    if (key.length === 0) throw new GgufFormatError(`GGUF: metadata[${i}].key is empty`, `metadata[${i}].key`);
    if (metadata.has(key)) throw new GgufFormatError(`GGUF: metadata key ${JSON.stringify(key)} appears twice`, `metadata[${i}].key`);
    const type = c.valueType(`metadata "${key}" type`);
    metadata.set(key, c.value(type, `metadata "${key}"`));
  }
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const a = metadata.get('general.alignment');
  if (a !== undefined) {
    if (a.type !== 'UINT32' || a.value === 0 || (a.value & (a.value - 1)) !== 0) {
      throw new GgufFormatError(`GGUF: metadata "general.alignment" must be a UINT32 power of two, got ${a.type} ${String(a.value)}`, 'metadata "general.alignment"');
    }
    alignment = a.value;
  }
  const raw: { name: string; dims: number[]; type: number; offset: number }[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const name = c.string(`tensor[${i}].name`);
    const field = `tensor "${name}"`;
    if (names.has(name)) throw new GgufFormatError(`GGUF: tensor name ${JSON.stringify(name)} appears twice`, `tensor[${i}].name`);
    names.add(name);
    const nDims = c.u32(`${field}.n_dims`);
    if (nDims < 1 || nDims > GGUF_MAX_DIMS) throw new GgufFormatError(`GGUF: ${field}.n_dims is ${nDims}; 1 to ${GGUF_MAX_DIMS} expected`, `${field}.n_dims`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) {
      const ne = c.u64(`${field}.ne[${d}]`);
      if (ne < 1) throw new GgufFormatError(`GGUF: ${field}.ne[${d}] is ${ne}; dimensions are >= 1`, `${field}.ne[${d}]`);
      dims.push(ne);
    }
    const type = c.u32(`${field}.type`);
    raw.push({ name, dims, type, offset: c.u64(`${field}.offset`) });
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  if (raw.length > 0 && dataOffset > bytes.length) throw new GgufFormatError(`GGUF: the data section would start at ${dataOffset}, past the end of the ${bytes.length}-byte file: truncated`, 'data');
  const tensors: GgufTensorInfo[] = raw.map(({ name, dims, type, offset }) => {
    const field = `tensor "${name}"`;
    const t = GGML_TYPES.get(type);
    if (!t) throw new GgufFormatError(`GGUF: ${field}.type is ${type}, not a ggml tensor type`, `${field}.type`);
    if (dims[0] % t.blockSize !== 0) throw new GgufFormatError(`GGUF: ${field}.ne[0] is ${dims[0]}, not a multiple of ${t.name}'s block of ${t.blockSize}`, `${field}.ne[0]`);
    let count = 1;
    for (const d of dims) {
      count *= d;
      if (count > Number.MAX_SAFE_INTEGER) throw new GgufFormatError(`GGUF: ${field} has dims [${dims.join(', ')}], too many elements`, `${field}.ne`);
    }
    const byteLength = (count / t.blockSize) * t.typeSize;
    if (offset % alignment !== 0) throw new GgufFormatError(`GGUF: ${field}.offset ${offset} is not a multiple of the alignment ${alignment}`, `${field}.offset`);
    const fileOffset = dataOffset + offset;
    if (fileOffset + byteLength > bytes.length) {
      throw new GgufFormatError(`GGUF: ${field} (${t.name} [${dims.join(', ')}], ${byteLength} bytes at data offset ${offset}) ends at ${fileOffset + byteLength}, past the end of the ${bytes.length}-byte file`, `${field}.offset`);
    }
    return { name, dims, type, typeName: t.name, fileOffset, byteLength };
  });
  const sorted = [...tensors].sort((x, y) => x.fileOffset - y.fileOffset);
  for (let i = 1; i < sorted.length; i++) {
    const [p, q] = [sorted[i - 1], sorted[i]];
    if (q.fileOffset < p.fileOffset + p.byteLength) throw new GgufFormatError(`GGUF: tensors ${JSON.stringify(p.name)} and ${JSON.stringify(q.name)} overlap in the data section`, `tensor "${q.name}".offset`);
  }
  return { version, metadata, tensors, alignment, dataOffset, bytes };
}

/** The bytes of tensor `info` (a view over the file). */
export function ggufTensorData(file: GgufFile, info: GgufTensorInfo): Uint8Array {
  return file.bytes.subarray(info.fileOffset, info.fileOffset + info.byteLength);
}

/** The f32 values of an F32, F16, BF16, Q8_0 or Q4_0 tensor, in file order (ne[0] fastest); a GgufFormatError for other types. */
export function ggufTensorValues(file: GgufFile, info: GgufTensorInfo): Float32Array {
  const src = ggufTensorData(file, info);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const n = info.dims.reduce((x, y) => x * y, 1);
  const out = new Float32Array(n);
  const field = `tensor "${info.name}"`;
  switch (info.typeName) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16ToNumber(dv.getUint16(2 * i, true));
      return out;
    case 'BF16':
      for (let i = 0; i < n; i++) out[i] = bf16ToNumber(dv.getUint16(2 * i, true));
      return out;
    case 'Q8_0':
      for (let b = 0; b < n / 32; b++) {
        const d = blockScale(dv, 34 * b, field, b);
        for (let t = 0; t < 32; t++) out[32 * b + t] = dv.getInt8(34 * b + 2 + t) * d;
      }
      return out;
    case 'Q4_0':
      for (let b = 0; b < n / 32; b++) {
        const d = blockScale(dv, 18 * b, field, b);
        for (let t = 0; t < 16; t++) {
          const byte = dv.getUint8(18 * b + 2 + t);
          out[32 * b + t] = ((byte & 15) - 8) * d;
          out[32 * b + t + 16] = ((byte >> 4) - 8) * d;
        }
      }
      return out;
    case 'Q4_K':
      for (let b = 0; b < n / 256; b++) decodeQ4K(src.subarray(144 * b, 144 * (b + 1)), dv, 144 * b, out, 256 * b, field, b);
      return out;
    case 'Q6_K':
      for (let b = 0; b < n / 256; b++) decodeQ6K(src.subarray(210 * b, 210 * (b + 1)), dv, 210 * b, out, 256 * b, field, b);
      return out;
    default:
      throw new GgufFormatError(`GGUF: ${field} is ${info.typeName}, which Tessera does not decode (F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K are read)`, `${field}.type`);
  }
}

const f = Math.fround;

/**
 * One Q4_K super-block (256 values, 144 bytes: f16 d, f16 dmin, 12 bytes of 6-bit scales and
 * mins for 8 sub-blocks of 32, 128 bytes of nibbles): value = d * sc * q - dmin * m, in f32
 * in the order gguf-py's reference computes it. Chunk c of 32 bytes holds sub-block 2c in
 * its low nibbles and 2c + 1 in its high ones.
 */
function decodeQ4K(blk: Uint8Array, dv: DataView, at: number, out: Float32Array, o: number, field: string, b: number): void {
  const d = blockScale(dv, at, field, b);
  const dmin = blockScale(dv, at + 2, field, b);
  const s = blk.subarray(4, 16);
  for (let i = 0; i < 8; i++) {
    const sc = i < 4 ? s[i] & 63 : (s[i + 4] & 15) | ((s[i - 4] >> 6) << 4);
    const m = i < 4 ? s[i + 4] & 63 : (s[i + 4] >> 4) | ((s[i] >> 6) << 4);
    const [d1, m1] = [f(d * sc), f(dmin * m)];
    const c = i >> 1;
    for (let l = 0; l < 32; l++) {
      const byte = blk[16 + 32 * c + l];
      out[o + 32 * i + l] = f(f(d1 * ((i & 1) === 0 ? byte & 15 : byte >> 4)) - m1);
    }
  }
}

/**
 * One Q6_K super-block (256 values, 210 bytes: 128 bytes of low nibbles, 64 of 2-bit highs,
 * 16 int8 scales of 16-value groups, f16 d): value = (d * scale) * (q - 32). In each half of
 * 128 values, value v takes the low (v < 64) or high nibble of ql byte v % 64 and bits
 * 2 (v >> 5) of qh byte v % 32.
 */
function decodeQ6K(blk: Uint8Array, dv: DataView, at: number, out: Float32Array, o: number, field: string, b: number): void {
  const d = blockScale(dv, at + 208, field, b);
  for (let h = 0; h < 2; h++) {
    for (let v = 0; v < 128; v++) {
      const low = blk[64 * h + (v & 63)];
      const ql = v < 64 ? low & 15 : low >> 4;
      const qh = (blk[128 + 32 * h + (v & 31)] >> (2 * (v >> 5))) & 3;
      const scale = (blk[192 + ((128 * h + v) >> 4)] << 24) >> 24;
      out[o + 128 * h + v] = f(f(d * scale) * ((ql | (qh << 4)) - 32));
    }
  }
}

/** A block's f16 scale as a number; a GgufFormatError when it is not finite. */
export function blockScale(dv: DataView, at: number, field: string, block: number): number {
  const d = f16ToNumber(dv.getUint16(at, true));
  if (!Number.isFinite(d)) throw new GgufFormatError(`GGUF: ${field} block ${block} has scale ${d}; scales are finite`, `${field}.data`);
  return d;
}
