/**
 * The bytes on the wire. Every message is one NATS payload: a fixed 32-byte
 * little-endian header followed by the chunk's elements in the wire dtype.
 *
 *   offset  size  field
 *        0     1  magic 0x54 ('T')
 *        1     1  version (1)
 *        2     1  kind (Kind)
 *        3     1  wire dtype (0 f32, 1 f16, 2 bf16)
 *        4     4  source rank (u32)
 *        8     4  collective sequence number (u32; every rank numbers its collectives in call order)
 *       12     4  chunk index within the collective's stream from this source (u32)
 *       16     4  element offset of the chunk in the caller's buffer (u32)
 *       20     4  element count of the chunk (u32)
 *       24     4  element count of the whole buffer (u32; a mismatch between ranks is an error)
 *       28     4  root rank (broadcast) or 0
 *       32   ...  elements: count * 4 (f32) or count * 2 (f16, bf16) bytes
 */

import { bf16ToNumber, f16ToNumber, numberToBf16, numberToF16 } from '@tessera/models';

export const HEADER_BYTES = 32;
const MAGIC = 0x54;
const VERSION = 1;

/** What a message carries. */
export const Kind = {
  /** Reduce-scatter: source's slice of the receiver's segment. Sent point to point. */
  reduceScatter: 1,
  /** All-gather: the reduced segment owned by the source. Published to every rank. */
  allGather: 2,
  /** Broadcast: a chunk of the root's buffer. Published to every rank. */
  broadcast: 3,
  /** Barrier: no elements. Published to every rank. */
  barrier: 4,
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];
const KIND_NAMES: Record<number, string> = { 1: 'reduceScatter', 2: 'allGather', 3: 'broadcast', 4: 'barrier' };
export const kindName = (k: number): string => KIND_NAMES[k] ?? `kind ${k}`;

/** Element formats on the wire; f16/bf16 halve the traffic at the cost of precision. */
export type WireDType = 'f32' | 'f16' | 'bf16';
export const WIRE_DTYPES: readonly WireDType[] = ['f32', 'f16', 'bf16'];
const DTYPE_CODE: Record<WireDType, number> = { f32: 0, f16: 1, bf16: 2 };
export const bytesPerElement = (d: WireDType): number => (d === 'f32' ? 4 : 2);

export interface Header {
  kind: Kind;
  dtype: WireDType;
  src: number;
  seq: number;
  chunk: number;
  offset: number;
  count: number;
  total: number;
  root: number;
}

/** Encodes `header` and `values` (already the chunk, f32) into one payload. */
export function encodeMessage(h: Header, values: Float32Array | null): Uint8Array {
  const n = values ? values.length : 0;
  const out = new Uint8Array(HEADER_BYTES + n * bytesPerElement(h.dtype));
  const dv = new DataView(out.buffer);
  dv.setUint8(0, MAGIC);
  dv.setUint8(1, VERSION);
  dv.setUint8(2, h.kind);
  dv.setUint8(3, DTYPE_CODE[h.dtype]);
  dv.setUint32(4, h.src, true);
  dv.setUint32(8, h.seq >>> 0, true);
  dv.setUint32(12, h.chunk, true);
  dv.setUint32(16, h.offset, true);
  dv.setUint32(20, h.count, true);
  dv.setUint32(24, h.total, true);
  dv.setUint32(28, h.root, true);
  if (values && n > 0) {
    if (h.dtype === 'f32') {
      // Byte copy of the float bits, little-endian like every platform Tessera runs on.
      out.set(new Uint8Array(values.buffer, values.byteOffset, n * 4), HEADER_BYTES);
    } else {
      const half = new Uint16Array(out.buffer, HEADER_BYTES, n);
      // Round to nearest even (@tessera/models' safetensors conversions).
      const enc = h.dtype === 'f16' ? numberToF16 : numberToBf16;
      for (let i = 0; i < n; i++) half[i] = enc(values[i]);
    }
  }
  return out;
}

/** Parses a payload; returns null when it is not a Tessera message (wrong magic/version/size). */
export function decodeHeader(data: Uint8Array): Header | null {
  if (data.length < HEADER_BYTES) return null;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (dv.getUint8(0) !== MAGIC || dv.getUint8(1) !== VERSION) return null;
  const code = dv.getUint8(3);
  const dtype = WIRE_DTYPES[code];
  if (dtype === undefined) return null;
  const h: Header = {
    kind: dv.getUint8(2) as Kind,
    dtype,
    src: dv.getUint32(4, true),
    seq: dv.getUint32(8, true),
    chunk: dv.getUint32(12, true),
    offset: dv.getUint32(16, true),
    count: dv.getUint32(20, true),
    total: dv.getUint32(24, true),
    root: dv.getUint32(28, true),
  };
  if (data.length !== HEADER_BYTES + h.count * bytesPerElement(dtype)) return null;
  return h;
}

/** The elements of a payload as f32 (f16/bf16 widened exactly). */
export function decodeValues(data: Uint8Array, h: Header): Float32Array {
  const n = h.count;
  const out = new Float32Array(n);
  if (h.dtype === 'f32') {
    // Copy the bytes: the payload's offset need not be 4-aligned.
    new Uint8Array(out.buffer).set(data.subarray(HEADER_BYTES, HEADER_BYTES + n * 4));
  } else {
    const bytes = data.subarray(HEADER_BYTES, HEADER_BYTES + n * 2);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const dec = h.dtype === 'f16' ? f16ToNumber : bf16ToNumber;
    for (let i = 0; i < n; i++) out[i] = dec(dv.getUint16(2 * i, true));
  }
  return out;
}

/** Rounds every element through the wire dtype in place (identity for f32). */
export function roundThroughWire(values: Float32Array, dtype: WireDType): void {
  if (dtype === 'f32') return;
  const enc = dtype === 'f16' ? numberToF16 : numberToBf16;
  const dec = dtype === 'f16' ? f16ToNumber : bf16ToNumber;
  for (let i = 0; i < values.length; i++) values[i] = dec(enc(values[i]));
}
