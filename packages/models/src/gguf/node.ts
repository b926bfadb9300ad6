/**
 * GGUF files (Node): read into memory and parsed, written aside and renamed into place.
 * `node:fs` is imported on first use, so the package entry stays loadable in browsers
 * (which use gpt2FromGguf / gpt2ToGguf on bytes).
 */

import { fileError } from '../io/errors.js';
import type { GPT2 } from '../gpt2/model.js';
import { gpt2FromGguf, gpt2ToGguf, type GgufWriteOptions } from './gpt2.js';
import { parseGguf, type GgufFile } from './reader.js';

/** Reads and parses a GGUF file (a FileError naming the path when it cannot be read). */
export async function openGgufFile(path: string): Promise<GgufFile> {
  const { readFile } = await import('node:fs/promises');
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw fileError('GGUF file', path, e);
  }
  return parseGguf(bytes);
}

/**
 * Loads a gpt2 GGUF file as a GPT2 (see gpt2FromGguf).
 * @example const model = await loadGgufFile('gpt2.Q8_0.gguf'); await model.generate(model.tokenizer!.encode('Hi'))
 */
export async function loadGgufFile(path: string, options: { tokenizer?: boolean } = {}): Promise<GPT2> {
  return gpt2FromGguf(await openGgufFile(path), options);
}

/**
 * Writes `model` as a GGUF file (see gpt2ToGguf), atomically: to a temporary file next to
 * `path`, then renamed over it.
 * @example await saveGgufFile('gpt2.Q4_0.gguf', await quantize(model, { bits: 4, f16Scales: true }))
 */
export async function saveGgufFile(path: string, model: GPT2, options: GgufWriteOptions = {}): Promise<void> {
  const { rename, rm, writeFile } = await import('node:fs/promises');
  const bytes = await gpt2ToGguf(model, options);
  const tmp = `${path}.tessera-${process.pid}-${Date.now()}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
