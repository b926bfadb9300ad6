/**
 * The default GPT-2 vocabulary, from the npm package gpt-tokenizer: tiktoken-style ranks
 * (index = id), from which the merges are recovered.
 */

import { FormatError } from '../io/errors.js';
import type { Merge } from './bpe.js';
import { bytesToSymbols } from './byte-level.js';
import { END_OF_TEXT, GPT2Tokenizer } from './gpt2.js';

const textEncoder = new TextEncoder();

let defaultTokenizer: Promise<GPT2Tokenizer> | undefined;

/**
 * The GPT-2 tokenizer (50257 tokens, `<|endoftext|>` = 50256), built from the r50k_base ranks
 * that the `gpt-tokenizer` package ships (`gpt-tokenizer/bpeRanks/r50k_base`: an array whose
 * index is the token id and whose value is the token as a string, or as bytes when they are not
 * UTF-8). Merges are recovered from the ranks: token `t`'s merge is the last step of BPE-encoding
 * `t`'s own bytes with only the tokens ranked below `t`. The result is memoized.
 * @example const tok = await loadGPT2Tokenizer(); tok.eosTokenId // 50256
 */
export function loadGPT2Tokenizer(): Promise<GPT2Tokenizer> {
  defaultTokenizer ??= import('gpt-tokenizer/bpeRanks/r50k_base').then((m) => gpt2FromRanks(m.default));
  return defaultTokenizer;
}

/** Builds the GPT-2 tokenizer from tiktoken-style ranks (index = id; string or byte array). */
export function gpt2FromRanks(ranks: readonly (string | readonly number[])[]): GPT2Tokenizer {
  const vocab = new Map<string, number>();
  const tokens: string[] = new Array<string>(ranks.length);
  ranks.forEach((t, id) => {
    const symbols = bytesToSymbols(typeof t === 'string' ? textEncoder.encode(t) : Uint8Array.from(t));
    tokens[id] = symbols;
    vocab.set(symbols, id);
  });
  const merges: Merge[] = [];
  for (let id = 0; id < tokens.length; id++) {
    const t = tokens[id];
    if (t.length < 2) continue;
    merges.push(recoverMerge(t, id, vocab));
  }
  vocab.set(END_OF_TEXT, ranks.length);
  return new GPT2Tokenizer(vocab, merges);
}

/** Rank-based BPE of `token` using only tokens ranked below `rank`; it must end in two parts. */
function recoverMerge(token: string, rank: number, vocab: ReadonlyMap<string, number>): Merge {
  const parts = [...token];
  for (;;) {
    let best = -1;
    let bestRank = rank;
    for (let i = 0; i + 1 < parts.length; i++) {
      const r = vocab.get(parts[i] + parts[i + 1]);
      if (r !== undefined && r < bestRank) {
        bestRank = r;
        best = i;
      }
    }
    if (best < 0) break;
    parts.splice(best, 2, parts[best] + parts[best + 1]);
  }
  if (parts.length !== 2) {
    throw new FormatError(`GPT-2 ranks: token ${rank} ${JSON.stringify(token)} does not split into two lower-ranked tokens (got ${parts.length} parts)`);
  }
  return [parts[0], parts[1]];
}
