/**
 * Character-level tokenizer: one token per code point of a corpus, ids in code-point order.
 *
 * "Code point" is what a JS string iterator yields: a surrogate pair is one token (so an emoji
 * or any astral character is one id), and an unpaired surrogate (`"\uD800"`, not valid Unicode
 * but representable in JS strings) is a token of its own. Hence `decode(encode(s)) === s` for
 * every string whose code points are in the vocabulary, well-formed or not. Caveat: a lone high
 * surrogate followed in the text by a lone low surrogate forms a pair and is read as one (astral)
 * code point. The JSON form (`toJSON`) survives this too, because `JSON.stringify` writes lone
 * surrogates as `\uXXXX` escapes.
 */

import { IndexError } from '@tessera/core';
import { FormatError } from '../io/errors.js';
import { TokenizerError, expectText } from './errors.js';
import type { Tokenizer } from './types.js';

/** What `encode` does with a character outside the vocabulary. */
export type UnknownPolicy =
  /** Throw `TokenizerError` naming the character and its index (default). */
  | 'error'
  /** Map it to an extra `<unk>` id (`unkTokenId`, the last id); `decode` writes `unkText` for it. */
  | 'unk';

/** Options of `CharTokenizer`. */
export interface CharTokenizerOptions {
  /** Default `'error'`. */
  readonly unknown?: UnknownPolicy;
  /** What `decode` writes for the `<unk>` id. Default U+FFFD. */
  readonly unkText?: string;
}

/** The saved form of a `CharTokenizer` (`toJSON` / `fromJSON`). */
export interface CharTokenizerJSON {
  readonly type: 'char';
  readonly version: 1;
  /** The vocabulary: one code point per entry, in ascending code-point order; id = index. */
  readonly chars: readonly string[];
  readonly unknown: UnknownPolicy;
  readonly unkText: string;
}

/**
 * A character-level tokenizer.
 * @example
 * const tok = CharTokenizer.fromCorpus('hello 🌍');
 * tok.decode(tok.encode('hole 🌍')); // 'hole 🌍'
 */
export class CharTokenizer implements Tokenizer {
  readonly vocabSize: number;
  /** Character tokenizers have no end-of-text token. */
  readonly eosTokenId: number | undefined = undefined;
  /** The `<unk>` id under the `'unk'` policy (the last id), else `undefined`. */
  readonly unkTokenId: number | undefined;
  readonly unknown: UnknownPolicy;
  readonly unkText: string;
  private readonly chars: readonly string[];
  private readonly ids: Map<string, number>;

  /**
   * @param chars distinct code points in ascending order (`fromCorpus` builds this).
   * Throws `FormatError` for an entry that is not exactly one code point, or for a list that is
   * not strictly ascending.
   */
  constructor(chars: readonly string[], options: CharTokenizerOptions = {}) {
    if (!Array.isArray(chars)) {
      const got = typeof chars === 'string' ? `the string ${JSON.stringify((chars as string).slice(0, 20))}` : String(chars);
      throw new FormatError(`CharTokenizer: the vocabulary must be an array of single code points, got ${got}; for the characters of a text use CharTokenizer.fromCorpus(text)`);
    }
    this.ids = new Map();
    let prev = -1;
    chars.forEach((c, i) => {
      const cp = typeof c === 'string' ? c.codePointAt(0) : undefined;
      if (cp === undefined || String.fromCodePoint(cp) !== c) {
        throw new FormatError(`char vocabulary chars[${i}] is ${JSON.stringify(c)}, not exactly one code point`);
      }
      if (cp <= prev) {
        throw new FormatError(`char vocabulary chars[${i}] (U+${hex(cp)}) is not above chars[${i - 1}] (U+${hex(prev)}); entries are distinct and ascending`);
      }
      prev = cp;
      this.ids.set(c, i);
    });
    this.chars = [...chars];
    this.unknown = options.unknown ?? 'error';
    if (this.unknown !== 'error' && this.unknown !== 'unk') throw new FormatError(`unknown-character policy ${JSON.stringify(this.unknown)} is not 'error' or 'unk'`);
    this.unkText = options.unkText ?? '\uFFFD';
    this.unkTokenId = this.unknown === 'unk' ? chars.length : undefined;
    this.vocabSize = chars.length + (this.unknown === 'unk' ? 1 : 0);
  }

  /**
   * The tokenizer of every distinct code point in `corpus`, sorted by code point.
   * @example CharTokenizer.fromCorpus('banana').encode('nab') // [2, 0, 1]
   */
  static fromCorpus(corpus: string, options?: CharTokenizerOptions): CharTokenizer {
    const set = new Set<string>();
    for (const c of corpus) set.add(c);
    const chars = [...set].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
    return new CharTokenizer(chars, options);
  }

  /** Restores a tokenizer saved with `toJSON` (object or JSON text); throws `FormatError` if malformed. */
  static fromJSON(json: CharTokenizerJSON | string): CharTokenizer {
    let obj: unknown = json;
    if (typeof json === 'string') {
      try {
        obj = JSON.parse(json);
      } catch (e) {
        throw new FormatError(`char tokenizer JSON does not parse: ${(e as Error).message}`);
      }
    }
    if (typeof obj !== 'object' || obj === null) throw new FormatError('char tokenizer JSON is not an object');
    const o = obj as Record<string, unknown>;
    if (o.type !== 'char') throw new FormatError(`char tokenizer JSON has type ${JSON.stringify(o.type)}, expected "char"`);
    if (o.version !== 1) throw new FormatError(`char tokenizer JSON version ${JSON.stringify(o.version)} is not supported (expected 1)`);
    if (!Array.isArray(o.chars)) throw new FormatError('char tokenizer JSON has no "chars" array');
    if (o.unkText !== undefined && typeof o.unkText !== 'string') throw new FormatError('char tokenizer JSON "unkText" is not a string');
    return new CharTokenizer(o.chars as string[], {
      unknown: (o.unknown ?? 'error') as UnknownPolicy,
      unkText: o.unkText as string | undefined,
    });
  }

  /** The saved form; `JSON.stringify(tok)` uses it. */
  toJSON(): CharTokenizerJSON {
    return { type: 'char', version: 1, chars: [...this.chars], unknown: this.unknown, unkText: this.unkText };
  }

  /** The vocabulary, id order. */
  vocabulary(): readonly string[] {
    return this.chars;
  }

  /** One id per code point of `text` (see the unknown-character policy). */
  encode(text: string): number[] {
    expectText('encode', text);
    const out: number[] = [];
    let index = 0;
    for (const c of text) {
      const id = this.ids.get(c);
      if (id !== undefined) out.push(id);
      else if (this.unkTokenId !== undefined) out.push(this.unkTokenId);
      else {
        throw new TokenizerError(
          `character ${JSON.stringify(c)} (U+${hex(c.codePointAt(0)!)}) at string index ${index} is not in the ${this.chars.length}-character vocabulary; build the tokenizer with { unknown: 'unk' } to map it to <unk>`,
        );
      }
      index += c.length;
    }
    return out;
  }

  /** The text of `ids`; throws `IndexError` for an id outside `[0, vocabSize)`. */
  decode(ids: Iterable<number>): string {
    let s = '';
    for (const id of ids) {
      // unkTokenId is undefined under the 'error' policy: an undefined id must not match it.
      if (this.unkTokenId !== undefined && id === this.unkTokenId) s += this.unkText;
      else {
        const c = Number.isInteger(id) ? this.chars[id] : undefined;
        if (c === undefined) throw new IndexError(`token id ${id} is outside the character vocabulary [0, ${this.vocabSize})`);
        s += c;
      }
    }
    return s;
  }
}

function hex(cp: number): string {
  return cp.toString(16).toUpperCase().padStart(4, '0');
}
