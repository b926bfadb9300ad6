/** GGUF serialization (version 3) of metadata and tensors given as bytes. */

import { ArgumentError } from '@tessera/core';
import { GGML_TYPES, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_SCALAR_SIZE, GGUF_VALUE_TYPES, GGUF_VERSION, type GgufItem, type GgufValue, type GgufValueType } from './format.js';

/** A tensor to write: its ggml type id, ne (ne[0] fastest) and encoded bytes. */
export interface GgufTensorToWrite {
  readonly name: string;
  readonly dims: readonly number[];
  readonly type: number;
  readonly data: Uint8Array;
}

const utf8 = new TextEncoder();

class Out {
  private buf = new Uint8Array(1 << 16);
  private dv = new DataView(this.buf.buffer);
  pos = 0;

  private room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  u32(v: number): void {
    this.room(4);
    this.dv.setUint32(this.pos, v, true);
    this.pos += 4;
  }

  u64(v: number | bigint): void {
    this.room(8);
    this.dv.setBigUint64(this.pos, BigInt(v), true);
    this.pos += 8;
  }

  string(s: string): void {
    const b = utf8.encode(s);
    this.u64(b.length);
    this.room(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  scalar(type: GgufValueType, v: GgufItem, key: string): void {
    const size = GGUF_SCALAR_SIZE[type];
    if (size === undefined) throw new ArgumentError(`GGUF: ${key}: ${type} is not a scalar type`);
    const bad = () => new ArgumentError(`GGUF: ${key}: ${String(v)} is not a ${type}`);
    this.room(size);
    const at = this.pos;
    this.pos += size;
    if (type === 'BOOL') {
      if (typeof v !== 'boolean') throw bad();
      this.dv.setUint8(at, v ? 1 : 0);
      return;
    }
    if (type === 'UINT64' || type === 'INT64') {
      if (typeof v !== 'bigint') throw bad();
      if (type === 'UINT64') this.dv.setBigUint64(at, v, true);
      else this.dv.setBigInt64(at, v, true);
      return;
    }
    if (typeof v !== 'number') throw bad();
    const ranges: Partial<Record<GgufValueType, [number, number]>> = { UINT8: [0, 255], INT8: [-128, 127], UINT16: [0, 65535], INT16: [-32768, 32767], UINT32: [0, 2 ** 32 - 1], INT32: [-(2 ** 31), 2 ** 31 - 1] };
    const r = ranges[type];
    if (r && (!Number.isInteger(v) || v < r[0] || v > r[1])) throw bad();
    switch (type) {
      case 'UINT8':
        return this.dv.setUint8(at, v);
      case 'INT8':
        return this.dv.setInt8(at, v);
      case 'UINT16':
        return this.dv.setUint16(at, v, true);
      case 'INT16':
        return this.dv.setInt16(at, v, true);
      case 'UINT32':
        return this.dv.setUint32(at, v, true);
      case 'INT32':
        return this.dv.setInt32(at, v, true);
      case 'FLOAT32':
        return this.dv.setFloat32(at, v, true);
      case 'FLOAT64':
        return this.dv.setFloat64(at, v, true);
    }
  }

  value(v: GgufValue | { type: GgufValueType; itemType?: GgufValueType; value: GgufItem }, key: string): void {
    if (v.type === 'STRING') {
      if (typeof v.value !== 'string') throw new ArgumentError(`GGUF: ${key}: ${String(v.value)} is not a STRING`);
      this.string(v.value);
    } else if (v.type === 'ARRAY') {
      const items = v.value;
      const itemType = v.itemType;
      if (!Array.isArray(items) || itemType === undefined) throw new ArgumentError(`GGUF: ${key}: an ARRAY needs itemType and an array value`);
      this.u32(GGUF_VALUE_TYPES.indexOf(itemType));
      this.u64(items.length);
      for (const item of items) {
        if (itemType === 'ARRAY') throw new ArgumentError(`GGUF: ${key}: nested arrays are not written`);
        this.value({ type: itemType, value: item }, key);
      }
    } else this.scalar(v.type, v.value, key);
  }

  pad(alignment: number): void {
    const to = Math.ceil(this.pos / alignment) * alignment;
    this.room(to - this.pos);
    this.buf.fill(0, this.pos, to);
    this.pos = to;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * A GGUF version 3 file: the metadata in the given order (`general.alignment` is honoured
 * when present, else 32), then the tensor entries and their data, each aligned. Throws an
 * ArgumentError naming a value that does not fit its type, a tensor whose byte length
 * does not match its type and dims, or a repeated key or name.
 * @example serializeGguf([['general.architecture', { type: 'STRING', value: 'gpt2' }]], tensors)
 */
export function serializeGguf(metadata: readonly (readonly [string, GgufValue])[], tensors: readonly GgufTensorToWrite[]): Uint8Array {
  const keys = new Set<string>();
  for (const [k] of metadata) {
    if (keys.has(k)) throw new ArgumentError(`GGUF: metadata key ${JSON.stringify(k)} given twice`);
    keys.add(k);
  }
  const align = metadata.find(([k]) => k === 'general.alignment')?.[1];
  const alignment = align && align.type === 'UINT32' ? align.value : GGUF_DEFAULT_ALIGNMENT;
  const names = new Set<string>();
  const offsets: number[] = [];
  let dataSize = 0;
  for (const t of tensors) {
    if (names.has(t.name)) throw new ArgumentError(`GGUF: tensor ${JSON.stringify(t.name)} given twice`);
    names.add(t.name);
    const type = GGML_TYPES.get(t.type);
    if (!type) throw new ArgumentError(`GGUF: tensor ${JSON.stringify(t.name)} has type ${t.type}, not a ggml type`);
    const count = t.dims.reduce((a, b) => a * b, 1);
    const want = (count / type.blockSize) * type.typeSize;
    if (t.dims.length < 1 || t.dims.length > 4 || t.dims.some((d) => !Number.isSafeInteger(d) || d < 1)) throw new ArgumentError(`GGUF: tensor ${JSON.stringify(t.name)} has dims [${t.dims.join(', ')}]; 1 to 4 dims of at least 1`);
    if (t.dims[0] % type.blockSize !== 0) throw new ArgumentError(`GGUF: tensor ${JSON.stringify(t.name)} has ne[0] = ${t.dims[0]}, not a multiple of ${type.name}'s block of ${type.blockSize}`);
    if (t.data.length !== want) {
      throw new ArgumentError(`GGUF: tensor ${JSON.stringify(t.name)} (${type.name} [${t.dims.join(', ')}]) needs ${want} bytes, got ${t.data.length}`);
    }
    offsets.push(dataSize);
    dataSize = Math.ceil((dataSize + t.data.length) / alignment) * alignment;
  }
  const head = new Out();
  head.u32(GGUF_MAGIC);
  head.u32(GGUF_VERSION);
  head.u64(tensors.length);
  head.u64(metadata.length);
  for (const [k, v] of metadata) {
    head.string(k);
    head.u32(GGUF_VALUE_TYPES.indexOf(v.type));
    head.value(v, k);
  }
  tensors.forEach((t, i) => {
    head.string(t.name);
    head.u32(t.dims.length);
    for (const d of t.dims) head.u64(d);
    head.u32(t.type);
    head.u64(offsets[i]);
  });
  head.pad(alignment);
  const header = head.bytes();
  const out = new Uint8Array(header.length + dataSize);
  out.set(header);
  tensors.forEach((t, i) => out.set(t.data, header.length + offsets[i]));
  return out;
}
