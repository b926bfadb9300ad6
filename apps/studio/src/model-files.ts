/**
 * A GPT-2 as the files of a Hugging Face model directory, in memory: config.json,
 * model.safetensors and the tokenizer files — exactly what `tessera train` and
 * `model.savePretrained` write, so a directory trained on a server opens here and a model saved
 * here opens with `tessera generate` or transformers. Also zipped (fflate) for one download and
 * for storage in IndexedDB.
 *
 * `@tessera/models` reads and writes these directories through `node:fs`; this module is the
 * browser's side of the same layout, built from the package's format pieces (config JSON,
 * safetensors, tokenizers, checkpoint key normalisation), not a second format.
 */

import {
  CharTokenizer,
  FormatError,
  GPT2,
  GPT2Tokenizer,
  HF_BUFFER,
  MODEL_FILES,
  MissingFileError,
  TOKENIZER_FILES,
  checkpointStateDict,
  gpt2Config,
  gpt2ConfigToJson,
  openSafetensors,
  parametersToSave,
  serializeSafetensors,
  type GPT2ConfigInput,
  type SavableTokenizer,
} from '@tessera/models';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';

/** File name → bytes (names are base names: a directory's files). */
export type ModelFiles = Map<string, Uint8Array>;

/** The files of `model` with `tokenizer`, as `model.savePretrained(dir, { tokenizer })` writes them. */
export async function modelToFiles(model: GPT2, tokenizer: SavableTokenizer | null): Promise<ModelFiles> {
  const files: ModelFiles = new Map();
  files.set(MODEL_FILES.config, strToU8(`${JSON.stringify(gpt2ConfigToJson(model.config, ['GPT2LMHeadModel']), null, 2)}\n`));
  const tensors = await parametersToSave(model.namedParameters(), model.flat);
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
 * Builds the GPT-2 that `files` describe. Throws `MissingFileError` naming what is missing,
 * `FormatError` for a bad config.json, and the models package's errors for bad weights or a
 * tokenizer larger than the vocabulary. `where` names the source in messages.
 */
export function modelFromFiles(files: ModelFiles, where: string): { model: GPT2; tokenizer: SavableTokenizer | null } {
  const missing = [MODEL_FILES.config, MODEL_FILES.weights].filter((f) => !files.has(f));
  if (missing.length > 0) {
    const has = files.size > 0 ? `it has ${[...files.keys()].join(', ')}` : 'it is empty';
    throw new MissingFileError(`${where} lacks ${missing.join(' and ')} (a Hugging Face model directory with safetensors weights is expected; ${has})`, where, missing);
  }
  let json: unknown;
  try {
    json = JSON.parse(strFromU8(files.get(MODEL_FILES.config)!));
  } catch (e) {
    throw new FormatError(`${where}/${MODEL_FILES.config} is not valid JSON: ${(e as Error).message}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new FormatError(`${where}/${MODEL_FILES.config} must hold a JSON object`);
  const config = gpt2Config(json as GPT2ConfigInput, { allowUnknown: true });
  const tokenizer = tokenizerOf(files, where);
  if (tokenizer && tokenizer.vocabSize > config.vocab_size) {
    throw new FormatError(`${where}: the tokenizer has ${tokenizer.vocabSize} ids but config.json's vocab_size is ${config.vocab_size}`);
  }
  const weights = openSafetensors(files.get(MODEL_FILES.weights)!);
  const model = new GPT2(config, { init: false });
  try {
    model.loadStateDict(checkpointStateDict(weights, HF_BUFFER));
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, tokenizer };
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
