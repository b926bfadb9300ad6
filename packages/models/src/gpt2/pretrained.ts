/**
 * Model directories in Hugging Face's layout (Node): `config.json`,
 * `model.safetensors` and tokenizer files. Saving writes into a temporary
 * directory next to the target and renames each file into place, so a
 * reader never sees a half-written file.
 *
 * `node:fs` is imported on first use, so the package entry stays loadable in browsers.
 */

import { ArgumentError } from '@tessera/core';
import type { Tensor } from '@tessera/tensor';
import type { Module, StateDictValue } from '../nn/module.js';
import { FormatError, fileError } from '../io/errors.js';
import { fsyncPath, processAlive } from '../io/durable-node.js';
import type { FlatParameters } from '../nn/parameters.js';
import { ConfigError } from '../nn/errors.js';
import { openSafetensorsFile, writeSafetensorsFile } from '../io/safetensors-node.js';
import type { SafetensorsReader, TensorToSave } from '../io/safetensors.js';
import type { CharTokenizer } from '../tokenizers/char.js';
import { MissingFileError } from '../tokenizers/errors.js';
import type { GPT2Tokenizer } from '../tokenizers/gpt2.js';
import { TOKENIZER_FILES, loadTokenizer, saveTokenizer } from '../tokenizers/load-node.js';
import { parseQuantizationConfig, quantizationConfigOf, quantizedTensorNames, quantizedTensorsToSave, readQuantizedMatrices, uploadQuantized } from '../quant/checkpoint.js';
import { installQuantized, quantizedWeights } from '../quant/quantize.js';

/** Whether `q` is one of `model`'s installed quantized weights (then the model frees it). */
function isInstalled(model: Module, q: unknown): boolean {
  for (const { weight } of quantizedWeights(model).values()) if (weight === q) return true;
  return false;
}

/** The file names of a model directory. */
export const MODEL_FILES = { config: 'config.json', weights: 'model.safetensors' } as const;

/** A tokenizer that `saveTokenizer` / `loadTokenizer` handle. */
export type SavableTokenizer = GPT2Tokenizer | CharTokenizer;

async function exists(path: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  try {
    return (await stat(path)).isFile();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw e;
  }
}

/** What a model directory holds, opened. */
export interface PretrainedFiles {
  config: Record<string, unknown>;
  weights: SafetensorsReader;
  tokenizer: SavableTokenizer | null;
}

/**
 * Opens `dir`: parses config.json, opens model.safetensors (validated
 * header, tensors converted on demand) and loads the tokenizer when any
 * tokenizer file is present (else null). Throws `MissingFileError` naming
 * missing files, `FormatError` for a malformed config.json.
 */
export async function readPretrained(dir: string, options: { tokenizer?: boolean } = {}): Promise<PretrainedFiles> {
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  await recoverPretrainedDir(dir);
  const missing: string[] = [];
  for (const f of [MODEL_FILES.config, MODEL_FILES.weights]) if (!(await exists(join(dir, f)))) missing.push(f);
  if (missing.length > 0) {
    throw new MissingFileError(`model directory ${dir} lacks ${missing.join(' and ')} (a Hugging Face model directory with safetensors weights is expected)`, dir, missing);
  }
  const text = await readFile(join(dir, MODEL_FILES.config), 'utf8');
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${join(dir, MODEL_FILES.config)} is not valid JSON: ${(e as Error).message}`);
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new FormatError(`${join(dir, MODEL_FILES.config)} must hold a JSON object`);
  const weights = await openSafetensorsFile(join(dir, MODEL_FILES.weights));
  let tokenizer: SavableTokenizer | null = null;
  if (options.tokenizer !== false) {
    const any = await Promise.all(Object.values(TOKENIZER_FILES).map((f) => exists(join(dir, f))));
    if (any.some(Boolean)) tokenizer = await loadTokenizer(dir);
  }
  return { config: config as Record<string, unknown>, weights, tokenizer };
}

/**
 * Host copies of parameters for saving, by name. Parameters of `flat` (a model's
 * parameter block) are sliced from one read of the whole block, so saving a model
 * costs one transfer; any other parameter is read on its own.
 */
export async function parametersToSave(named: readonly [string, Tensor][], flat?: FlatParameters): Promise<Record<string, TensorToSave>> {
  const out: Record<string, TensorToSave> = {};
  const inBlock = flat ? named.filter(([, p]) => flat.offsetOf(p) !== undefined) : [];
  const block = inBlock.length > 0 ? ((await flat!.all.data()) as Float32Array) : null;
  for (const [name, p] of named) {
    const offset = flat?.offsetOf(p);
    const data = block && offset !== undefined ? block.subarray(offset, offset + p.size) : ((await p.data()) as Float32Array);
    out[name] = { dtype: 'F32', shape: p.shape, data };
  }
  return out;
}

/** Prefix of the temporary directory a save writes into (then `<pid>-<random>`). */
const SAVE_PREFIX = '.tessera-save-';
/** Written into the temporary directory once every file in it is complete and durable. */
const SAVE_COMPLETE = '.complete';

/** Renames every file of the save directory `tmp` (its marker aside) into `dir`. */
async function publishSave(tmp: string, dir: string): Promise<void> {
  const { readdir, rename } = await import('node:fs/promises');
  const { join } = await import('node:path');
  for (const name of await readdir(tmp)) if (name !== SAVE_COMPLETE) await rename(join(tmp, name), join(dir, name));
  await fsyncPath(dir);
}

/**
 * Finishes or discards the saves into `dir` that a killed process left behind (a save in
 * progress, whose writer's pid still runs, is left alone). A save killed while writing its files
 * never touched `dir` and is removed; one killed while renaming them into place is completed, so
 * `dir` holds the previous save or the new one, never a mix. `readPretrained` and
 * `writePretrained` call it first.
 */
export async function recoverPretrainedDir(dir: string): Promise<void> {
  const { readdir, rm, stat } = await import('node:fs/promises');
  const { join } = await import('node:path');
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return; // no directory: nothing to recover; the caller reports what is missing
  }
  for (const name of names) {
    const m = /^\.tessera-save-(\d+)-/.exec(name);
    if (!m || (await processAlive(Number(m[1])))) continue;
    const tmp = join(dir, name);
    try {
      const complete = await stat(join(tmp, SAVE_COMPLETE)).then(() => true, () => false);
      if (complete) await publishSave(tmp, dir);
      await rm(tmp, { recursive: true, force: true });
    } catch (e) {
      throw fileError('interrupted save', tmp, e);
    }
  }
}

/**
 * Writes config.json, model.safetensors (with `{ format: 'pt' }` metadata, as
 * transformers expects) and the tokenizer files into `dir` (created if
 * needed), as one unit: every file is written and fsynced in a temporary
 * directory inside `dir`, a marker records that the set is complete, then the
 * files are renamed into place. A process killed part way leaves the previous
 * files or (completed by `recoverPretrainedDir`, which the next open runs) the
 * new ones, never a mix, and no temporary files once the directory is opened.
 */
export async function writePretrained(
  dir: string,
  files: { config: Record<string, unknown>; tensors: Record<string, TensorToSave>; tokenizer?: SavableTokenizer | null },
): Promise<void> {
  const { mkdir, mkdtemp, readdir, rm, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  await mkdir(dir, { recursive: true });
  await recoverPretrainedDir(dir);
  const tmp = await mkdtemp(join(dir, `${SAVE_PREFIX}${process.pid}-`));
  try {
    await writeFile(join(tmp, MODEL_FILES.config), `${JSON.stringify(files.config, null, 2)}\n`, 'utf8');
    await writeSafetensorsFile(join(tmp, MODEL_FILES.weights), files.tensors, { format: 'pt' });
    if (files.tokenizer) await saveTokenizer(tmp, files.tokenizer);
    for (const name of await readdir(tmp)) await fsyncPath(join(tmp, name));
    await writeFile(join(tmp, SAVE_COMPLETE), '');
    await fsyncPath(join(tmp, SAVE_COMPLETE));
    await fsyncPath(tmp);
    await publishSave(tmp, dir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * The tensors of an opened model.safetensors as a state dict (converted on demand by
 * the reader), leaving out names that match `skip` (e.g. buffers a checkpoint carries
 * that are not parameters, so they are never decoded).
 */
export function checkpointStateDict(weights: SafetensorsReader, skip?: RegExp, exclude?: ReadonlySet<string>): Map<string, StateDictValue> {
  const dict = new Map<string, StateDictValue>();
  for (const name of weights.names()) if (!skip?.test(name) && !exclude?.has(name)) dict.set(name, weights.get(name));
  return dict;
}

/** Where opened model files came from, for messages: the source and its two files' paths. */
export interface PretrainedSource {
  /** e.g. `model directory checkpoints/run`, or the name of a zip. */
  label: string;
  config: string;
  weights: string;
}

/** The names a model directory's messages use: `model directory <dir>` and its files' paths. */
async function directorySource(dir: string): Promise<PretrainedSource> {
  const { join } = await import('node:path');
  return { label: `model directory ${dir}`, config: join(dir, MODEL_FILES.config), weights: join(dir, MODEL_FILES.weights) };
}

/**
 * Builds a model from opened model files (config.json's object, the opened model.safetensors
 * and the tokenizer; no file system, so a browser holding the bytes uses it too): calls `build`
 * with the config, then `load` with the weights as a state dict (names matching `skip` left
 * out). A model whose loading throws is disposed before the error propagates.
 *
 * A quantized checkpoint (config has a `quantization_config`, see quant/checkpoint.ts):
 * `build` is told `{ quantized: true }` (a model that can builds placeholders instead of
 * f32 weights), the quantized weights are checked and installed straight from their int8 /
 * int4 tensors, and `load` gets the f32 parameters left. No f32 copy of a quantized weight
 * is ever made.
 */
export function buildPretrained<M extends Module>(
  files: PretrainedFiles,
  source: PretrainedSource,
  options: { skip?: RegExp },
  build: (config: Record<string, unknown>, how: { quantized: boolean; weights: SafetensorsReader }) => M,
  load: (model: M, dict: Map<string, StateDictValue>) => void,
): M {
  const config: unknown = files?.config;
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new ArgumentError(`${source.label}: the config must be config.json's object, got ${Array.isArray(config) ? 'an array' : String(config)}`);
  if (typeof (files.weights as Partial<SafetensorsReader> | undefined)?.names !== 'function') throw new ArgumentError(`${source.label}: the weights must be an opened model.safetensors (openSafetensors(bytes)), got ${String(files.weights)}`);
  const vocab = files.config.vocab_size;
  if (files.tokenizer && typeof vocab === 'number' && files.tokenizer.vocabSize > vocab) {
    throw new ConfigError(
      `${source.label}: the tokenizer has ${files.tokenizer.vocabSize} ids but config.json's vocab_size is ${vocab}; ids ${vocab} and up would have no embedding row (load it with { tokenizer: false } and pass a tokenizer that fits)`,
    );
  }
  const qc = parseQuantizationConfig(files.config, source.config);
  const matrices = qc ? readQuantizedMatrices(files.weights, qc, source.weights) : null;
  const model = build(files.config, { quantized: qc !== null, weights: files.weights });
  try {
    if (matrices) {
      const uploaded = uploadQuantized(matrices, qc?.activations);
      try {
        installQuantized(model, uploaded);
      } catch (e) {
        for (const q of uploaded.values()) if (!q.isDisposed && !isInstalled(model, q)) q.dispose();
        throw e;
      }
    }
    load(model, checkpointStateDict(files.weights, options.skip, qc ? quantizedTensorNames(qc) : undefined));
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * Builds a model from a model directory: opens it (see `readPretrained`), then
 * `buildPretrained`. Returns the model and the directory's tokenizer (null when it has none
 * or `tokenizer: false`).
 */
export async function loadModelDirectory<M extends Module>(
  dir: string,
  options: { tokenizer?: boolean; skip?: RegExp },
  build: (config: Record<string, unknown>, how: { quantized: boolean; weights: SafetensorsReader }) => M,
  load: (model: M, dict: Map<string, StateDictValue>) => void,
): Promise<{ model: M; tokenizer: SavableTokenizer | null }> {
  const files = await readPretrained(dir, { tokenizer: options.tokenizer });
  const model = buildPretrained(files, await directorySource(dir), { skip: options.skip }, build, load);
  return { model, tokenizer: files.tokenizer };
}

/**
 * Refuses, before a model is built, a config whose layer count (`key` = `layers`) is not the
 * number of layers the weights hold (names matching `pattern`, whose group 1 is the layer index):
 * building 100,000 layers to learn that the file has 2 takes minutes. Weights without any
 * layer-indexed name are left to the state-dict check.
 */
export function checkLayerCount(label: string, weights: SafetensorsReader, pattern: RegExp, key: string, layers: number): void {
  let count = 0;
  for (const name of weights.names()) {
    const m = pattern.exec(name);
    if (m) count = Math.max(count, Number(m[1]) + 1);
  }
  if (count > 0 && count !== layers) {
    throw new ConfigError(`${label}: config.json ${key} = ${layers} but ${MODEL_FILES.weights} holds ${count} layer(s) (indices 0..${count - 1})`);
  }
}

/**
 * What a model directory of `model` holds, in memory: `config` (with a `quantization_config`
 * when the model is quantized) and the tensors of model.safetensors: every f32 parameter by
 * its dotted name (read from `flat` in one transfer when the model keeps its parameters
 * there) and a quantized model's int8 / int4 values with their scales.
 */
export async function pretrainedTensors(
  model: Module,
  files: { config: Record<string, unknown>; flat?: FlatParameters },
): Promise<{ config: Record<string, unknown>; tensors: Record<string, TensorToSave> }> {
  const qc = quantizationConfigOf(model);
  return {
    config: qc ? { ...files.config, quantization_config: qc } : files.config,
    tensors: { ...(await parametersToSave(model.namedParameters(), files.flat)), ...(qc ? await quantizedTensorsToSave(model) : {}) },
  };
}

/**
 * Saves `model` as a model directory: `pretrainedTensors` and the tokenizer when one is
 * given; see `writePretrained`.
 */
export async function saveModelDirectory(
  dir: string,
  model: Module,
  files: { config: Record<string, unknown>; flat?: FlatParameters; tokenizer?: SavableTokenizer | null },
): Promise<void> {
  await writePretrained(dir, { ...(await pretrainedTensors(model, files)), tokenizer: files.tokenizer ?? null });
}
