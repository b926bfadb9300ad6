/**
 * @tessera/models: nn modules, Transformer layers, GPT-2 (training, KV-cache
 * generation, Hugging Face model directories), classifiers, safetensors and
 * tokenizers.
 */

export { FormatError, FileError } from './io/errors.js';
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
export { fsyncPath, processAlive } from './io/durable-node.js';

export type { Tokenizer } from './tokenizers/types.js';
export { MissingFileError, TokenizerError } from './tokenizers/errors.js';
export { BytePairEncoding, type Merge } from './tokenizers/bpe.js';
export { BYTE_TO_CHAR, GPT2_SPLIT_PATTERN, bytesToSymbols, symbolsToBytes } from './tokenizers/byte-level.js';
export { END_OF_TEXT, GPT2Tokenizer, type DecodeOptions, type EncodeOptions, type GPT2TokenizerOptions } from './tokenizers/gpt2.js';
export { parseMergesTxt, parseTokenizerJson, parseVocabJson, type GPT2TokenizerFiles } from './tokenizers/gpt2-files.js';
export { gpt2FromRanks, loadGPT2Tokenizer } from './tokenizers/gpt2-ranks.js';
export { CharTokenizer, type CharTokenizerJSON, type CharTokenizerOptions, type UnknownPolicy } from './tokenizers/char.js';
export { TOKENIZER_FILES, loadTokenizer, saveTokenizer } from './tokenizers/load-node.js';

export { StateDictError, ConfigError, QuantizedModelError, type ShapeMismatch } from './nn/errors.js';
export {
  Module,
  type LoadStateDictOptions,
  type LoadStateDictResult,
  type StateDictInput,
  type StateDictValue,
} from './nn/module.js';
export { ModuleList } from './nn/module-list.js';
export { checkParameterBudget, transformerBlockParameters } from './nn/size.js';
export { FlatParameters, standaloneParameters, type FlatParamGroup, type ParameterFactory } from './nn/parameters.js';
export {
  calculateGain,
  computeFans,
  constant_,
  deriveSeed,
  glorotNormal_,
  glorotUniform_,
  gpt2Init,
  heNormal_,
  heUniform_,
  kaimingNormal_,
  kaimingUniform_,
  normal_,
  ones_,
  uniform_,
  xavierNormal_,
  xavierUniform_,
  zeros_,
  type InitOptions,
  type KaimingOptions,
  type WeightLayout,
  type XavierOptions,
} from './nn/init.js';
export { Linear, type LayerOptions } from './nn/linear.js';
export { Conv1D } from './nn/conv1d.js';
export { Embedding } from './nn/embedding.js';
export { LayerNorm } from './nn/layer-norm.js';
export { Dropout } from './nn/dropout.js';
export { GELU } from './nn/gelu.js';
export { MASK_VALUE, attend, causalMask, mergeHeads, splitHeads, type AttendOptions } from './nn/attend.js';
export { MultiHeadAttention, type MultiHeadAttentionOptions } from './nn/multi-head-attention.js';
export { FeedForward } from './nn/feed-forward.js';
export { TransformerBlock, type TransformerBlockOptions } from './nn/transformer-block.js';
export { TransformerEncoder } from './nn/transformer-encoder.js';
export { LearnedPositionalEmbedding, SinusoidalPositionalEncoding } from './nn/positional.js';

export {
  GPT2_ACTIVATIONS,
  GPT2_DEFAULTS,
  gpt2Config,
  gpt2ConfigToJson,
  gpt2ParameterCounts,
  innerSize,
  layerHeads,
  type GPT2Config,
  type GPT2ConfigInput,
} from './gpt2/config.js';
export { GPT2, GPT2LMHeadModel, type GPT2Options, type LMLossOptions } from './gpt2/model.js';
export {
  quantize,
  defaultGroupSize,
  dequantize,
  quantizedBytes,
  quantizedWeights,
  installQuantized,
  quantSites,
  assertNotQuantized,
  type QuantizeOptions,
  type QuantizedBytes,
  type QuantLayout,
  type QuantSite,
} from './quant/quantize.js';
export { QUANT_METHOD, QUANT_FORMAT, SCALE_SUFFIX, type QuantizationConfig } from './quant/checkpoint.js';
export * from './gguf/index.js';
export * from './prune/index.js';
export {
  HF_BUFFER,
  buildGPT2FromFiles,
  gpt2CheckpointParams,
  gpt2PretrainedTensors,
  loadGPT2Directory,
  normalizeGPT2Keys,
  saveGPT2Directory,
  type GPT2PretrainedModel,
} from './gpt2/hf-checkpoint.js';
export { GPT2Model } from './gpt2/transformer.js';
export { GPT2Block } from './gpt2/block.js';
export { GPT2Attention } from './gpt2/attention.js';
export { GPT2MLP } from './gpt2/mlp.js';
export { KVCache, type LayerCache } from './gpt2/kv-cache.js';
export { Sampler, argmaxOf, seededRandom, type SamplingOptions } from './gpt2/sampling.js';
export { generateTokens, streamTokens, type CausalLM, type GenerateOptions } from './gpt2/generate.js';
export { BatchedDecoder, DecodeSequence, decodeStepHidden, type BatchedCausalLM, type DecodeEvent, type DecodeFinish } from './gpt2/batched-decoder.js';
export {
  MODEL_FILES,
  buildPretrained,
  checkpointStateDict,
  loadModelDirectory,
  parametersToSave,
  pretrainedTensors,
  readPretrained,
  saveModelDirectory,
  writePretrained,
  type PretrainedFiles,
  type PretrainedSource,
  type SavableTokenizer,
} from './gpt2/pretrained.js';
export {
  GPT2ForSequenceClassification,
  classificationLoss,
  lastTokenRows,
  type Labels,
  type SequenceClassificationOptions,
} from './gpt2/sequence-classification.js';
export { TransformerEncoderClassifier, type TransformerEncoderClassifierOptions } from './classifiers/transformer-encoder-classifier.js';
export { OnnxExportError } from './export/errors.js';
export { ONNX_OPSETS, ONNX_QDQ_MIN_OPSET, exportOnnxBytes, type OnnxDType, type OnnxExportOptions, type OnnxQuantFormat } from './export/onnx.js';
export { exportOnnx, type OnnxFileOptions, type OnnxFiles } from './export/onnx-node.js';
