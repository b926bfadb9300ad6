/**
 * The GGUF container (ggml's docs/gguf.md, version 3; versions 2 and 3 share this layout):
 *
 *   u32 magic "GGUF" | u32 version | u64 tensor_count | u64 metadata_kv_count
 *   metadata_kv_count x (string key, u32 value_type, value)
 *   tensor_count x (string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type, u64 offset)
 *   padding to `general.alignment` (default 32), then the data section; each tensor's
 *   offset is relative to it and a multiple of the alignment.
 *
 * Strings are u64 byte length + UTF-8 (no terminator); arrays are u32 element type + u64
 * count + elements; everything is little-endian. `ne[0]` is the fastest-moving dimension,
 * so a row-major [rows, cols] array is ne = [cols, rows], and quantized types pack blocks of
 * `blockSize` consecutive values along ne[0].
 */

import { FormatError } from '../io/errors.js';

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
/** ggml's GGML_MAX_DIMS. */
export const GGUF_MAX_DIMS = 4;

/** Metadata value types (GGUFValueType). */
export const GGUF_VALUE_TYPES = ['UINT8', 'INT8', 'UINT16', 'INT16', 'UINT32', 'INT32', 'FLOAT32', 'BOOL', 'STRING', 'ARRAY', 'UINT64', 'INT64', 'FLOAT64'] as const;
export type GgufValueType = (typeof GGUF_VALUE_TYPES)[number];

/** Bytes of a fixed-size metadata value type (STRING and ARRAY are variable). */
export const GGUF_SCALAR_SIZE: Partial<Record<GgufValueType, number>> = {
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  UINT32: 4,
  INT32: 4,
  FLOAT32: 4,
  BOOL: 1,
  UINT64: 8,
  INT64: 8,
  FLOAT64: 8,
};

/**
 * A metadata value: scalars as numbers (64-bit integers as bigint), BOOL as boolean,
 * STRING as string, ARRAY as its element type and elements.
 */
export type GgufValue =
  | { type: Exclude<GgufValueType, 'STRING' | 'ARRAY' | 'BOOL' | 'UINT64' | 'INT64'>; value: number }
  | { type: 'UINT64' | 'INT64'; value: bigint }
  | { type: 'BOOL'; value: boolean }
  | { type: 'STRING'; value: string }
  | { type: 'ARRAY'; itemType: GgufValueType; value: GgufItem[] };

/** An array element: a scalar, a string or a nested array. */
export type GgufItem = number | bigint | boolean | string | GgufItem[];

/**
 * ggml tensor types by id: name, values per block and bytes per block (ggml's type traits;
 * ids 4, 5 and 31-33 are retired). Every type is known so a file's layout can be checked
 * whole; F32, F16, BF16, Q8_0, Q4_0, Q4_K and Q6_K are decoded.
 */
export const GGML_TYPES: ReadonlyMap<number, { name: string; blockSize: number; typeSize: number }> = new Map(
  (
    [
      [0, 'F32', 1, 4],
      [1, 'F16', 1, 2],
      [2, 'Q4_0', 32, 18],
      [3, 'Q4_1', 32, 20],
      [6, 'Q5_0', 32, 22],
      [7, 'Q5_1', 32, 24],
      [8, 'Q8_0', 32, 34],
      [9, 'Q8_1', 32, 40],
      [10, 'Q2_K', 256, 84],
      [11, 'Q3_K', 256, 110],
      [12, 'Q4_K', 256, 144],
      [13, 'Q5_K', 256, 176],
      [14, 'Q6_K', 256, 210],
      [15, 'Q8_K', 256, 292],
      [16, 'IQ2_XXS', 256, 66],
      [17, 'IQ2_XS', 256, 74],
      [18, 'IQ3_XXS', 256, 98],
      [19, 'IQ1_S', 256, 50],
      [20, 'IQ4_NL', 32, 18],
      [21, 'IQ3_S', 256, 110],
      [22, 'IQ2_S', 256, 82],
      [23, 'IQ4_XS', 256, 136],
      [24, 'I8', 1, 1],
      [25, 'I16', 1, 2],
      [26, 'I32', 1, 4],
      [27, 'I64', 1, 8],
      [28, 'F64', 1, 8],
      [29, 'IQ1_M', 256, 56],
      [30, 'BF16', 1, 2],
      [34, 'TQ1_0', 256, 54],
      [35, 'TQ2_0', 256, 66],
      [39, 'MXFP4', 32, 17],
    ] as const
  ).map(([id, name, blockSize, typeSize]) => [id, { name, blockSize, typeSize }]),
);

/** The tensor types Tessera writes. */
export type GgufTensorType = 'F32' | 'F16' | 'Q8_0' | 'Q4_0' | 'Q4_K';
export const GGML_TYPE_ID: Readonly<Record<GgufTensorType | 'BF16', number>> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, Q4_K: 12, BF16: 30 };

/**
 * A malformed or unsupported GGUF file: `field` names the part that is wrong (`header.version`,
 * `metadata[3].key`, `tensor "blk.0.attn_qkv.weight".offset`, ...) and the message says why.
 */
export class GgufFormatError extends FormatError {
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}
