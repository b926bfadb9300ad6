/**
 * Loading a tokenizer from a model or checkpoint directory (Node).
 *
 * Files, in order of preference (`TOKENIZER_FILES`):
 * 1. `tokenizer.json` — a HF tokenizers file (byte-level BPE);
 * 2. `vocab.json` + `merges.txt` — GPT-2's original pair (both required);
 * 3. `char_tokenizer.json` — a `CharTokenizer` saved with `saveTokenizer`.
 *
 * `node:fs` is imported on first use, so the package entry stays loadable in browsers.
 */

import { UnsupportedError } from '@tessera/core';
import { CharTokenizer } from './char.js';
import { MissingFileError } from './errors.js';
import { END_OF_TEXT, GPT2Tokenizer } from './gpt2.js';

/** The file names `loadTokenizer` looks for. */
export const TOKENIZER_FILES = {
  hfTokenizer: 'tokenizer.json',
  vocab: 'vocab.json',
  merges: 'merges.txt',
  char: 'char_tokenizer.json',
} as const;

async function isFile(path: string): Promise<boolean> {
  const { stat } = await import('node:fs/promises');
  try {
    return (await stat(path)).isFile();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw e;
  }
}

/**
 * The tokenizer saved in `dir` (see the file list above). Throws `MissingFileError` naming the
 * missing files, `FormatError` for a malformed file, `UnsupportedError` for a HF tokenizer that is
 * not byte-level BPE.
 * @example const tok = await loadTokenizer('models/gpt2');
 */
export async function loadTokenizer(dir: string): Promise<GPT2Tokenizer | CharTokenizer> {
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const f = TOKENIZER_FILES;
  const path = (name: string): string => join(dir, name);
  if (await isFile(path(f.hfTokenizer))) {
    return GPT2Tokenizer.fromTokenizerJson(await readFile(path(f.hfTokenizer), 'utf8'));
  }
  const hasVocab = await isFile(path(f.vocab));
  const hasMerges = await isFile(path(f.merges));
  if (hasVocab && hasMerges) {
    const [vocab, merges] = await Promise.all([readFile(path(f.vocab), 'utf8'), readFile(path(f.merges), 'utf8')]);
    return GPT2Tokenizer.fromVocabAndMerges(vocab, merges);
  }
  if (hasVocab !== hasMerges) {
    const missing = hasVocab ? f.merges : f.vocab;
    throw new MissingFileError(
      `tokenizer directory ${dir} has ${hasVocab ? f.vocab : f.merges} but no ${missing}; a GPT-2 vocabulary needs both (or a ${f.hfTokenizer})`,
      dir,
      [missing],
    );
  }
  if (await isFile(path(f.char))) {
    return CharTokenizer.fromJSON(await readFile(path(f.char), 'utf8'));
  }
  throw new MissingFileError(
    `no tokenizer in ${dir}: looked for ${f.hfTokenizer}, ${f.vocab} + ${f.merges}, and ${f.char}`,
    dir,
    [f.hfTokenizer, f.vocab, f.merges, f.char],
  );
}

/**
 * Saves a tokenizer into `dir` (which must exist) where `loadTokenizer` finds it: a GPT-2
 * tokenizer as `vocab.json` + `merges.txt` (HF's `GPT2Tokenizer` reads these too), a character
 * tokenizer as `char_tokenizer.json`. A GPT-2 tokenizer with special tokens other than
 * `<|endoftext|>` throws `UnsupportedError`: that pair of files cannot mark them special (HF keeps
 * them in `tokenizer_config.json`, which is not written here).
 * @example await saveTokenizer('checkpoints/run1', tok);
 */
export async function saveTokenizer(dir: string, tokenizer: GPT2Tokenizer | CharTokenizer): Promise<void> {
  const { writeFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  if (tokenizer instanceof CharTokenizer) {
    await writeFile(join(dir, TOKENIZER_FILES.char), `${JSON.stringify(tokenizer)}\n`, 'utf8');
    return;
  }
  const extra = [...tokenizer.specialTokens.keys()].filter((t) => t !== END_OF_TEXT);
  if (extra.length > 0) {
    throw new UnsupportedError(
      `cannot save special tokens ${extra.map((t) => JSON.stringify(t)).join(', ')} in ${TOKENIZER_FILES.vocab} + ${TOKENIZER_FILES.merges}; only ${END_OF_TEXT} is recognised there`,
    );
  }
  await writeFile(join(dir, TOKENIZER_FILES.vocab), JSON.stringify(tokenizer.toVocabJson()), 'utf8');
  await writeFile(join(dir, TOKENIZER_FILES.merges), tokenizer.toMergesTxt(), 'utf8');
}
