/**
 * A fuzz corpus for file readers: damaged variants of one small valid file, and the harness that
 * feeds them to a reader. Every format Tessera reads (safetensors, config.json, tokenizer files,
 * the CLI's trainer state, ...) is checked the same way: each variant is either read (and then
 * checked by the caller) or refused with a typed error, within a time bound, and never with a
 * raw TypeError / RangeError / stack overflow.
 *
 * A new format joins with a few lines: build a valid file, list its variants with
 * `truncations` / `byteMutations` / `jsonConfusions` (plus format-specific corruptions of its
 * header fields), and run them through `runCorpus` with the reader and the error class.
 */

import { mulberry32 } from './index.js';

/** One damaged (or intact) file of a corpus. */
export interface CorpusCase {
  /** What was done to the file, for failure messages: `truncated to 17 bytes`, `shape[0] = -1`. */
  readonly name: string;
  readonly bytes: Uint8Array;
  /**
   * A word the refusal must contain (the field or part it names), when the damage is targeted;
   * a random mutation leaves it undefined.
   */
  readonly names?: string | RegExp;
}

/**
 * The file cut at byte boundaries: every length 0..n-1 when n <= `every`, else the first and last
 * `every / 2` lengths and `sample` more drawn with `seed`.
 */
export function truncations(bytes: Uint8Array, options: { every?: number; sample?: number; seed?: number } = {}): CorpusCase[] {
  const n = bytes.length;
  const every = options.every ?? 512;
  const lengths = new Set<number>();
  if (n <= every) for (let i = 0; i < n; i++) lengths.add(i);
  else {
    for (let i = 0; i < every / 2; i++) {
      lengths.add(i);
      lengths.add(n - 1 - i);
    }
    const rand = mulberry32(options.seed ?? 1);
    for (let i = 0; i < (options.sample ?? 64); i++) lengths.add(Math.floor(rand() * n));
  }
  return [...lengths].sort((a, b) => a - b).map((len) => ({ name: `truncated to ${len} of ${n} bytes`, bytes: bytes.slice(0, len) }));
}

/**
 * `count` copies of the file, each with 1 to `maxEdits` random edits (a byte overwritten, a bit
 * flipped, a byte inserted or deleted, a run of 0xff), drawn with `seed`. `region` limits the
 * edits to a byte range (e.g. a header).
 */
export function byteMutations(bytes: Uint8Array, options: { count: number; seed: number; maxEdits?: number; region?: [number, number] }): CorpusCase[] {
  const rand = mulberry32(options.seed);
  const int = (k: number): number => Math.floor(rand() * k);
  const [lo, hi] = options.region ?? [0, bytes.length];
  const out: CorpusCase[] = [];
  for (let c = 0; c < options.count; c++) {
    const b = Array.from(bytes);
    const edits: string[] = [];
    const n = 1 + int(options.maxEdits ?? 3);
    for (let e = 0; e < n; e++) {
      const at = lo + int(Math.max(1, Math.min(hi, b.length) - lo));
      switch (int(5)) {
        case 0:
          b[at] = int(256);
          edits.push(`byte ${at} = ${b[at]}`);
          break;
        case 1:
          b[at] ^= 1 << int(8);
          edits.push(`bit flip at ${at}`);
          break;
        case 2:
          b.splice(at, 0, int(256));
          edits.push(`insert at ${at}`);
          break;
        case 3:
          b.splice(at, 1);
          edits.push(`delete at ${at}`);
          break;
        default: {
          const len = 1 + int(8);
          for (let i = 0; i < len && at + i < b.length; i++) b[at + i] = 0xff;
          edits.push(`0xff x ${len} at ${at}`);
        }
      }
    }
    out.push({ name: `mutation #${c}: ${edits.join(', ')}`, bytes: Uint8Array.from(b) });
  }
  return out;
}

/** Values of the wrong kind (or outside every domain) that replace a JSON field. */
export const CONFUSIONS: readonly [label: string, value: unknown][] = [
  ['null', null],
  ['a string', 'x'],
  ['a numeric string', '12'],
  ['true', true],
  ['an empty array', []],
  ['an object', { a: 1 }],
  ['-1', -1],
  ['0', 0],
  ['1.5', 1.5],
  ['1e308', 1e308],
  ['2^53 + 2', 2 ** 53 + 2],
];

/** The dotted paths of every field of a JSON value, arrays' elements included, at most `maxDepth` deep. */
export function jsonPaths(value: unknown, maxDepth = 4, prefix: (string | number)[] = []): (string | number)[][] {
  if (prefix.length >= maxDepth || value === null || typeof value !== 'object') return [];
  const out: (string | number)[][] = [];
  const keys: (string | number)[] = Array.isArray(value) ? value.map((_, i) => i).slice(0, 3) : Object.keys(value);
  for (const k of keys) {
    const path = [...prefix, k];
    out.push(path);
    out.push(...jsonPaths((value as Record<string | number, unknown>)[k], maxDepth, path));
  }
  return out;
}

/** `path` written `a.b[0].c`. */
export function formatPath(path: readonly (string | number)[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('');
}

function setPath(root: unknown, path: readonly (string | number)[], value: unknown, remove: boolean): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let at = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  const last = path[path.length - 1];
  if (remove) {
    if (Array.isArray(at)) at.splice(last as number, 1);
    else delete at[last];
  } else at[last] = value;
  return copy;
}

/**
 * Each field of `doc` (see `jsonPaths`) replaced by each of `CONFUSIONS`, and removed, as JSON
 * text. A variant equal to the original (the same value put back) is left out. `names` is the
 * field's last key, which a refusal should mention.
 */
export function jsonConfusions(doc: unknown, options: { maxDepth?: number; paths?: (string | number)[][]; confusions?: readonly [string, unknown][] } = {}): CorpusCase[] {
  const original = JSON.stringify(doc);
  const out: CorpusCase[] = [];
  const enc = new TextEncoder();
  for (const path of options.paths ?? jsonPaths(doc, options.maxDepth)) {
    const key = path.filter((k) => typeof k === 'string').pop();
    const names = key === undefined ? undefined : key;
    for (const [label, value] of [...(options.confusions ?? CONFUSIONS), ['removed', undefined] as [string, unknown]]) {
      const text = JSON.stringify(setPath(doc, path, value, label === 'removed'));
      if (text === original) continue;
      out.push({ name: `${formatPath(path)} ${label === 'removed' ? 'removed' : `= ${label}`}`, bytes: enc.encode(text), names });
    }
  }
  return out;
}

/** What `runCorpus` saw. */
export interface CorpusReport {
  readonly read: number;
  readonly refused: number;
  /** Refusals per error class name. */
  readonly byError: Record<string, number>;
  /** Problems, one line each: a raw error, a refusal of the wrong class, too slow, a refusal not naming its field. */
  readonly failures: string[];
}

/**
 * Feeds every case to `read` (which reads the bytes as the format, and may check what it read,
 * throwing on a wrong result). A case passes when `read` returns, or throws an instance of
 * `errorClass` (naming `names` when the case has one) within `maxMs`. Any other throw, or a
 * slower answer, is a failure. `checkAfter` runs after each case (e.g. memory unchanged).
 */
export async function runCorpus(
  cases: readonly CorpusCase[],
  read: (bytes: Uint8Array, c: CorpusCase) => unknown,
  options: { errorClass: abstract new (...args: never[]) => Error; maxMs?: number; checkAfter?: (c: CorpusCase) => string | undefined; trace?: (c: CorpusCase) => void },
): Promise<CorpusReport> {
  const maxMs = options.maxMs ?? 1000;
  let readCount = 0;
  let refused = 0;
  const byError: Record<string, number> = {};
  const failures: string[] = [];
  for (const c of cases) {
    // A case that hangs synchronously stops every timer: `trace` names it before it runs.
    options.trace?.(c);
    const start = performance.now();
    try {
      await read(c.bytes, c);
      readCount++;
    } catch (e) {
      if (!(e instanceof options.errorClass)) {
        failures.push(`${c.name}: raw ${e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e)}`);
      } else {
        refused++;
        byError[e.name] = (byError[e.name] ?? 0) + 1;
        const names = c.names;
        if (names !== undefined && !(typeof names === 'string' ? e.message.includes(names) : names.test(e.message))) {
          failures.push(`${c.name}: ${e.name} does not name ${String(names)}: ${e.message}`);
        }
      }
    }
    const ms = performance.now() - start;
    if (ms > maxMs) failures.push(`${c.name}: took ${ms.toFixed(0)} ms (limit ${maxMs} ms)`);
    const after = options.checkAfter?.(c);
    if (after) failures.push(`${c.name}: ${after}`);
  }
  return { read: readCount, refused, byError, failures };
}
