/**
 * GPT-2 as GGUF, with llama.cpp's `gpt2` architecture names (its convert_hf_to_gguf.py and
 * gguf-py constants): token_embd, position_embd, blk.N.{attn_norm, attn_qkv, attn_output,
 * ffn_norm, ffn_up, ffn_down}, output_norm, output, and the `gpt2.*` hyperparameters and
 * `tokenizer.ggml.*` keys of the byte-level BPE tokenizer.
 *
 * Orientation. GGUF's ne[0] is the fastest dimension and llama.cpp multiplies by matrices
 * of ne = [in, out], i.e. out rows of in values. HF's Conv1D weight is [in, out] row-major,
 * so it is transposed on the way out (and back on the way in), exactly like Tessera's
 * quantized layout, which is output-major too: a Q8_0 / Q4_0 matrix moves between the file
 * and a QuantizedWeight as a byte copy per block plus its f16 scale. The embedding tables
 * ([vocab, C], [positions, C]) are already rows of C values: ne = [C, rows].
 */

import { ArgumentError, UnsupportedError, dequantizeMatrix, quantizeMatrix, type QuantBits, type QuantizedMatrix } from '@tessera/core';
import { quantizedWeightToHost } from '@tessera/tensor';
import { f16ToNumber, numberToF16 } from '../io/half.js';
import { gpt2Config, innerSize, type GPT2Config } from '../gpt2/config.js';
import { GPT2 } from '../gpt2/model.js';
import type { StateDictValue } from '../nn/module.js';
import { uploadQuantized } from '../quant/checkpoint.js';
import { installQuantized, quantizedWeights } from '../quant/quantize.js';
import { GPT2Tokenizer } from '../tokenizers/gpt2.js';
import { parseMergesTxt } from '../tokenizers/gpt2-files.js';
import { GGML_TYPE_ID, GgufFormatError, type GgufTensorType, type GgufValue } from './format.js';
import { Q4K_BLOCK, quantizeQ4K } from './kquants.js';
import { blockScale, ggufTensorData, ggufTensorValues, parseGguf, type GgufFile, type GgufTensorInfo } from './reader.js';
import { serializeGguf, type GgufTensorToWrite } from './writer.js';

const BLOCK_PARTS: readonly (readonly [string, string])[] = [
  ['ln_1', 'attn_norm'],
  ['attn.c_attn', 'attn_qkv'],
  ['attn.c_proj', 'attn_output'],
  ['ln_2', 'ffn_norm'],
  ['mlp.c_fc', 'ffn_up'],
  ['mlp.c_proj', 'ffn_down'],
];

/** The Conv1D parts: their weights are [in, out] in HF and out rows of in values in GGUF. */
const CONV = new Set(['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj']);

/** One GPT-2 parameter with its GGUF name; `matrix` marks the weights stored as rows of k (quantizable, [n, k]). */
interface Slot {
  hf: string;
  gguf: string;
  matrix: 'table' | 'conv' | null;
}

/** Every parameter of a GPT-2 of `nLayer` blocks, in the file's order. */
function slots(nLayer: number): Slot[] {
  const out: Slot[] = [
    { hf: 'transformer.wte.weight', gguf: 'token_embd.weight', matrix: 'table' },
    { hf: 'transformer.wpe.weight', gguf: 'position_embd.weight', matrix: null },
  ];
  for (let i = 0; i < nLayer; i++) {
    for (const [hf, gg] of BLOCK_PARTS) {
      for (const p of ['weight', 'bias']) out.push({ hf: `transformer.h.${i}.${hf}.${p}`, gguf: `blk.${i}.${gg}.${p}`, matrix: p === 'weight' && CONV.has(hf) ? 'conv' : null });
    }
  }
  out.push({ hf: 'transformer.ln_f.weight', gguf: 'output_norm.weight', matrix: null }, { hf: 'transformer.ln_f.bias', gguf: 'output_norm.bias', matrix: null });
  return out;
}

/** Options of gpt2ToGguf. */
export interface GgufWriteOptions {
  /**
   * Type of the matrices (token_embd / output, attn_qkv, attn_output, ffn_up, ffn_down):
   * 'F32', 'F16', 'Q8_0', 'Q4_0' or 'Q4_K'. Default: Q8_0 / Q4_0 for a model quantized to int8 / int4
   * with 32-value groups, else F32. Norms and biases are F32, position_embd F16 in an F16
   * file and F32 otherwise. Q4_K needs every matrix row to be a multiple of 256 values
   * (n_embd and the MLP width), and is quantized from the f32 values (see kquants.ts).
   */
  type?: GgufTensorType;
  /** The tokenizer to embed (default: `model.tokenizer` when it is a GPT2Tokenizer; null: none). */
  tokenizer?: GPT2Tokenizer | null;
  /** `general.name` (default "gpt2"). */
  name?: string;
}

/** The metadata key and value naming Tessera as the writer of a GGUF file. */
export const GGUF_WRITER_KEY = 'tessera.writer';
export const GGUF_WRITER = '@tessera/models';

/**
 * llama.cpp's llama_ftype of each file. Q4_K files are MOSTLY_Q4_K_S (14), not Q4_K_M (15):
 * llama.cpp's Q4_K_M keeps the output head and half the attn_v / ffn_down matrices in Q6_K,
 * whereas every matrix here is Q4_K, which is what its "small" mix is closest to.
 */
const FILE_TYPE: Record<GgufTensorType, number> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7, Q4_K: 14 };

/** ne of a [rows, cols] row-major array. */
const ne = (rows: number, cols: number) => [cols, rows];

function f32Bytes(v: Float32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function f16Bytes(v: ArrayLike<number>): Uint8Array {
  const out = new Uint16Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = numberToF16(v[i]);
  return new Uint8Array(out.buffer);
}

/** [k, n] -> [n, k]. */
function transpose(v: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c];
  return out;
}

/** True when every scale is an f16 value (the matrix then fits Q8_0 / Q4_0 blocks exactly). */
function f16Exact(scales: Float32Array): boolean {
  for (const s of scales) if (f16ToNumber(numberToF16(s)) !== s) return false;
  return true;
}

/** Q8_0 / Q4_0 blocks of a 32-group matrix with f16-exact scales: per block the f16 scale, then its 32 or 16 value bytes. */
function blocks(m: QuantizedMatrix): Uint8Array {
  const per = m.bits === 8 ? 32 : 16;
  const nb = (m.n * m.k) / 32;
  const out = new Uint8Array(nb * (2 + per));
  const dv = new DataView(out.buffer);
  const q = new Uint8Array(m.q.buffer, m.q.byteOffset, m.q.byteLength);
  for (let b = 0; b < nb; b++) {
    dv.setUint16(b * (2 + per), numberToF16(m.scales[b]), true);
    out.set(q.subarray(b * per, (b + 1) * per), b * (2 + per) + 2);
  }
  return out;
}

/** The GGUF metadata of a GPT-2 config and tokenizer. */
function metadataOf(config: GPT2Config, type: GgufTensorType, tokenizer: GPT2Tokenizer | null, name: string): [string, GgufValue][] {
  const u32 = (value: number): GgufValue => ({ type: 'UINT32', value });
  const md: [string, GgufValue][] = [
    ['general.architecture', { type: 'STRING', value: 'gpt2' }],
    ['general.name', { type: 'STRING', value: name }],
    ['general.file_type', u32(FILE_TYPE[type])],
    // Which program wrote the file (`tessera quantize --overwrite` replaces only such files).
    [GGUF_WRITER_KEY, { type: 'STRING', value: GGUF_WRITER }],
    ['gpt2.context_length', u32(config.n_positions)],
    ['gpt2.embedding_length', u32(config.n_embd)],
    ['gpt2.feed_forward_length', u32(innerSize(config))],
    ['gpt2.block_count', u32(config.n_layer)],
    ['gpt2.attention.head_count', u32(config.n_head)],
    ['gpt2.attention.layer_norm_epsilon', { type: 'FLOAT32', value: config.layer_norm_epsilon }],
  ];
  if (type === 'Q8_0' || type === 'Q4_0' || type === 'Q4_K') md.push(['general.quantization_version', u32(2)]);
  if (tokenizer) {
    const vocab = tokenizer.toVocabJson();
    const n = Math.max(config.vocab_size, tokenizer.vocabSize);
    const tokens: string[] = Array.from({ length: n }, (_, i) => `[PAD${i}]`);
    const types: number[] = new Array(n).fill(5); // UNUSED until a token claims the id
    for (const [token, id] of Object.entries(vocab)) {
      tokens[id] = token;
      types[id] = tokenizer.specialTokens.has(token) ? 3 : 1; // CONTROL / NORMAL
    }
    const merges = parseMergesTxt(tokenizer.toMergesTxt()).map(([a, b]) => `${a} ${b}`);
    md.push(
      ['tokenizer.ggml.model', { type: 'STRING', value: 'gpt2' }],
      ['tokenizer.ggml.pre', { type: 'STRING', value: 'gpt-2' }],
      ['tokenizer.ggml.tokens', { type: 'ARRAY', itemType: 'STRING', value: tokens }],
      ['tokenizer.ggml.token_type', { type: 'ARRAY', itemType: 'INT32', value: types }],
      ['tokenizer.ggml.merges', { type: 'ARRAY', itemType: 'STRING', value: merges }],
    );
  }
  // The config's special ids, also without a tokenizer (the model's generate() stops on eos).
  md.push(['tokenizer.ggml.bos_token_id', u32(config.bos_token_id)], ['tokenizer.ggml.eos_token_id', u32(config.eos_token_id)]);
  return md;
}

/**
 * A GPT-2 (f32 or quantized) as GGUF bytes (see GgufWriteOptions for the tensor types).
 * Q8_0 / Q4_0 matrices come from the model's quantized weights as they are when those are
 * int8 / int4 with 32-value groups and f16 scales (`quantize(model, { bits, groupSize: 32,
 * f16Scales: true })`, or a model loaded from GGUF), so such a model round-trips bit for
 * bit; otherwise each matrix is quantized from its f32 values (the dequantized ones for a
 * quantized model) with f16-rounded scales. `output.weight` is written as a copy of
 * token_embd.weight, as llama.cpp's converter does (GPT-2 ties them).
 * @example const bytes = await gpt2ToGguf(await quantize(model, { bits: 8, f16Scales: true }));
 */
export async function gpt2ToGguf(model: GPT2, options: GgufWriteOptions = {}): Promise<Uint8Array> {
  const { config } = model;
  if (config.activation_function !== 'gelu_new' && config.activation_function !== 'gelu_pytorch_tanh') {
    throw new UnsupportedError(`gpt2ToGguf: activation_function ${config.activation_function} has no GGUF form (llama.cpp's gpt2 uses the tanh GELU, gelu_new)`);
  }
  const quantized = quantizedWeights(model);
  const first = [...quantized.values()][0]?.weight;
  const type: GgufTensorType = options.type ?? (first && first.groupSize === 32 ? (first.bits === 8 ? 'Q8_0' : 'Q4_0') : 'F32');
  if (!(type in FILE_TYPE)) throw new ArgumentError(`gpt2ToGguf: type must be F32, F16, Q8_0, Q4_0 or Q4_K, got ${String(type)}`);
  const own = model.tokenizer instanceof GPT2Tokenizer ? model.tokenizer : null;
  const tokenizer = options.tokenizer === undefined ? own : options.tokenizer;
  const f32 = new Map(model.namedParameters());
  const block = await model.flat.all.data();
  const valuesOf = (name: string): Float32Array => {
    const p = f32.get(name)!;
    const at = model.flat.offsetOf(p)!;
    return (block as Float32Array).subarray(at, at + p.size);
  };
  const tensors: GgufTensorToWrite[] = [];
  for (const s of slots(config.n_layer)) {
    const q = quantized.get(s.hf);
    if (!s.matrix) {
      const v = valuesOf(s.hf);
      const shape = f32.get(s.hf)!.shape;
      const dims = shape.length === 2 ? ne(shape[0], shape[1]) : [shape[0]];
      const half = type === 'F16' && shape.length === 2;
      tensors.push({ name: s.gguf, dims, type: GGML_TYPE_ID[half ? 'F16' : 'F32'], data: half ? f16Bytes(v) : f32Bytes(Float32Array.from(v)) });
      continue;
    }
    // A matrix as n rows of k: quantized (host copy) or f32 values (transposed for Conv1D).
    const host = q ? await quantizedWeightToHost(q.weight) : null;
    const rowsOf = (): { n: number; k: number; v: Float32Array } => {
      if (host) return { n: host.n, k: host.k, v: dequantizeMatrix(host) };
      const shape = f32.get(s.hf)!.shape;
      const v = valuesOf(s.hf);
      return s.matrix === 'conv' ? { n: shape[1], k: shape[0], v: transpose(v, shape[0], shape[1]) } : { n: shape[0], k: shape[1], v: Float32Array.from(v) };
    };
    if (type === 'F32' || type === 'F16') {
      const { n, k, v } = rowsOf();
      tensors.push({ name: s.gguf, dims: ne(n, k), type: GGML_TYPE_ID[type], data: type === 'F32' ? f32Bytes(v) : f16Bytes(v) });
      continue;
    }
    if (type === 'Q4_K') {
      const { n, k, v } = rowsOf();
      if (k % Q4K_BLOCK !== 0) throw new ArgumentError(`gpt2ToGguf: ${s.hf} has rows of ${k} values, not a multiple of Q4_K's super-block of ${Q4K_BLOCK}`);
      tensors.push({ name: s.gguf, dims: ne(n, k), type: GGML_TYPE_ID.Q4_K, data: quantizeQ4K(v, s.gguf) });
      continue;
    }
    const bits: QuantBits = type === 'Q8_0' ? 8 : 4;
    let m: QuantizedMatrix;
    if (host && host.bits === bits && host.groupSize === 32 && f16Exact(host.scales)) m = host;
    else {
      const { n, k, v } = rowsOf();
      if (k % 32 !== 0) throw new ArgumentError(`gpt2ToGguf: ${s.hf} has rows of ${k} values, not a multiple of ${type}'s block of 32`);
      m = quantizeMatrix(v, n, k, { bits, groupSize: 32, f16Scales: true });
    }
    tensors.push({ name: s.gguf, dims: ne(m.n, m.k), type: GGML_TYPE_ID[type], data: blocks(m) });
  }
  const embd = tensors[0];
  tensors.push({ ...embd, name: 'output.weight' });
  return serializeGguf(metadataOf(config, type, tokenizer, options.name ?? 'gpt2'), tensors);
}

/** The shortest decimal with the same f32 value (a FLOAT32 1e-5 reads back as 1e-5, not 9.99999974e-6). */
function shortestF32(x: number): number {
  for (let p = 1; p < 17; p++) {
    const y = Number(x.toPrecision(p));
    if (Math.fround(y) === Math.fround(x)) return y;
  }
  return x;
}

/** Reads metadata `key` as a non-negative integer (any integer type); a GgufFormatError naming it when absent or not one. */
function intKey(file: GgufFile, key: string): number {
  const v = file.metadata.get(key);
  const field = `metadata "${key}"`;
  if (!v) throw new GgufFormatError(`GGUF: ${field} is missing; a gpt2 file has it`, field);
  const n = typeof v.value === 'bigint' ? Number(v.value) : v.value;
  if (v.type === 'ARRAY' || typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw new GgufFormatError(`GGUF: ${field} must be a non-negative integer, got ${v.type} ${String(v.value)}`, field);
  return n;
}

/** The GPT2 config a gpt2 GGUF file describes (vocab_size from token_embd's rows). */
export function gpt2ConfigFromGguf(file: GgufFile): GPT2Config {
  const arch = file.metadata.get('general.architecture');
  if (!arch || arch.value !== 'gpt2') throw new GgufFormatError(`GGUF: general.architecture is ${arch ? JSON.stringify(arch.value) : 'missing'}; Tessera reads "gpt2" files`, 'metadata "general.architecture"');
  const embd = file.tensors.find((t) => t.name === 'token_embd.weight');
  if (!embd || embd.dims.length !== 2) throw new GgufFormatError('GGUF: tensor "token_embd.weight" is missing or not 2-D', 'tensor "token_embd.weight"');
  const C = intKey(file, 'gpt2.embedding_length');
  const ff = intKey(file, 'gpt2.feed_forward_length');
  const eps = file.metadata.get('gpt2.attention.layer_norm_epsilon');
  if (!eps || (eps.type !== 'FLOAT32' && eps.type !== 'FLOAT64') || !(eps.value > 0)) {
    throw new GgufFormatError('GGUF: metadata "gpt2.attention.layer_norm_epsilon" must be a positive FLOAT32', 'metadata "gpt2.attention.layer_norm_epsilon"');
  }
  // GPT-2's <|endoftext|> (50256) when the file names none, or the last id of a smaller vocabulary.
  const tokenId = (key: string) => (file.metadata.has(key) ? intKey(file, key) : Math.min(50256, embd.dims[1] - 1));
  try {
    return gpt2Config({
      vocab_size: embd.dims[1],
      n_positions: intKey(file, 'gpt2.context_length'),
      n_embd: C,
      n_layer: intKey(file, 'gpt2.block_count'),
      n_head: intKey(file, 'gpt2.attention.head_count'),
      n_inner: ff === 4 * C ? null : ff,
      layer_norm_epsilon: shortestF32(eps.value as number),
      activation_function: 'gelu_new',
      bos_token_id: tokenId('tokenizer.ggml.bos_token_id'),
      eos_token_id: tokenId('tokenizer.ggml.eos_token_id'),
    });
  } catch (e) {
    throw new GgufFormatError(`GGUF: the gpt2 hyperparameters do not make a GPT-2: ${(e as Error).message}`, 'metadata "gpt2.*"');
  }
}

/** The tokenizer of a file's `tokenizer.ggml.*` keys (model "gpt2"), or null when it has none. */
export function gpt2TokenizerFromGguf(file: GgufFile): GPT2Tokenizer | null {
  const model = file.metadata.get('tokenizer.ggml.model');
  if (!model) return null;
  if (model.value !== 'gpt2') throw new GgufFormatError(`GGUF: tokenizer.ggml.model is ${JSON.stringify(model.value)}; Tessera reads the "gpt2" byte-level BPE tokenizer`, 'metadata "tokenizer.ggml.model"');
  const arr = (key: string, itemType: string): unknown[] => {
    const v = file.metadata.get(key);
    if (!v || v.type !== 'ARRAY' || v.itemType !== itemType) throw new GgufFormatError(`GGUF: metadata "${key}" must be an ARRAY of ${itemType}`, `metadata "${key}"`);
    return v.value;
  };
  const tokens = arr('tokenizer.ggml.tokens', 'STRING') as string[];
  const typesValue = file.metadata.get('tokenizer.ggml.token_type');
  const types = typesValue ? (arr('tokenizer.ggml.token_type', 'INT32') as number[]) : null;
  if (types && types.length !== tokens.length) throw new GgufFormatError(`GGUF: tokenizer.ggml.token_type has ${types.length} entries for ${tokens.length} tokens`, 'metadata "tokenizer.ggml.token_type"');
  const merges = arr('tokenizer.ggml.merges', 'STRING') as string[];
  const vocab = new Map<string, number>();
  const specials = new Map<string, number>();
  tokens.forEach((t, id) => {
    const type = types?.[id] ?? 1;
    if (type === 5) return; // UNUSED: a padding id
    if (type === 3) specials.set(t, id);
    vocab.set(t, id);
  });
  const eos = file.metadata.has('tokenizer.ggml.eos_token_id') ? tokens[intKey(file, 'tokenizer.ggml.eos_token_id')] : undefined;
  try {
    return new GPT2Tokenizer(vocab, parseMergesTxt(merges.join('\n')), { specialTokens: specials, eosToken: eos });
  } catch (e) {
    throw new GgufFormatError(`GGUF: the tokenizer.ggml.* vocabulary does not make a GPT-2 tokenizer: ${(e as Error).message}`, 'metadata "tokenizer.ggml.tokens"');
  }
}

/** Q8_0 / Q4_0 blocks of a [n, k] GGUF matrix as a Tessera quantized matrix (group 32): per block a byte copy and its f16 scale. */
function matrixFromBlocks(file: GgufFile, info: GgufTensorInfo): QuantizedMatrix {
  const bits: QuantBits = info.typeName === 'Q8_0' ? 8 : 4;
  const [k, n] = info.dims;
  const per = bits === 8 ? 32 : 16;
  const src = ggufTensorData(file, info);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const nb = (n * k) / 32;
  const q = new Int32Array((n * k * bits) / 32);
  const qb = new Uint8Array(q.buffer);
  const scales = new Float32Array(nb);
  for (let b = 0; b < nb; b++) {
    scales[b] = blockScale(dv, b * (2 + per), `tensor "${info.name}"`, b);
    qb.set(src.subarray(b * (2 + per) + 2, (b + 1) * (2 + per)), b * per);
  }
  return { bits, groupSize: 32, n, k, q, scales };
}

/**
 * Builds a GPT-2 from a gpt2 GGUF file (bytes or parsed): F32 / F16 / BF16 tensors load
 * as f32 parameters, Q8_0 / Q4_0 matrices as the model's quantized weights (int8 / int4,
 * group 32; their f32 form is never allocated), any other decodable tensor (Q4_K / Q6_K
 * matrices, a quantized position_embd or norm) dequantized to an f32 parameter. The tokenizer, when the file has one,
 * becomes `model.tokenizer`. `output.weight` must match token_embd.weight when both have
 * the same type (GPT-2 ties them; the head reads token_embd). A file that is not a gpt2
 * model, lacks a tensor, or has one of the wrong shape or an undecodable type is a
 * GgufFormatError naming it.
 * @example const model = gpt2FromGguf(new Uint8Array(await (await fetch('gpt2.Q8_0.gguf')).arrayBuffer()));
 */
export function gpt2FromGguf(source: Uint8Array | ArrayBuffer | GgufFile, options: { tokenizer?: boolean } = {}): GPT2 {
  const file = source instanceof Uint8Array || source instanceof ArrayBuffer ? parseGguf(source) : source;
  const config = gpt2ConfigFromGguf(file);
  const byName = new Map(file.tensors.map((t) => [t.name, t]));
  const C = config.n_embd;
  const I = innerSize(config);
  const expected = (s: Slot): number[] => {
    const m = /^blk\.\d+\.(\w+)\.(weight|bias)$/.exec(s.gguf);
    if (s.gguf === 'token_embd.weight') return [C, config.vocab_size];
    if (s.gguf === 'position_embd.weight') return [C, config.n_positions];
    if (!m) return [C];
    const out = { attn_qkv: 3 * C, attn_output: C, ffn_up: I, ffn_down: C, attn_norm: C, ffn_norm: C }[m[1]]!;
    const inp = m[1] === 'ffn_down' ? I : C;
    return m[2] === 'bias' || m[1].endsWith('_norm') ? [out] : [inp, out];
  };
  const all = slots(config.n_layer);
  for (const s of all) {
    const t = byName.get(s.gguf);
    const want = expected(s);
    if (!t) throw new GgufFormatError(`GGUF: tensor "${s.gguf}" is missing; a gpt2 file of ${config.n_layer} blocks has it`, `tensor "${s.gguf}"`);
    if (t.dims.length !== want.length || t.dims.some((d, i) => d !== want[i])) {
      throw new GgufFormatError(`GGUF: tensor "${s.gguf}" has ne [${t.dims.join(', ')}], expected [${want.join(', ')}] for this config`, `tensor "${s.gguf}".ne`);
    }
  }
  const out = byName.get('output.weight');
  const embd = byName.get('token_embd.weight')!;
  if (out) {
    if (out.dims.length !== 2 || out.dims[0] !== embd.dims[0] || out.dims[1] !== embd.dims[1]) throw new GgufFormatError(`GGUF: tensor "output.weight" has ne [${out.dims.join(', ')}], token_embd's [${embd.dims.join(', ')}]`, 'tensor "output.weight".ne');
    if (out.type === embd.type) {
      const [a, b] = [ggufTensorData(file, out), ggufTensorData(file, embd)];
      for (let i = 0; i < a.length; i++) {
        if (a[i] !== b[i]) throw new GgufFormatError('GGUF: output.weight differs from token_embd.weight; GPT-2 ties its head to the token embedding and cannot hold another one', 'tensor "output.weight"');
      }
    }
  }
  const quantized = new Map<string, QuantizedMatrix>();
  const dict = new Map<string, StateDictValue>();
  for (const s of all) {
    const t = byName.get(s.gguf)!;
    if (s.matrix && (t.typeName === 'Q8_0' || t.typeName === 'Q4_0')) {
      quantized.set(s.hf, matrixFromBlocks(file, t));
      continue;
    }
    const v = ggufTensorValues(file, t);
    if (s.matrix === 'conv') dict.set(s.hf, { shape: [t.dims[0], t.dims[1]], data: transpose(v, t.dims[1], t.dims[0]) });
    else dict.set(s.hf, { shape: t.dims.length === 2 ? [t.dims[1], t.dims[0]] : [t.dims[0]], data: v });
  }
  const model = new GPT2(config, { init: false, placeholders: quantized.size > 0 });
  try {
    if (quantized.size > 0) installQuantized(model, uploadQuantized(quantized));
    model.loadStateDict(dict);
    if (options.tokenizer !== false) model.tokenizer = gpt2TokenizerFromGguf(file);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
