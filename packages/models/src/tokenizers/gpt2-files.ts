/**
 * The GPT-2 tokenizer's files, parsed and checked: a model directory's `vocab.json` and
 * `merges.txt`, and HF's `tokenizer.json` (byte-level BPE only). Malformed content is a
 * `FormatError` naming the file and entry; a tokenizer.json this tokenizer cannot honour
 * (another model type, a normalizer, another pre-tokenizer) is an `UnsupportedError`.
 */

import { UnsupportedError } from '@tessera/core';
import { FormatError } from '../io/errors.js';
import type { Merge } from './bpe.js';
import type { GPT2TokenizerOptions } from './gpt2.js';

/** What a GPT2Tokenizer is built from: vocabulary (symbol string -> id), ranked merges, options. */
export interface GPT2TokenizerFiles {
  readonly vocab: Map<string, number>;
  readonly merges: Merge[];
  readonly options: GPT2TokenizerOptions;
}

/** `vocab.json` (text or parsed): byte-level token -> non-negative integer id. */
export function parseVocabJson(vocabJson: string | Readonly<Record<string, number>>): Map<string, number> {
  const vocab = typeof vocabJson === 'string' ? parseJsonFile(vocabJson, 'vocab.json') : vocabJson;
  return vocabMap(vocab, 'vocab.json');
}

/**
 * HF `tokenizer.json` (text or parsed): `model` must be byte-level `BPE` (merges as `"a b"`
 * strings or `[a, b]` pairs); `added_tokens` become special tokens; `pre_tokenizer`
 * `ByteLevel` options become `addPrefixSpace` / `useRegex`.
 */
export function parseTokenizerJson(json: string | unknown): GPT2TokenizerFiles {
  const root = typeof json === 'string' ? parseJsonFile(json, 'tokenizer.json') : json;
  if (!isObject(root)) throw new FormatError('tokenizer.json: the top level is not an object');
  const model = root.model;
  if (!isObject(model)) throw new FormatError('tokenizer.json: "model" is missing or not an object');
  if (model.type !== undefined && model.type !== 'BPE') {
    throw new UnsupportedError(`tokenizer.json: model type ${JSON.stringify(model.type)} is not supported (only byte-level "BPE")`);
  }
  for (const key of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    if (model[key] !== undefined && model[key] !== null && model[key] !== '') {
      throw new UnsupportedError(`tokenizer.json: model.${key} ${JSON.stringify(model[key])} is not supported by byte-level BPE`);
    }
  }
  if (root.normalizer !== undefined && root.normalizer !== null) {
    throw new UnsupportedError(`tokenizer.json: normalizer ${JSON.stringify(isObject(root.normalizer) ? root.normalizer.type : root.normalizer)} is not supported (GPT-2 has none)`);
  }
  const byteLevel = findByteLevel(root.pre_tokenizer);
  if (!isObject(model.vocab)) throw new FormatError('tokenizer.json: "model.vocab" is missing or not an object');
  const vocab = vocabMap(model.vocab, 'tokenizer.json model.vocab');
  if (!Array.isArray(model.merges)) throw new FormatError('tokenizer.json: "model.merges" is missing or not an array');
  const merges = model.merges.map((m: unknown, i: number): Merge => {
    if (typeof m === 'string') return splitMerge(m, `tokenizer.json model.merges[${i}]`);
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') return [m[0], m[1]];
    throw new FormatError(`tokenizer.json: model.merges[${i}] is ${JSON.stringify(m)}, neither "a b" nor ["a", "b"]`);
  });
  const specialTokens = new Map<string, number>();
  if (root.added_tokens !== undefined && root.added_tokens !== null) {
    if (!Array.isArray(root.added_tokens)) throw new FormatError('tokenizer.json: "added_tokens" is not an array');
    root.added_tokens.forEach((t: unknown, i: number) => {
      if (!isObject(t) || typeof t.content !== 'string' || typeof t.id !== 'number') {
        throw new FormatError(`tokenizer.json: added_tokens[${i}] lacks a string "content" or a numeric "id"`);
      }
      specialTokens.set(t.content, t.id);
    });
  }
  return {
    vocab,
    merges,
    options: {
      specialTokens,
      addPrefixSpace: byteLevel?.add_prefix_space === true,
      useRegex: byteLevel?.use_regex !== false,
    },
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJsonFile(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(`${what}: not valid JSON (${(e as Error).message})`);
  }
}

function vocabMap(vocab: unknown, what: string): Map<string, number> {
  if (!isObject(vocab)) throw new FormatError(`${what}: not an object of token -> id`);
  const out = new Map<string, number>();
  for (const [token, id] of Object.entries(vocab)) {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
      throw new FormatError(`${what}: token ${JSON.stringify(token)} has id ${JSON.stringify(id)}; ids are non-negative integers`);
    }
    out.set(token, id);
  }
  return out;
}

function splitMerge(line: string, what: string): Merge {
  const parts = line.split(' ');
  if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
    throw new FormatError(`${what}: ${JSON.stringify(line)} is not two symbols separated by one space`);
  }
  return [parts[0], parts[1]];
}

/** `merges.txt`: an optional `#version` line, then one `left right` merge per line, best first. */
export function parseMergesTxt(text: string): Merge[] {
  const merges: Merge[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((line, i) => {
    if (line === '' || (i === 0 && line.startsWith('#version'))) return;
    merges.push(splitMerge(line, `merges.txt line ${i + 1}`));
  });
  return merges;
}

function findByteLevel(pre: unknown): Record<string, unknown> | undefined {
  if (pre === undefined || pre === null) return undefined;
  if (!isObject(pre)) throw new FormatError('tokenizer.json: "pre_tokenizer" is not an object');
  if (pre.type === 'ByteLevel') return pre;
  if (pre.type === 'Sequence' && Array.isArray(pre.pretokenizers) && pre.pretokenizers.length === 1) return findByteLevel(pre.pretokenizers[0]);
  throw new UnsupportedError(`tokenizer.json: pre_tokenizer.type ${pre.type === undefined ? 'missing' : JSON.stringify(pre.type)} is not supported (only GPT-2's "ByteLevel")`);
}
