/**
 * safetensors reader and writer (HF `safetensors`, "Format"): the format's dtypes and
 * limits (safetensors-format.ts), header validation (safetensors-header.ts), reading
 * (safetensors-reader.ts, FP8 widening in fp8.ts) and writing (safetensors-writer.ts).
 * This module re-exports them, so importers need one path.
 */

export {
  MAX_HEADER_BYTES,
  SAFETENSORS_DTYPES,
  SAFETENSORS_DTYPE_SIZE,
  type SafetensorsDType,
  type SafetensorsEntry,
} from './safetensors-format.js';
export { parseSafetensorsHeader, type SafetensorsHeader } from './safetensors-header.js';
export {
  SafetensorsReader,
  openSafetensors,
  readSafetensors,
  type LoadedTensor,
  type SafetensorsContents,
  type SafetensorsReadOptions,
} from './safetensors-reader.js';
export { planSafetensors, serializeSafetensors, type SafetensorsPlan, type SaveDType, type TensorToSave } from './safetensors-writer.js';
export { decodeF8E4M3, decodeF8E5M2, e4m3fnToNumber } from './fp8.js';
