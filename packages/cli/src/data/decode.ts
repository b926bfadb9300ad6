/** Corpus bytes → text (browser-safe: part of `@tessera/cli/train-core`). */

import { CliError } from '../errors.js';

/**
 * The text of a corpus file: UTF-8 (a UTF-8 byte-order mark dropped), or UTF-16 when the file
 * starts with its byte-order mark. Anything else is refused, naming the source (`what`, e.g.
 * "--data file a.txt"): bytes that are not UTF-8, or NUL characters (a binary file), rather than
 * trained on as if it were text.
 */
export function decodeCorpus(bytes: Uint8Array, what: string): { text: string; encoding: 'UTF-8' | 'UTF-16LE' | 'UTF-16BE' } {
  let encoding: 'UTF-8' | 'UTF-16LE' | 'UTF-16BE' = 'UTF-8';
  if (bytes[0] === 0xff && bytes[1] === 0xfe) encoding = 'UTF-16LE';
  else if (bytes[0] === 0xfe && bytes[1] === 0xff) encoding = 'UTF-16BE';
  let text: string;
  try {
    text = new TextDecoder(encoding.toLowerCase(), { fatal: true }).decode(bytes);
  } catch {
    throw new CliError(`${what} is not ${encoding} text (it holds byte sequences that are not ${encoding}); a corpus must be UTF-8, or UTF-16 with a byte-order mark`);
  }
  const nul = text.indexOf('\u0000');
  if (nul >= 0) throw new CliError(`${what} looks binary, not text: character ${nul} is NUL (decoded as ${encoding}); a corpus must be UTF-8, or UTF-16 with a byte-order mark`);
  return { text, encoding };
}
