/**
 * A GPT-2 as the files of a Hugging Face model directory, in memory: config.json,
 * model.safetensors and the tokenizer files — exactly what `tessera train` and
 * `model.savePretrained` write, so a directory trained on a server opens here and a model saved
 * here opens with `tessera generate` or transformers. Also zipped (fflate) for one download and
 * for storage in IndexedDB.
 *
 * `@tessera/models` reads and writes these directories through `node:fs`; this module is the
 * browser's side of the same layout, built from the package's byte-level halves of
 * `savePretrained` / `fromPretrained` (`gpt2PretrainedTensors`, `GPT2.fromFiles`), so quantized
 * directories (`tessera quantize --out`) open and save quantized here too. A `.gguf` file
 * opens with the package's `gpt2FromGguf`.
 */

import {
  CharTokenizer,
  FormatError,
  GPT2,
  GPT2Tokenizer,
  MODEL_FILES,
  MissingFileError,
  TOKENIZER_FILES,
  gpt2FromGguf,
  gpt2PretrainedTensors,
  openSafetensors,
  serializeSafetensors,
  type SavableTokenizer,
} from '@tessera/models';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';

/** File name → bytes (names are base names: a directory's files). */
export type ModelFiles = Map<string, Uint8Array>;

/**
 * The files of `model` with `tokenizer`, as `model.savePretrained(dir, { tokenizer })` writes
 * them: a quantized model stays quantized (int8 / int4 values, their scales and a
 * `quantization_config`).
 */
export async function modelToFiles(model: GPT2, tokenizer: SavableTokenizer | null): Promise<ModelFiles> {
  const files: ModelFiles = new Map();
  const { config, tensors } = await gpt2PretrainedTensors(model, 'GPT2LMHeadModel');
  files.set(MODEL_FILES.config, strToU8(`${JSON.stringify(config, null, 2)}\n`));
  files.set(MODEL_FILES.weights, serializeSafetensors(tensors, { format: 'pt' }));
  if (tokenizer instanceof CharTokenizer) files.set(TOKENIZER_FILES.char, strToU8(`${JSON.stringify(tokenizer)}\n`));
  else if (tokenizer) {
    files.set(TOKENIZER_FILES.vocab, strToU8(JSON.stringify(tokenizer.toVocabJson())));
    files.set(TOKENIZER_FILES.merges, strToU8(tokenizer.toMergesTxt()));
  }
  return files;
}

/** The tokenizer among `files` (same preference as `loadTokenizer`: tokenizer.json, vocab + merges, char), or null. */
function tokenizerOf(files: ModelFiles, where: string): SavableTokenizer | null {
  const text = (name: string): string | undefined => (files.has(name) ? strFromU8(files.get(name)!) : undefined);
  const f = TOKENIZER_FILES;
  const hf = text(f.hfTokenizer);
  if (hf !== undefined) return GPT2Tokenizer.fromTokenizerJson(hf);
  const vocab = text(f.vocab);
  const merges = text(f.merges);
  if (vocab !== undefined && merges !== undefined) return GPT2Tokenizer.fromVocabAndMerges(vocab, merges);
  if ((vocab === undefined) !== (merges === undefined)) {
    const missing = vocab === undefined ? f.vocab : f.merges;
    throw new MissingFileError(`${where} has ${vocab === undefined ? f.merges : f.vocab} but no ${missing}; a GPT-2 vocabulary needs both (or a ${f.hfTokenizer})`, where, [missing]);
  }
  const chars = text(f.char);
  return chars === undefined ? null : CharTokenizer.fromJSON(chars);
}

/**
 * Builds the GPT-2 that `files` describe, as `GPT2.fromPretrained` builds it from a directory
 * (quantized checkpoints load quantized). Throws `MissingFileError` naming what is missing,
 * `FormatError` for a bad config.json or quantization_config, and the models package's errors
 * for bad weights or a tokenizer larger than the vocabulary. `where` names the source in messages.
 */
export function modelFromFiles(files: ModelFiles, where: string): { model: GPT2; tokenizer: SavableTokenizer | null } {
  const missing = [MODEL_FILES.config, MODEL_FILES.weights].filter((f) => !files.has(f));
  if (missing.length > 0) {
    const has = files.size > 0 ? `it has ${[...files.keys()].join(', ')}` : 'it is empty';
    throw new MissingFileError(`${where} lacks ${missing.join(' and ')} (a Hugging Face model directory with safetensors weights, or a .gguf file, is expected; ${has})`, where, missing);
  }
  const configPath = `${where}/${MODEL_FILES.config}`;
  let config: unknown;
  try {
    config = JSON.parse(strFromU8(files.get(MODEL_FILES.config)!));
  } catch (e) {
    throw new FormatError(`${configPath} is not valid JSON: ${(e as Error).message}`);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new FormatError(`${configPath} must hold a JSON object`);
  const tokenizer = tokenizerOf(files, where);
  const weights = openSafetensors(files.get(MODEL_FILES.weights)!);
  const model = GPT2.fromFiles({ config: config as Record<string, unknown>, weights, tokenizer }, { label: where, config: configPath, weights: `${where}/${MODEL_FILES.weights}` });
  return { model, tokenizer };
}

/**
 * The GPT-2 of a gpt2 GGUF file (`tessera quantize --gguf`, llama.cpp's converter): Q8_0 /
 * Q4_0 matrices load as int8 / int4 weights. Its tokenizer, when the file has one. Errors are
 * the package's `GgufFormatError`s, with `where` put before the message.
 */
export function modelFromGguf(bytes: Uint8Array, where: string): { model: GPT2; tokenizer: SavableTokenizer | null } {
  let model: GPT2;
  try {
    model = gpt2FromGguf(bytes);
  } catch (e) {
    if (e instanceof Error) e.message = `${where}: ${e.message}`;
    throw e;
  }
  return { model, tokenizer: model.tokenizer };
}

/**
 * Opens what the page was given: one `.zip` (a model directory, or its parent), one `.gguf`
 * file, or the files of a directory (picked one by one or as a folder, paths such as
 * `run/config.json`). `where` names the source in messages.
 */
export function openModel(source: ReadonlyMap<string, Uint8Array>, where: string): { model: GPT2; tokenizer: SavableTokenizer | null } {
  if (source.size === 1) {
    const [[name, bytes]] = source;
    if (/\.gguf$/i.test(name)) return modelFromGguf(bytes, where);
    if (/\.zip$/i.test(name)) return modelFromFiles(modelFilesFrom(bytes, where), where);
  }
  return modelFromFiles(modelFilesFrom(source, where), where);
}

/** The files as one zip (stored, not deflated: safetensors weights do not compress). */
export function zipModel(files: ModelFiles): Uint8Array {
  return zipSync(Object.fromEntries([...files].map(([name, bytes]) => [name, [bytes, { level: 0 }]])));
}

/**
 * The files of a zip or of a picked directory (paths such as `run/config.json`): base names of
 * the entries in the shallowest folder that holds a config.json, so a zip of the directory
 * itself or of its parent both work. Throws `FormatError` for bytes that are not a zip.
 */
export function modelFilesFrom(source: Uint8Array | ReadonlyMap<string, Uint8Array>, where: string): ModelFiles {
  let entries: [string, Uint8Array][];
  if (source instanceof Uint8Array) {
    try {
      entries = Object.entries(unzipSync(source));
    } catch (e) {
      throw new FormatError(`${where} is not a zip file: ${(e as Error).message}`);
    }
  } else entries = [...source];
  const dirOf = (path: string): string => path.slice(0, path.lastIndexOf('/') + 1);
  const configs = entries.filter(([p]) => p.split('/').pop() === MODEL_FILES.config).map(([p]) => dirOf(p));
  const dir = configs.sort((a, b) => a.split('/').length - b.split('/').length)[0] ?? '';
  return new Map(entries.filter(([p]) => dirOf(p) === dir && !p.endsWith('/')).map(([p, b]) => [p.slice(dir.length), b]));
}
