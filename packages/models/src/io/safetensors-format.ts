/**
 * The safetensors format's shared facts (HF `safetensors`, "Format"):
 *
 * Layout: 8 bytes little-endian u64 `N`; `N` bytes of UTF-8 JSON starting with `{` (may be
 * padded with trailing spaces); then the data section. The JSON maps each tensor name to
 * `{dtype, shape, data_offsets: [begin, end]}` with offsets relative to the data section, plus an
 * optional `__metadata__` string-to-string map. Tensors are row-major, little-endian.
 *
 * The reader is safetensors-reader.ts (header checks in safetensors-header.ts, FP8 in fp8.ts),
 * the writer safetensors-writer.ts; safetensors.ts re-exports them all.
 */

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

export const FLOAT_DTYPES: ReadonlySet<SafetensorsDType> = new Set(['F8_E5M2', 'F8_E4M3', 'F16', 'BF16', 'F32', 'F64']);

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

/** True on little-endian hosts, where file bytes can be viewed as typed arrays without swapping. */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
