// GGUF against llama.cpp's Python `gguf` package (scripts/make_gguf_fixture.py). The
// committed fixture (test/fixtures/gguf-tiny-gpt2) was written by gguf.GGUFWriter with
// matrices in F32, F16, Q8_0 and Q4_0 quantized by gguf-py, plus every tensor dequantized by
// gguf-py (expected.gguf): Tessera must read the same values bit for bit and load the model
// (its quantized weights dequantizing to those values, Conv1D weights transposed back).
// The live part, when $TESSERA_PYTHON (else python3) imports gguf, regenerates the fixture
// and has gguf.GGUFReader read the files Tessera writes (F32, F16, Q8_0, Q4_0, Q4_K), with
// the same values: gguf-py's own dequantization of Tessera's blocks equals Tessera's decode.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWasmBackend, dequantizeMatrix } from '@tessera/core';
import { quantizedWeightToHost, setBackend } from '@tessera/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT2, gpt2FromGguf, gpt2ToGguf, ggufTensorValues, parseGguf, quantize, quantizedWeights, type GgufFile, type GgufTensorType } from '../src/index.js';
import { values } from './helpers.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const FIXTURE = join(HERE, 'fixtures', 'gguf-tiny-gpt2');
const SCRIPT = join(HERE, '..', 'scripts', 'make_gguf_fixture.py');
const PYTHON = process.env.TESSERA_PYTHON || 'python3';
const probe = spawnSync(PYTHON, ['-c', 'import gguf, numpy'], { encoding: 'utf8' });
const hasGguf = probe.status === 0;
const skipNote = hasGguf ? '' : ` [skipped: ${PYTHON} cannot import gguf (pip install gguf)]`;

/** Every tensor's values by name. */
function allValues(file: GgufFile): Map<string, Float32Array> {
  return new Map(file.tensors.map((t) => [t.name, ggufTensorValues(file, t)]));
}

function expectSameBits(a: Float32Array, b: Float32Array, what: string): void {
  expect(a.length, what).toBe(b.length);
  const [x, y] = [new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length)];
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) expect.fail(`${what}[${i}]: ${a[i]} vs gguf-py ${b[i]}`);
}

/** [k, n] -> [n, k]. */
function transpose(v: ArrayLike<number>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c];
  return out;
}

describe('GGUF vs gguf-py', () => {
  beforeAll(async () => {
    await setBackend(await createWasmBackend());
  });
  afterAll(async () => {
    await setBackend('reference');
  });

  it('the gguf-py fixture: every tensor (F32, F16, Q8_0, Q4_0; random Q4_K and Q6_K blocks) decodes to gguf-py\'s values bit for bit', async () => {
    const file = parseGguf(await readFile(join(FIXTURE, 'model.gguf')));
    const expected = allValues(parseGguf(await readFile(join(FIXTURE, 'expected.gguf'))));
    const types = new Set(file.tensors.map((t) => t.typeName));
    expect([...types].sort()).toEqual(['F16', 'F32', 'Q4_0', 'Q4_K', 'Q6_K', 'Q8_0']);
    for (const t of file.tensors) expectSameBits(ggufTensorValues(file, t), expected.get(t.name)!, t.name);
  });

  it('the gguf-py fixture loads as a GPT-2: quantized weights and f32 parameters hold gguf-py\'s values; its tokenizer works', async () => {
    const file = parseGguf(await readFile(join(FIXTURE, 'model.gguf')));
    const expected = allValues(parseGguf(await readFile(join(FIXTURE, 'expected.gguf'))));
    const model = gpt2FromGguf(file);
    const q = quantizedWeights(model);
    expect([...q.keys()].sort()).toEqual(['transformer.h.0.attn.c_attn.weight', 'transformer.h.0.mlp.c_fc.weight', 'transformer.h.1.attn.c_attn.weight', 'transformer.h.1.attn.c_proj.weight', 'transformer.wte.weight']);
    // Quantized weights are output-major rows, as GGUF stores them.
    const rows = async (name: string) => dequantizeMatrix(await quantizedWeightToHost(q.get(name)!.weight));
    expectSameBits(await rows('transformer.wte.weight'), expected.get('token_embd.weight')!, 'wte');
    expectSameBits(await rows('transformer.h.0.attn.c_attn.weight'), expected.get('blk.0.attn_qkv.weight')!, 'h.0 c_attn (Q4_0)');
    expectSameBits(await rows('transformer.h.1.attn.c_proj.weight'), expected.get('blk.1.attn_output.weight')!, 'h.1 attn c_proj (Q4_0)');
    // f32 parameters: Conv1D weights [in, out] are the transposed GGUF rows.
    const sd = model.stateDict();
    expectSameBits(Float32Array.from(values(sd.get('transformer.h.0.mlp.c_proj.weight')!)), transpose(expected.get('blk.0.ffn_down.weight')!, 32, 128), 'h.0 mlp c_proj (F32)');
    expectSameBits(Float32Array.from(values(sd.get('transformer.h.1.mlp.c_proj.weight')!)), transpose(expected.get('blk.1.ffn_down.weight')!, 32, 128), 'h.1 mlp c_proj (F16)');
    expectSameBits(Float32Array.from(values(sd.get('transformer.wpe.weight')!)), expected.get('position_embd.weight')!, 'wpe (F16)');
    expectSameBits(Float32Array.from(values(sd.get('transformer.ln_f.bias')!)), expected.get('output_norm.bias')!, 'ln_f.bias');
    expect(model.config).toMatchObject({ n_embd: 32, n_layer: 2, n_head: 2, n_positions: 16, vocab_size: 259, layer_norm_epsilon: 1e-5, eos_token_id: 258 });
    // Token ids of the fixture are byte values, then the merges 'ab' (256), 'abc' (257).
    expect(model.tokenizer!.encode('abc d')).toEqual([257, 32, 100]);
    const ids = await model.generate([257, 97], { maxNewTokens: 6, temperature: 0 });
    expect(ids.length).toBeGreaterThan(0);
    model.dispose();
  });

  describe('live (Python gguf)', () => {
    let dir = '';
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'tessera-gguf-py-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it.skipIf(!hasGguf)(`regenerating the fixture gives the committed values${skipNote}`, async () => {
      const res = spawnSync(PYTHON, [SCRIPT, 'make', dir], { encoding: 'utf8', timeout: 120_000 });
      expect(res.status, res.stderr).toBe(0);
      const fresh = allValues(parseGguf(await readFile(join(dir, 'expected.gguf'))));
      for (const [name, v] of allValues(parseGguf(await readFile(join(FIXTURE, 'expected.gguf'))))) expectSameBits(fresh.get(name)!, v, name);
    });

    /** Writes `model` as `type`, has gguf-py dump it to F32 and compares every tensor bit for bit; returns gguf-py's metadata and tensor types. */
    async function throughGgufPy(what: string, model: GPT2, type: GgufTensorType): Promise<{ meta: Record<string, unknown>; types: Record<string, string> }> {
      const { writeFile } = await import('node:fs/promises');
      const path = join(dir, `${what}.gguf`);
      const out = join(dir, `${what}.f32.gguf`);
      const bytes = await gpt2ToGguf(model, { type, tokenizer: null });
      await writeFile(path, bytes);
      const res = spawnSync(PYTHON, [SCRIPT, 'dump', path, out], { encoding: 'utf8', timeout: 120_000 });
      expect(res.status, res.stderr).toBe(0);
      const mine = allValues(parseGguf(bytes));
      const dumped = parseGguf(await readFile(out));
      const theirs = allValues(dumped);
      expect([...theirs.keys()].sort(), what).toEqual([...mine.keys()].sort());
      for (const [name, v] of mine) expectSameBits(v, theirs.get(name)!, `${what} ${name}`);
      return { meta: JSON.parse(res.stdout), types: JSON.parse(String(dumped.metadata.get('tessera.check.source_types')!.value)) };
    }

    it.skipIf(!hasGguf)(`gguf.GGUFReader reads Tessera's F32, F16, Q8_0 and Q4_0 files with Tessera's values and metadata${skipNote}`, async () => {
      const base = new GPT2({ vocab_size: 96, n_positions: 16, n_embd: 32, n_layer: 2, n_head: 2 }, { seed: 3 });
      const q8 = await quantize(new GPT2(base.config, { seed: 3 }), { bits: 8, f16Scales: true });
      const q4 = await quantize(new GPT2(base.config, { seed: 3 }), { bits: 4, f16Scales: true });
      for (const [what, model, type] of [['F32', base, 'F32'], ['F16', base, 'F16'], ['Q8_0', q8, 'Q8_0'], ['Q4_0', q4, 'Q4_0']] as const) {
        const { meta } = await throughGgufPy(what, model, type);
        expect(meta, what).toMatchObject({ 'gpt2.context_length': 16, 'gpt2.embedding_length': 32, 'gpt2.feed_forward_length': 128, 'gpt2.block_count': 2, 'gpt2.attention.head_count': 2, 'general.file_type': { F32: 0, F16: 1, Q8_0: 7, Q4_0: 2 }[type] });
      }
      for (const m of [base, q8, q4]) m.dispose();
    });

    it.skipIf(!hasGguf)(`gguf.GGUFReader reads Tessera's Q4_K file: Q4_K matrices that gguf-py dequantizes to Tessera's values bit for bit${skipNote}`, async () => {
      const model = new GPT2({ vocab_size: 96, n_positions: 16, n_embd: 256, n_layer: 1, n_head: 2 }, { seed: 4 });
      const { meta, types } = await throughGgufPy('Q4_K', model, 'Q4_K');
      expect(meta).toMatchObject({ 'gpt2.embedding_length': 256, 'general.file_type': 14, 'general.quantization_version': 2 });
      for (const t of ['token_embd.weight', 'output.weight', 'blk.0.attn_qkv.weight', 'blk.0.attn_output.weight', 'blk.0.ffn_up.weight', 'blk.0.ffn_down.weight']) expect(types[t], t).toBe('Q4_K');
      for (const t of ['position_embd.weight', 'blk.0.attn_norm.bias', 'output_norm.weight']) expect(types[t], t).toBe('F32');
      model.dispose();
    });
  });
});
