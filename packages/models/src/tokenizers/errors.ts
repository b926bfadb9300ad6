/** Errors of the tokenizers. Malformed tokenizer files raise `FormatError` (io/errors). */

import { TesseraError } from '@tessera/core';

/**
 * Text a tokenizer refuses: a character outside a char vocabulary (with no `<unk>` policy), or a
 * special-token string in text where special tokens are disallowed.
 */
export class TokenizerError extends TesseraError {}

/** A directory lacks the files a tokenizer (or model) needs; `missing` lists them. */
export class MissingFileError extends TesseraError {
  constructor(
    message: string,
    /** Directory that was searched. */
    readonly dir: string,
    /** File names (relative to `dir`) that were looked for and not found. */
    readonly missing: readonly string[],
  ) {
    super(message);
  }
}

/** Throws a TokenizerError naming `op` and the type of `text` unless it is a string. */
export function expectText(op: string, text: unknown): asserts text is string {
  if (typeof text === 'string') return;
  const kind = text === null ? 'null' : Array.isArray(text) ? 'an array' : typeof text === 'object' ? `an object (${(text as object).constructor?.name ?? 'no prototype'})` : `a ${typeof text}`;
  throw new TokenizerError(`${op}: text must be a string, got ${kind}`);
}
