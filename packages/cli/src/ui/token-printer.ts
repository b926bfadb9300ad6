/**
 * Turns a stream of token ids into text pieces as soon as they are complete: a byte-level BPE
 * token can end in the middle of a UTF-8 character, so pieces that decode to a trailing U+FFFD
 * are held back (up to 4 tokens, the longest UTF-8 sequence) until the next token completes them.
 */

import type { Tokenizer } from '@tessera/models';
import { CliError } from '../errors.js';

export class TokenPrinter {
  private pending: number[] = [];

  constructor(private readonly tokenizer: Tokenizer) {}

  /** The text to print after `id` (possibly empty while a character is incomplete). */
  push(id: number): string {
    this.pending.push(id);
    const text = this.tokenizer.decode(this.pending);
    if (text.endsWith('\uFFFD') && this.pending.length < 4) return '';
    this.pending = [];
    return text;
  }

  /** Whatever is still held back. */
  flush(): string {
    const text = this.pending.length > 0 ? this.tokenizer.decode(this.pending) : '';
    this.pending = [];
    return text;
  }
}

/** The prompt's ids, or a CliError saying which character the vocabulary lacks. */
export function encodePrompt(tokenizer: Tokenizer, prompt: string): number[] {
  try {
    return tokenizer.encode(prompt);
  } catch (e) {
    throw new CliError(`--prompt ${JSON.stringify(prompt)} cannot be encoded: ${(e as Error).message.split(';')[0]}`);
  }
}
