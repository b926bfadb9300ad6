// GGUF (src/gguf): GPT-2 round trips through F32, F16, Q8_0 and Q4_0 files. F32 / F16 files
// hold exactly the f32 (f16-valued) parameters and generate the same greedy tokens as the
// model they came from, which checks the Conv1D transposes; Q8_0 / Q4_0 files load as
// quantized models with the same packed values and scales (a quantize with f16 scales maps
// to the blocks bit for bit), the same logits and tokens, and re-serialize to the same
// bytes. Malformed files are GgufFormatErrors naming the field, and a fuzz run over
// mutations and truncations of a valid file finds nothing else (no other error, no hang).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fc, test as fcTest } from '@fast-check/vitest';
import { TesseraError, createWasmBackend } from '@tessera/core';
import { noGrad, setBackend } from '@tessera/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GPT2,
  GPT2Tokenizer,
  GgufFormatError,
  gpt2FromGguf,
  gpt2ToGguf,
  parseGguf,
  quantize,
  quantizedWeights,
  serializeGguf,
  type GgufValue,
} from '../src/index.js';
import { f16ToNumber, numberToF16 } from '../src/io/half.js';
import { bytesToSymbols } from '../src/tokenizers/byte-level.js';
import { SMALL, ids, randomIds, values } from './helpers.js';

/** A tiny byte-level tokenizer: the 256 byte symbols, two merges and <|endoftext|> (258); id 259 is unused. */
function tinyTokenizer(): GPT2Tokenizer {
  const vocab: Record<string, number> = {};
  for (let b = 0; b < 256; b++) vocab[bytesToSymbols(Uint8Array.of(b))] = b;
  vocab['ab'] = 256;
  vocab['abc'] = 257;
  vocab['<|endoftext|>'] = 258;
  return GPT2Tokenizer.fromVocabAndMerges(vocab, '#version: 0.2\na b\nab c\n');
}

const CONFIG = { ...SMALL, vocab_size: 260, bos_token_id: 258, eos_token_id: 258 };

describe('GGUF (wasm backend)', () => {
  let model: GPT2;
  const prompt = [5, 97, 1, 256];
  beforeAll(async () => {
    await setBackend(await createWasmBackend());
    model = new GPT2(CONFIG, { seed: 11 }).eval();
    model.tokenizer = tinyTokenizer();
  });
  afterAll(async () => {
    model.dispose();
    await setBackend('reference');
  });

  it('F32: every parameter bit for bit, the same greedy tokens, llama.cpp gpt2 names, shapes and keys', async () => {
    const bytes = await gpt2ToGguf(model, { type: 'F32' });
    const file = parseGguf(bytes);
    const meta = (k: string) => file.metadata.get(k)?.value;
    expect(meta('general.architecture')).toBe('gpt2');
    expect([meta('gpt2.context_length'), meta('gpt2.embedding_length'), meta('gpt2.feed_forward_length'), meta('gpt2.block_count'), meta('gpt2.attention.head_count')]).toEqual([32, 32, 128, 2, 2]);
    expect(meta('gpt2.attention.layer_norm_epsilon')).toBeCloseTo(1e-5, 12);
    expect(meta('tokenizer.ggml.model')).toBe('gpt2');
    expect((meta('tokenizer.ggml.merges') as string[]).slice(0, 2)).toEqual(['a b', 'ab c']);
    expect([meta('tokenizer.ggml.bos_token_id'), meta('tokenizer.ggml.eos_token_id')]).toEqual([258, 258]);
    const t = new Map(file.tensors.map((x) => [x.name, x]));
    expect(t.get('token_embd.weight')!.dims).toEqual([32, 260]);
    expect(t.get('blk.0.attn_qkv.weight')!.dims).toEqual([32, 96]);
    expect(t.get('blk.1.ffn_down.weight')!.dims).toEqual([128, 32]);
    expect(t.get('output.weight')!.dims).toEqual([32, 260]);
    expect((meta('tokenizer.ggml.tokens') as string[]).length).toBe(260);
    expect((meta('tokenizer.ggml.token_type') as number[]).slice(256)).toEqual([1, 1, 3, 5]);
    // Conv1D orientation: GGUF row j of attn_qkv is HF column j of c_attn.weight [in, out].
    const cAttn = values(model.transformer.h.at(0).attn.c_attn.weight);
    const qkv = new Float32Array(bytes.buffer.slice(t.get('blk.0.attn_qkv.weight')!.fileOffset, t.get('blk.0.attn_qkv.weight')!.fileOffset + 32 * 96 * 4));
    expect(qkv[5 * 32 + 7]).toBe(cAttn[7 * 96 + 5]);

    const loaded = gpt2FromGguf(bytes).eval();
    for (const [name, p] of model.namedParameters()) expect(values(loaded.stateDict().get(name)!), name).toEqual(values(p));
    expect(loaded.tokenizer!.encode('abc d')).toEqual(model.tokenizer!.encode('abc d'));
    expect(await loaded.generate(prompt, { maxNewTokens: 10, temperature: 0 })).toEqual(await model.generate(prompt, { maxNewTokens: 10, temperature: 0 }));
    // Writing the loaded model again gives the same file.
    expect(await gpt2ToGguf(loaded, { type: 'F32' })).toEqual(bytes);
    loaded.dispose();
  });

  it('F16: a model with f16-valued weights round-trips exactly and generates the same tokens', async () => {
    const half = new GPT2(CONFIG, { init: false });
    half.loadStateDict(new Map([...model.stateDict()].map(([n, p]) => [n, { shape: p.shape, data: values(p).map((v) => f16ToNumber(numberToF16(v))) }])));
    const bytes = await gpt2ToGguf(half, { type: 'F16', tokenizer: null });
    const file = parseGguf(bytes);
    expect(file.tensors.find((x) => x.name === 'blk.0.ffn_up.weight')!.typeName).toBe('F16');
    expect(file.tensors.find((x) => x.name === 'blk.0.ffn_up.bias')!.typeName).toBe('F32');
    const loaded = gpt2FromGguf(bytes);
    expect(loaded.tokenizer).toBeNull();
    for (const [name, p] of half.namedParameters()) expect(values(loaded.stateDict().get(name)!), name).toEqual(values(p));
    expect(await loaded.generate(prompt, { maxNewTokens: 10, temperature: 0 })).toEqual(await half.generate(prompt, { maxNewTokens: 10, temperature: 0 }));
    half.dispose();
    loaded.dispose();
  });

  for (const [bits, type] of [[8, 'Q8_0'], [4, 'Q4_0']] as const) {
    it(`${type}: a quantize with f16 scales maps to the blocks bit for bit; same logits and tokens; bytes round-trip`, async () => {
      const q = await quantize(new GPT2(CONFIG, { seed: 11 }).eval(), { bits, f16Scales: true });
      const bytes = await gpt2ToGguf(q, { tokenizer: tinyTokenizer() });
      const file = parseGguf(bytes);
      expect(file.tensors.find((x) => x.name === 'blk.1.attn_output.weight')!.typeName).toBe(type);
      expect(file.tensors.find((x) => x.name === 'token_embd.weight')!.typeName).toBe(type);
      expect(file.tensors.find((x) => x.name === 'position_embd.weight')!.typeName).toBe('F32');
      expect(file.metadata.get('general.file_type')!.value).toBe(bits === 8 ? 7 : 2);
      const loaded = gpt2FromGguf(bytes).eval();
      expect(loaded.config.layer_norm_epsilon).toBe(1e-5);
      const [a, b] = [quantizedWeights(q), quantizedWeights(loaded)];
      expect([...b.keys()]).toEqual([...a.keys()]);
      for (const [name, { weight }] of a) {
        expect(Array.from(b.get(name)!.weight.q.dataSync()), name).toEqual(Array.from(weight.q.dataSync()));
        expect(Array.from(b.get(name)!.weight.scales.dataSync()), name).toEqual(Array.from(weight.scales.dataSync()));
      }
      const x = ids(randomIds(1, 9, 260, 2));
      expect(values(noGrad(() => loaded.forward(x)))).toEqual(values(noGrad(() => q.forward(x))));
      expect(await loaded.generate(prompt, { maxNewTokens: 10, temperature: 0 })).toEqual(await q.generate(prompt, { maxNewTokens: 10, temperature: 0 }));
      expect(await gpt2ToGguf(loaded)).toEqual(bytes);
      q.dispose();
      loaded.dispose();
    });
  }

  it('a model quantized with f32 scales (or another group size) is requantized from its values with f16 scales', async () => {
    const q = await quantize(new GPT2({ ...CONFIG, n_embd: 64 }, { seed: 2 }), { bits: 8, groupSize: 64 });
    const loaded = gpt2FromGguf(await gpt2ToGguf(q, { type: 'Q8_0', tokenizer: null }));
    const w = quantizedWeights(loaded).get('transformer.h.0.mlp.c_fc.weight')!.weight;
    expect([w.bits, w.groupSize]).toEqual([8, 32]);
    for (const s of w.scales.dataSync()) expect(f16ToNumber(numberToF16(s))).toBe(s);
    q.dispose();
    loaded.dispose();
  });

  it("the HF directory written by transformers, as F32 and F16 GGUF: transformers' greedy tokens; its tokenizer survives", async () => {
    const dir = fileURLToPath(new URL('./fixtures/hf-tiny-gpt2', import.meta.url));
    const reference = JSON.parse(await readFile(join(dir, 'reference.json'), 'utf8')) as { newTokens: number; prompts: { text: string; ids: number[]; greedy: number[] }[] };
    const hf = await GPT2.fromPretrained(dir);
    for (const type of ['F32', 'F16'] as const) {
      const loaded = gpt2FromGguf(await gpt2ToGguf(hf, { type })).eval();
      for (const p of reference.prompts) {
        expect(loaded.tokenizer!.encode(p.text), p.text).toEqual(p.ids);
        const ids = await loaded.generate(p.ids, { maxNewTokens: reference.newTokens, greedy: true, stopTokens: [] });
        // F32 holds the checkpoint exactly; F16 rounds the matrices, which this fixture's margins (>= 2e-3) absorb.
        expect(ids, `${type} ${p.text}`).toEqual(p.greedy);
      }
      loaded.dispose();
    }
    hf.dispose();
  });

  describe('malformed files', () => {
    let good: Uint8Array;
    beforeAll(async () => {
      good = await gpt2ToGguf(model, { type: 'Q8_0' });
    });
    const u64At = (b: Uint8Array, at: number, v: bigint) => new DataView(b.buffer, b.byteOffset).setBigUint64(at, v, true);

    it('name the field: magic, version, counts, string lengths, truncation', () => {
      const cases: [string, (b: Uint8Array) => Uint8Array, RegExp, string][] = [
        ['magic', (b) => (b.set([0x47, 0x47, 0x55, 0x48], 0), b), /not "GGUF"/, 'header.magic'],
        ['version', (b) => (new DataView(b.buffer).setUint32(4, 9, true), b), /header\.version is 9/, 'header.version'],
        ['tensor count', (b) => (u64At(b, 8, 1n << 40n), b), /header\.tensor_count is 1099511627776/, 'header.tensor_count'],
        ['kv count', (b) => (u64At(b, 16, 1n << 62n), b), /header\.metadata_kv_count/, 'header.metadata_kv_count'],
        ['key length', (b) => (u64At(b, 24, 1n << 50n), b), /metadata\[0\]\.key length? needs|metadata\[0\]\.key needs/, 'metadata[0].key'],
        ['truncated', (b) => b.subarray(0, 100), /truncated|more than the \d+ bytes left can hold/, ''],
        ['truncated data', (b) => b.subarray(0, b.length - 40), /past the end of the/, ''],
      ];
      for (const [what, mutate, message, field] of cases) {
        const b = mutate(good.slice());
        let err: unknown;
        try {
          gpt2FromGguf(b);
        } catch (e) {
          err = e;
        }
        expect(err, what).toBeInstanceOf(GgufFormatError);
        expect(String(err), what).toMatch(message);
        if (field) expect((err as GgufFormatError).field, what).toBe(field);
      }
    });

    it('unknown tensor types, bad dims and offsets, architecture and missing tensors are named', () => {
      const md: [string, GgufValue][] = [['general.architecture', { type: 'STRING', value: 'gpt2' }]];
      const t = (over: Partial<{ name: string; dims: number[]; type: number; data: Uint8Array }> = {}) => ({ name: 'x', dims: [32], type: 0, data: new Uint8Array(128), ...over });
      const one = serializeGguf(md, [t()]);
      // The type u32 of the only tensor sits 12 bytes before the end of its entry (u32 type, u64 offset), before padding.
      const typeAt = one.indexOf(0x78) + 1 + 4 + 8; // after "x", n_dims, ne[0]
      const bad = one.slice();
      new DataView(bad.buffer).setUint32(typeAt, 99, true);
      expect(() => parseGguf(bad)).toThrow(/tensor "x"\.type is 99, not a ggml tensor type/);
      const odd = one.slice();
      new DataView(odd.buffer).setBigUint64(typeAt + 4, 3n, true);
      expect(() => parseGguf(odd)).toThrow(/tensor "x"\.offset 3 is not a multiple of the alignment 32/);
      expect(() => parseGguf(serializeGguf(md, [t({ type: 8, dims: [31], data: new Uint8Array(0) })]))).toThrow(ArgumentErrorLike);
      expect(() => gpt2FromGguf(serializeGguf([['general.architecture', { type: 'STRING', value: 'llama' }]], []))).toThrow(/general\.architecture is "llama"/);
      const noQkv = parseGguf(good);
      const cut = serializeGguf(
        [...noQkv.metadata],
        noQkv.tensors.filter((x) => x.name !== 'blk.1.attn_qkv.weight').map((x) => ({ name: x.name, dims: x.dims, type: x.type, data: good.subarray(x.fileOffset, x.fileOffset + x.byteLength) })),
      );
      expect(() => gpt2FromGguf(cut)).toThrow(/tensor "blk\.1\.attn_qkv\.weight" is missing/);
    });

    fcTest.prop([fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.option(fc.nat(), { nil: undefined })], { numRuns: 300 })(
      'fuzz: mutated or truncated files load or throw a TesseraError (GgufFormatError while parsing), quickly',
      (edits, cut) => {
        const b = good.slice();
        // Most edits land in the header and metadata, where the structure is.
        for (const [at, v] of edits) b[at % Math.min(b.length, 4096)] = v;
        const bytes = cut === undefined ? b : b.subarray(0, cut % b.length);
        const start = performance.now();
        let parsed = null;
        try {
          parsed = parseGguf(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(GgufFormatError);
        }
        if (parsed) {
          try {
            gpt2FromGguf(parsed).dispose();
          } catch (e) {
            expect(e).toBeInstanceOf(TesseraError);
          }
        }
        expect(performance.now() - start).toBeLessThan(2000);
      },
    );
  });
});

/** serializeGguf refuses data that does not fit its type (an ArgumentError). */
const ArgumentErrorLike = /tensor "x" has ne\[0\] = 31, not a multiple of Q8_0's block of 32/;
