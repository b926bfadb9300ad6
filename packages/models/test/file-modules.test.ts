/**
 * The modules the safetensors and GPT-2 tokenizer code is split into, tested on
 * their own: FP8 widening over every byte, header parsing without a reader, and
 * the tokenizer-file parsers (what they return and the errors that name the entry).
 */
import { UnsupportedError } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { decodeF8E4M3, decodeF8E5M2, e4m3fnToNumber } from '../src/io/fp8.js';
import { f16ToNumber } from '../src/io/half.js';
import { parseSafetensorsHeader } from '../src/io/safetensors-header.js';
import { FormatError, GPT2Tokenizer, bytesToSymbols, parseTokenizerJson, parseVocabJson, serializeSafetensors } from '../src/index.js';

const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);

describe('fp8', () => {
  it('E5M2 is the top byte of a binary16, for every byte', () => {
    const out = new Float32Array(256);
    decodeF8E5M2(ALL_BYTES, out);
    out.forEach((v, b) => expect(Object.is(v, Math.fround(f16ToNumber(b << 8))), `byte ${b}`).toBe(true)); // Object.is: NaN matches NaN, -0 only -0
  });

  it('E4M3FN: bias 7, subnormals, no infinities, S.1111.111 is NaN, for every byte', () => {
    const out = new Float32Array(256);
    decodeF8E4M3(ALL_BYTES, out);
    for (let b = 0; b < 256; b++) {
      const sign = b & 0x80 ? -1 : 1;
      const e = (b >> 3) & 15;
      const m = b & 7;
      const want = e === 15 && m === 7 ? NaN : e === 0 ? sign * m * 2 ** -9 : sign * (1 + m / 8) * 2 ** (e - 7);
      expect(Object.is(out[b], want) || (Number.isNaN(want) && Number.isNaN(out[b])), `byte ${b}`).toBe(true);
      expect(Object.is(e4m3fnToNumber(b), out[b]) || Number.isNaN(want)).toBe(true);
    }
    expect(out[0x7e]).toBe(448); // the largest finite value
  });
});

describe('safetensors header parsing', () => {
  it('returns the entries sorted by data offset and the metadata, without loading data', () => {
    const bytes = serializeSafetensors(
      { b: { dtype: 'F32', shape: [2], data: [1, 2] }, a: { dtype: 'F16', shape: [3], data: [1, 2, 3] } },
      { format: 'pt' },
    );
    const h = parseSafetensorsHeader(bytes, true);
    expect(h.entries.map((e) => [e.name, e.dtype, e.dataOffsets])).toEqual([
      ['b', 'F32', [0, 8]],
      ['a', 'F16', [8, 14]],
    ]);
    expect(h.metadata).toEqual({ format: 'pt' });
    expect(h.entries[0].fileOffsets[0]).toBe(8 + h.headerLength);
    expect(() => parseSafetensorsHeader(bytes.subarray(0, 5), false)).toThrow(FormatError);
  });
});

describe('GPT-2 tokenizer files', () => {
  const byteVocab = Object.fromEntries(Array.from({ length: 256 }, (_, b) => [bytesToSymbols(Uint8Array.of(b)), b]));

  it('parseVocabJson takes text or an object and names a bad entry', () => {
    expect(parseVocabJson('{"a": 0, "b": 1}')).toEqual(new Map([['a', 0], ['b', 1]]));
    expect(parseVocabJson({ a: 3 })).toEqual(new Map([['a', 3]]));
    expect(() => parseVocabJson('{"a": -1}')).toThrow(/vocab.json: token "a" has id -1/);
    expect(() => parseVocabJson('[')).toThrow(FormatError);
  });

  it('parseTokenizerJson returns vocabulary, merges and the ByteLevel options a GPT2Tokenizer is built from', () => {
    const vocab = { ...byteVocab, ab: 256 };
    const files = parseTokenizerJson({
      model: { type: 'BPE', vocab, merges: ['a b'] },
      added_tokens: [{ id: 257, content: '<|endoftext|>' }],
      pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'ByteLevel', add_prefix_space: true, use_regex: false }] },
    });
    expect(files.merges).toEqual([['a', 'b']]);
    expect(files.vocab.get('ab')).toBe(256);
    expect(files.options).toEqual({ specialTokens: new Map([['<|endoftext|>', 257]]), addPrefixSpace: true, useRegex: false });
    const tok = new GPT2Tokenizer(files.vocab, files.merges, files.options);
    expect(tok.encode('ab')).toEqual([32, 256]); // the added prefix space (byte 0x20 has id 32 here), then the merge
    expect(() => parseTokenizerJson({ model: { type: 'Unigram', vocab, merges: [] } })).toThrow(UnsupportedError);
    expect(() => parseTokenizerJson({ model: { type: 'BPE', vocab, merges: ['ab'] } })).toThrow(/model.merges\[0\]: "ab" is not two symbols/);
  });
});
