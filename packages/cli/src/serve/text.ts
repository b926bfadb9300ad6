/**
 * The text of one completion, piece by piece: token ids become text as soon as their characters
 * are complete (`TokenPrinter`), and stop sequences are applied to the text, not to tokens, since
 * one can span several tokens or start in the middle of one. Text that could be the start of a
 * stop sequence is held back until the next token decides it, so a streamed completion never
 * shows part of a stop sequence and always equals the non-streamed one.
 */

import type { Tokenizer } from '@tessera/models';
import { TokenPrinter } from '../ui/token-printer.js';

export class CompletionText {
  private readonly printer: TokenPrinter;
  private readonly longestStop: number;
  private text = '';
  /** How much of `text` has been handed out. */
  private sent = 0;
  /** True once a stop sequence appeared: the completion ends before it. */
  stopped = false;

  constructor(
    tokenizer: Tokenizer,
    private readonly stops: readonly string[],
  ) {
    this.printer = new TokenPrinter(tokenizer);
    this.longestStop = Math.max(0, ...stops.map((s) => s.length));
  }

  /** The text that can be sent after token `id` (often empty); sets `stopped` when a stop sequence completes. */
  push(id: number): string {
    if (this.stopped) return '';
    this.text += this.printer.push(id);
    return this.release(false);
  }

  /** Everything still held back, at the end of generation. */
  finish(): string {
    if (this.stopped) return '';
    this.text += this.printer.flush();
    return this.release(true);
  }

  /** The whole completion so far (what has been handed out). */
  get completion(): string {
    return this.text.slice(0, this.sent);
  }

  private release(final: boolean): string {
    // A stop sequence ending in the new text starts at most longestStop - 1 characters before it.
    const from = Math.max(0, this.sent - Math.max(0, this.longestStop - 1));
    let cut = -1;
    for (const s of this.stops) {
      const i = this.text.indexOf(s, from);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    let end = this.text.length;
    if (cut >= 0) {
      this.stopped = true;
      end = Math.max(cut, this.sent);
    } else if (!final) end -= this.heldBack();
    const out = this.text.slice(this.sent, end);
    this.sent = end;
    return out;
  }

  /** Length of the longest unsent tail of the text that is a proper prefix of a stop sequence. */
  private heldBack(): number {
    const max = Math.min(this.longestStop - 1, this.text.length - this.sent);
    for (let k = max; k > 0; k--) {
      const tail = this.text.slice(this.text.length - k);
      if (this.stops.some((s) => s.length > k && s.startsWith(tail))) return k;
    }
    return 0;
  }
}
