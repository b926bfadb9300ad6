/**
 * GPT-2's byte-level pre-tokenization: the regex that cuts text into pieces, and the
 * byte->unicode table that spells each piece's UTF-8 bytes with one printable character per
 * byte, so BPE (bpe.ts) works on strings and `Ġthe` is " the".
 */

/**
 * GPT-2's pre-tokenization regex (`encoder.py`; HF `ByteLevel` uses the same): contractions,
 * optionally space-prefixed letter runs, number runs, other-symbol runs, and whitespace (a run
 * followed by a non-space gives up its last space to the next piece).
 */
export const GPT2_SPLIT_PATTERN = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`;

/** The compiled `GPT2_SPLIT_PATTERN` (`gu` flags; use with `matchAll`, which copies it). */
export const GPT2_SPLIT_REGEX = new RegExp(GPT2_SPLIT_PATTERN, 'gu');

/**
 * GPT-2's byte->unicode table: printable Latin-1 bytes (`!`..`~`, `¡`..`¬`, `®`..`ÿ`) stand for
 * themselves; the other 68 bytes map, in order, to U+0100.. (so space 0x20 is `Ġ` U+0120 and
 * newline 0x0A is `Ċ` U+010A). Every char is in U+0021..U+0143.
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const table = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  return table;
})();

/** Inverse of `BYTE_TO_CHAR`, indexed by char code (0..0x143); -1 where a code is no byte's char. */
const CHAR_TO_BYTE: Int16Array = (() => {
  const t = new Int16Array(0x144).fill(-1);
  BYTE_TO_CHAR.forEach((c, b) => (t[c.charCodeAt(0)] = b));
  return t;
})();

/** Spells bytes as a byte-level symbol string. */
export function bytesToSymbols(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]];
  return s;
}

/** The bytes a byte-level symbol string spells, or `undefined` if a char is not in the table. */
export function symbolsToBytes(symbols: string): Uint8Array | undefined {
  const out = new Uint8Array(symbols.length);
  for (let i = 0; i < symbols.length; i++) {
    const c = symbols.charCodeAt(i);
    const b = c < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[c] : -1;
    if (b < 0) return undefined;
    out[i] = b;
  }
  return out;
}
