/**
 * Model directories in Hugging Face's layout (Node): `config.json`,
 * `model.safetensors` and tokenizer files. Saving writes into a temporary
 * directory next to the target and renames each file into place, so a
 * reader never sees a half-written file.
 *
 * `node:fs` is imported on first use, so the package entry stays loadable in browsers.
 */

import type { Backend, Storage } from '@tessera/core';
import type { Tensor } from '@tessera/tensor';
import { FormatError } from '../io/errors.js';
import { openSafetensorsFile, writeSafetensorsFile } from '../io/safetensors-node.js';
import type { SafetensorsReader, TensorToSave } from '../io/safetensors.js';
import type { CharTokenizer } from '../tokenizers/char.js';
import { MissingFileError } from '../tokenizers/errors.js';
import type { GPT2Tokenizer } from '../tokenizers/gpt2.js';
import { TOKENIZER_FILES, loadTokenizer, saveTokenizer } from '../tokenizers/load-node.js';

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
 * Host copies of parameters for saving, by name. Parameters that share one
 * storage (a flat parameter block) are read with a single transfer.
 */
export async function parametersToSave(named: readonly [string, Tensor][]): Promise<Record<string, TensorToSave>> {
  const out: Record<string, TensorToSave> = {};
  const byStorage = new Map<Storage, { be: Backend; lo: number; hi: number; items: [string, Tensor, number][] }>();
  for (const [name, p] of named) {
    if (!p.isContiguous()) {
      out[name] = { dtype: 'F32', shape: p.shape, data: (await p.data()) as Float32Array };
      continue;
    }
    const { storage, offset } = p.dense();
    const g = byStorage.get(storage) ?? { be: p.backend, lo: Infinity, hi: 0, items: [] };
    g.lo = Math.min(g.lo, offset);
    g.hi = Math.max(g.hi, offset + p.size);
    g.items.push([name, p, offset]);
    byStorage.set(storage, g);
  }
  for (const [storage, g] of byStorage) {
    const n = g.hi - g.lo;
    const all = g.be.features.syncRead ? g.be.readSync(storage, 'f32', g.lo, n) : await g.be.read(storage, 'f32', g.lo, n);
    for (const [name, p, offset] of g.items) out[name] = { dtype: 'F32', shape: p.shape, data: all.subarray(offset - g.lo, offset - g.lo + p.size) };
  }
  return out;
}

/**
 * Writes config.json, model.safetensors (with `{ format: 'pt' }` metadata, as
 * transformers expects) and the tokenizer files into `dir` (created if
 * needed). Each file appears atomically (written aside, then renamed).
 */
export async function writePretrained(
  dir: string,
  files: { config: Record<string, unknown>; tensors: Record<string, TensorToSave>; tokenizer?: SavableTokenizer | null },
): Promise<void> {
  const { mkdir, mkdtemp, readdir, rename, rm, writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  await mkdir(dir, { recursive: true });
  const tmp = await mkdtemp(join(dir, '.tessera-save-'));
  try {
    await writeFile(join(tmp, MODEL_FILES.config), `${JSON.stringify(files.config, null, 2)}\n`, 'utf8');
    await writeSafetensorsFile(join(tmp, MODEL_FILES.weights), files.tensors, { format: 'pt' });
    if (files.tokenizer) await saveTokenizer(tmp, files.tokenizer);
    for (const name of await readdir(tmp)) await rename(join(tmp, name), join(dir, name));
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
