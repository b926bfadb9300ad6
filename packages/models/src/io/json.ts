/**
 * A strict JSON parser for untrusted file headers.
 *
 * `JSON.parse` silently keeps the last of two duplicate keys and turns objects into plain JS
 * objects (where a key such as `__proto__` needs care). The safetensors spec forbids duplicate
 * keys, so headers are parsed here instead: objects become `Map`s, a duplicate key is an error,
 * and every error names the character position.
 */

import { FormatError } from './errors.js';

/** A parsed JSON value; objects are `Map`s in key order. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
/** A parsed JSON object. */
export type JsonObject = Map<string, JsonValue>;

/** Nesting limit: real headers are two levels deep; this stops stack exhaustion on hostile input. */
const MAX_DEPTH = 64;

/**
 * Parses `text` as JSON (RFC 8259) with objects as `Map`s; duplicate keys are rejected.
 * @param what names the document in error messages, e.g. `safetensors header`.
 * @example parseJsonStrict('{"a":[1,2]}', 'header').get('a') // [1, 2]
 */
export function parseJsonStrict(text: string, what: string): JsonValue {
  const p = new Parser(text, what);
  p.ws();
  const v = p.value(0);
  p.ws();
  if (p.pos !== text.length) p.fail(`unexpected ${p.describe()} after the top-level value`);
  return v;
}

class Parser {
  pos = 0;
  constructor(
    readonly s: string,
    readonly what: string,
  ) {}

  fail(msg: string): never {
    throw new FormatError(`${this.what}: invalid JSON at character ${this.pos}: ${msg}`);
  }

  describe(): string {
    return this.pos >= this.s.length ? 'end of input' : `character ${JSON.stringify(this.s[this.pos])}`;
  }

  ws(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else break;
    }
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail(`nesting deeper than ${MAX_DEPTH}`);
    const c = this.s[this.pos];
    switch (c) {
      case '{':
        return this.object(depth);
      case '[':
        return this.array(depth);
      case '"':
        return this.string();
      case 't':
        return this.literal('true', true);
      case 'f':
        return this.literal('false', false);
      case 'n':
        return this.literal('null', null);
      default:
        if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
        return this.fail(`expected a value, found ${this.describe()}`);
    }
  }

  literal<T extends JsonValue>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.pos)) this.fail(`expected ${word}`);
    this.pos += word.length;
    return v;
  }

  object(depth: number): JsonObject {
    const out: JsonObject = new Map();
    this.pos++; // '{'
    this.ws();
    if (this.s[this.pos] === '}') {
      this.pos++;
      return out;
    }
    for (;;) {
      if (this.s[this.pos] !== '"') this.fail(`expected a string key, found ${this.describe()}`);
      const keyPos = this.pos;
      const key = this.string();
      if (out.has(key)) {
        this.pos = keyPos;
        this.fail(`duplicate key ${JSON.stringify(key)}`);
      }
      this.ws();
      if (this.s[this.pos] !== ':') this.fail(`expected ':' after key ${JSON.stringify(key)}, found ${this.describe()}`);
      this.pos++;
      this.ws();
      out.set(key, this.value(depth + 1));
      this.ws();
      const c = this.s[this.pos];
      if (c === ',') {
        this.pos++;
        this.ws();
      } else if (c === '}') {
        this.pos++;
        return out;
      } else this.fail(`expected ',' or '}' in an object, found ${this.describe()}`);
    }
  }

  array(depth: number): JsonValue[] {
    const out: JsonValue[] = [];
    this.pos++; // '['
    this.ws();
    if (this.s[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s[this.pos];
      if (c === ',') {
        this.pos++;
        this.ws();
      } else if (c === ']') {
        this.pos++;
        return out;
      } else this.fail(`expected ',' or ']' in an array, found ${this.describe()}`);
    }
  }

  number(): number {
    const m = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    m.lastIndex = this.pos;
    const r = m.exec(this.s);
    if (r === null) this.fail('malformed number');
    this.pos += r[0].length;
    return Number(r[0]);
  }

  string(): string {
    const s = this.s;
    this.pos++; // opening quote
    let out = '';
    let start = this.pos;
    for (;;) {
      if (this.pos >= s.length) this.fail('unterminated string');
      const c = s.charCodeAt(this.pos);
      if (c === 0x22) {
        out += s.slice(start, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) this.fail(`control character U+${c.toString(16).padStart(4, '0')} inside a string`);
      if (c !== 0x5c) {
        this.pos++;
        continue;
      }
      out += s.slice(start, this.pos);
      const e = s[this.pos + 1];
      this.pos += 2;
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          const hex = s.slice(this.pos, this.pos + 4);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail('malformed \\u escape');
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 4;
          break;
        }
        default:
          this.pos -= 2;
          this.fail(`invalid escape \\${e ?? ''}`);
      }
      start = this.pos;
    }
  }
}
