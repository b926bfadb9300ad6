/** Opening a GPT-2 model (directory or GGUF file) for generation, as `generate` and `serve` do. */

import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError } from '@tessera/core';
import { GPT2, GPT2ForSequenceClassification, loadGgufFile, type Tokenizer } from '@tessera/models';
import { ready } from '@tessera/tensor';
import { CliError } from './errors.js';
import { recoverCheckpointDir, requireDir } from './data/files.js';

/** Whether `path` is a regular file (a GGUF model) rather than a directory. */
async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * The GPT-2 of `--model <path>` when `path` is a regular file (a gpt2 GGUF file), or null when it
 * is not a file; a CliError naming the path when the file is not a GGUF model Tessera reads.
 */
export async function loadGgufModel(path: string, options: { tokenizer?: boolean } = {}): Promise<GPT2 | null> {
  if (!(await isFile(path))) return null;
  await ready();
  try {
    return await loadGgufFile(path, options);
  } catch (e) {
    if (e instanceof TesseraError) throw new CliError(`cannot load --model ${path}: not a directory, and not a GGUF model Tessera reads (${e.message})`);
    throw e;
  }
}

/**
 * The GPT-2 in `dir` (a `tessera train` checkpoint, recovered first if a save was killed, a
 * Hugging Face directory, quantized or not, or a gpt2 GGUF file) in eval mode, with its
 * tokenizer; a CliError naming the path when either is missing or the file is not a GGUF
 * model Tessera reads. The caller disposes the model.
 */
export async function loadGenerationModel(dir: string): Promise<{ model: GPT2; tokenizer: Tokenizer }> {
  const model = await loadGgufModel(dir);
  if (model) {
    if (!model.tokenizer) {
      model.dispose();
      throw new CliError(`${dir} has no tokenizer (tokenizer.ggml.* keys); Tessera needs its GPT-2 BPE tokenizer to generate text`);
    }
    return { model: model.eval(), tokenizer: model.tokenizer };
  }
  // A save killed between its renames leaves the checkpoint as a *.old-* sibling: take it back first.
  await recoverCheckpointDir(dir);
  await requireDir(dir, 'cannot read --model');
  await ready();
  const loaded = await GPT2.fromPretrained(dir);
  const tokenizer = loaded.tokenizer;
  if (!tokenizer) {
    loaded.dispose();
    throw new CliError(`${dir} has no tokenizer files (tokenizer.json, vocab.json + merges.txt, or char_tokenizer.json)`);
  }
  return { model: loaded.eval(), tokenizer };
}

/**
 * The GPT-2 language model or GPT-2 classifier in `dir`, by its config.json's `architectures`,
 * with its tokenizer (if the directory has one); a CliError naming the directory and `what`
 * otherwise. The caller disposes the model.
 */
export async function loadGpt2Directory(dir: string, what: string): Promise<GPT2 | GPT2ForSequenceClassification> {
  let arch: unknown;
  try {
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { architectures?: unknown };
    arch = Array.isArray(config.architectures) ? config.architectures[0] : 'GPT2LMHeadModel';
  } catch (e) {
    throw new CliError(`${what}: cannot read ${join(dir, 'config.json')}: ${(e as Error).message}`);
  }
  if (arch !== 'GPT2LMHeadModel' && arch !== 'GPT2ForSequenceClassification') {
    throw new CliError(`${what}: ${dir} holds a ${String(arch)}; this command reads GPT2LMHeadModel and GPT2ForSequenceClassification directories`);
  }
  try {
    return arch === 'GPT2ForSequenceClassification' ? await GPT2ForSequenceClassification.fromPretrained(dir) : await GPT2.fromPretrained(dir);
  } catch (e) {
    throw new CliError(`${what}: cannot load ${dir}: ${(e as Error).message}`);
  }
}
