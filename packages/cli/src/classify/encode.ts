/**
 * E-mails → fixed-length token batches: the first `maxTokens` tokens of each text, right-padded,
 * with a 1/0 mask marking the real tokens.
 */

import { CharTokenizer, type SavableTokenizer } from '@tessera/models';

/** Encoded examples, row-major [n, maxTokens]. */
export interface Encoded {
  readonly ids: Int32Array;
  readonly mask: Float32Array;
  readonly labels: Int32Array;
  readonly n: number;
  readonly maxTokens: number;
}

/** Characters of text looked at per token (generous for BPE, where a token averages ~4 characters). */
const CHARS_PER_TOKEN = 8;

/**
 * A function from text to at most `maxTokens` ids. A character tokenizer without `<unk>` (e.g. one
 * trained on Moby Dick) silently skips characters outside its vocabulary instead of failing.
 */
export function textEncoder(tokenizer: SavableTokenizer, maxTokens: number): (text: string) => number[] {
  if (tokenizer instanceof CharTokenizer && tokenizer.unkTokenId === undefined) {
    const known = new Set(tokenizer.vocabulary());
    return (text) => {
      const kept: string[] = [];
      for (const c of text) {
        if (known.has(c)) kept.push(c);
        if (kept.length === maxTokens) break;
      }
      return tokenizer.encode(kept.join(''));
    };
  }
  return (text) => tokenizer.encode(text.slice(0, maxTokens * CHARS_PER_TOKEN)).slice(0, maxTokens);
}

/** Encodes `texts` with their labels; padding id 0 (masked out, so any valid id works). */
export function encodeAll(texts: readonly string[], labels: readonly number[], encode: (text: string) => number[], maxTokens: number): Encoded {
  const n = texts.length;
  const ids = new Int32Array(n * maxTokens);
  const mask = new Float32Array(n * maxTokens);
  texts.forEach((text, i) => {
    let row = encode(text);
    // An empty e-mail still needs one real token for pooling; id 0 stands in.
    if (row.length === 0) row = [0];
    ids.set(row, i * maxTokens);
    mask.fill(1, i * maxTokens, i * maxTokens + row.length);
  });
  return { ids, mask, labels: Int32Array.from(labels), n, maxTokens };
}

/** Rows `rows` of `data` as one batch. */
export function gatherRows(data: Encoded, rows: readonly number[]): { ids: Int32Array; mask: Float32Array; labels: Int32Array } {
  const T = data.maxTokens;
  const ids = new Int32Array(rows.length * T);
  const mask = new Float32Array(rows.length * T);
  const labels = new Int32Array(rows.length);
  rows.forEach((r, i) => {
    ids.set(data.ids.subarray(r * T, (r + 1) * T), i * T);
    mask.set(data.mask.subarray(r * T, (r + 1) * T), i * T);
    labels[i] = data.labels[r];
  });
  return { ids, mask, labels };
}
