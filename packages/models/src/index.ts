/**
 * @tessera/models: file formats and tokenizers (nn modules and GPT-2 are exported alongside).
 */

export { FormatError } from './io/errors.js';
export { parseJsonStrict, type JsonObject, type JsonValue } from './io/json.js';
export { bf16ToNumber, f16ToNumber, numberToBf16, numberToF16 } from './io/half.js';
export {
  MAX_HEADER_BYTES,
  SAFETENSORS_DTYPES,
  SAFETENSORS_DTYPE_SIZE,
  SafetensorsReader,
  openSafetensors,
  planSafetensors,
  readSafetensors,
  serializeSafetensors,
  type LoadedTensor,
  type SafetensorsContents,
  type SafetensorsDType,
  type SafetensorsEntry,
  type SafetensorsPlan,
  type SafetensorsReadOptions,
  type SaveDType,
  type TensorToSave,
} from './io/safetensors.js';
export { openSafetensorsFile, readSafetensorsFile, writeSafetensorsFile } from './io/safetensors-node.js';

export type { Tokenizer } from './tokenizers/types.js';
export { MissingFileError, TokenizerError } from './tokenizers/errors.js';
export { BYTE_TO_CHAR, BytePairEncoding, GPT2_SPLIT_PATTERN, bytesToSymbols, symbolsToBytes, type Merge } from './tokenizers/bpe.js';
export {
  END_OF_TEXT,
  GPT2Tokenizer,
  gpt2FromRanks,
  loadGPT2Tokenizer,
  parseMergesTxt,
  type DecodeOptions,
  type EncodeOptions,
  type GPT2TokenizerOptions,
} from './tokenizers/gpt2.js';
export { CharTokenizer, type CharTokenizerJSON, type CharTokenizerOptions, type UnknownPolicy } from './tokenizers/char.js';
export { TOKENIZER_FILES, loadTokenizer, saveTokenizer } from './tokenizers/load-node.js';
