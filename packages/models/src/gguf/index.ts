/** GGUF: the container (reader, writer) and GPT-2 in llama.cpp's gpt2 layout. */
export { GGML_TYPES, GGUF_VERSION, GgufFormatError, type GgufItem, type GgufTensorType, type GgufValue, type GgufValueType } from './format.js';
export { parseGguf, ggufTensorData, ggufTensorValues, type GgufFile, type GgufTensorInfo } from './reader.js';
export { quantizeQ4K } from './kquants.js';
export { serializeGguf, type GgufTensorToWrite } from './writer.js';
export { GGUF_WRITER, GGUF_WRITER_KEY, gpt2ToGguf, gpt2FromGguf, gpt2ConfigFromGguf, gpt2TokenizerFromGguf, type GgufWriteOptions } from './gpt2.js';
export { openGgufFile, loadGgufFile, saveGgufFile } from './node.js';
