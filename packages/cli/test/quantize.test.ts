// `tessera quantize` end to end through the built binary: a `tessera train` checkpoint
// quantized to an int8 directory (config.json's quantization_config, smaller weights) that
// `generate` reads; a GPT-2-tokenizer checkpoint written as a Q4_0 GGUF file that `generate`
// and the serve loader read, with the greedy text of the same model quantized in process;
// a 256-wide one written with --gguf-type Q4_K that `generate` reads with the greedy text of
// the file loaded in process; --overwrite replacing only what tessera quantize wrote; a quantized fine-tuned classifier
// that `eval` evaluates; and the usage errors.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GPT2, parseGguf, quantize, quantizedWeights } from '@tessera/models';
import { createWasmBackend } from '@tessera/core';
import { setBackend } from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadGenerationModel } from '../src/load-model.js';
import { runCli, tempDir } from './helpers.js';

describe('tessera quantize', () => {
  const root = tempDir();
  const charCk = join(root, 'char');
  const bpeCk = join(root, 'bpe');
  beforeAll(async () => {
    for (const [out, extra] of [[charCk, []], [bpeCk, ['--tokenizer', 'gpt2']]] as const) {
      const r = await runCli(['train', '--preset', 'tiny', '--steps', '4', '--eval-every', '4', '--eval-iters', '1', '--sample', '0', '--seed', '3', ...extra, '--out', out]);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 300_000);

  it('an int8 directory: quantization_config, smaller weights, generate reads it; --overwrite replaces only its own output', async () => {
    const out = join(root, 'q8');
    const r = await runCli(['quantize', '--model', charCk, '--bits', '8', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/weights as int8 \(group 32\), [0-9.]+ MiB -> [0-9.]+ MiB/);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.quantization_config).toMatchObject({ quant_method: 'tessera', bits: 8, group_size: 32 });
    expect(statSync(join(out, 'model.safetensors')).size).toBeLessThan(0.5 * statSync(join(charCk, 'model.safetensors')).size);
    const g = await runCli(['generate', '--model', out, '--prompt', 'Call me ', '--max-tokens', '20', '--greedy']);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout.startsWith('Call me ')).toBe(true);

    const again = await runCli(['quantize', '--model', charCk, '--bits', '4', '--out', out]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/already exists; pass --overwrite to replace it/);
    const replaced = await runCli(['quantize', '--model', charCk, '--bits', '4', '--out', out, '--overwrite']);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).quantization_config.bits).toBe(4);
    const mine = join(root, 'mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'notes.txt'), 'keep me');
    const refused = await runCli(['quantize', '--model', charCk, '--bits', '8', '--out', mine, '--overwrite']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is a directory Tessera did not write \(it has no tessera_quantize\.json\)/);
    expect(readFileSync(join(mine, 'notes.txt'), 'utf8')).toBe('keep me');
    const requantize = await runCli(['quantize', '--model', out, '--bits', '8', '--out', join(root, 'qq')]);
    expect(requantize.code).toBe(1);
    expect(requantize.stderr).toMatch(/is already quantized/);
  });

  it('--activations int8: recorded in quantization_config; generate and the serve loader use it, with the greedy text of the same model quantized in process', async () => {
    const out = join(root, 'q4a8');
    const r = await runCli(['quantize', '--model', charCk, '--bits', '4', '--activations', 'int8', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/weights as int4 \(group 32, int8 activations\)/);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).quantization_config).toMatchObject({ bits: 4, activations: 'int8' });
    const g = await runCli(['generate', '--model', out, '--prompt', 'Call me ', '--max-tokens', '16', '--greedy']);
    expect(g.code, g.stderr).toBe(0);

    await setBackend(await createWasmBackend());
    const model = await quantize(await GPT2.fromPretrained(charCk), { bits: 4, activations: 'int8' });
    const tok = model.tokenizer!;
    const stop = tok.eosTokenId === undefined ? [] : [tok.eosTokenId];
    const ids = await model.generate(tok.encode('Call me '), { maxNewTokens: 16, greedy: true, stopTokens: stop });
    expect(g.stdout).toBe(`Call me ${tok.decode(ids)}\n`);
    const served = await loadGenerationModel(out);
    expect([...quantizedWeights(served.model).values()].every(({ weight }) => weight.activations === 'int8')).toBe(true);
    expect(await served.model.generate(tok.encode('Call me '), { maxNewTokens: 16, greedy: true, stopTokens: stop })).toEqual(ids);
    served.model.dispose();
    model.dispose();
  }, 300_000);

  it('a Q4_0 GGUF file: llama.cpp gpt2 layout; generate and the serve loader read it with the greedy text of the in-process model', async () => {
    const file = join(root, 'model.Q4_0.gguf');
    const r = await runCli(['quantize', '--model', bpeCk, '--bits', '4', '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    const gguf = parseGguf(readFileSync(file));
    expect(gguf.metadata.get('general.architecture')?.value).toBe('gpt2');
    expect(gguf.tensors.find((t) => t.name === 'blk.0.attn_qkv.weight')?.typeName).toBe('Q4_0');
    const g = await runCli(['generate', '--model', file, '--prompt', 'Call me', '--max-tokens', '12', '--greedy']);
    expect(g.code, g.stderr).toBe(0);

    await setBackend(await createWasmBackend());
    const model = await quantize(await GPT2.fromPretrained(bpeCk), { bits: 4, f16Scales: true });
    const tok = model.tokenizer!;
    const ids = await model.generate(tok.encode('Call me'), { maxNewTokens: 12, greedy: true, stopTokens: tok.eosTokenId === undefined ? [] : [tok.eosTokenId] });
    expect(g.stdout).toBe(`Call me${tok.decode(ids)}\n`);
    const served = await loadGenerationModel(file);
    expect(await served.model.generate(tok.encode('Call me'), { maxNewTokens: 12, greedy: true, stopTokens: tok.eosTokenId === undefined ? [] : [tok.eosTokenId] })).toEqual(ids);
    served.model.dispose();
    model.dispose();

    const exists = await runCli(['quantize', '--model', bpeCk, '--bits', '4', '--out', file]);
    expect(exists.code).toBe(2);
    expect((await runCli(['quantize', '--model', bpeCk, '--bits', '8', '--out', file, '--overwrite'])).code).toBe(0);
    const foreign = join(root, 'other.gguf');
    writeFileSync(foreign, 'not mine');
    const refused = await runCli(['quantize', '--model', bpeCk, '--bits', '8', '--out', foreign, '--overwrite']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/is not a GGUF file tessera quantize wrote; refusing to replace it/);
  }, 300_000);

  it('--gguf-type Q4_K: Q4_K matrices from the f32 weights; generate reads the file with its greedy text', async () => {
    const wide = join(root, 'bpe256');
    const t = await runCli(['train', '--preset', 'tiny', '--embd', '256', '--steps', '2', '--eval-every', '2', '--eval-iters', '1', '--sample', '0', '--seed', '3', '--tokenizer', 'gpt2', '--out', wide]);
    expect(t.code, t.stderr).toBe(0);
    const file = join(root, 'model.Q4_K.gguf');
    const r = await runCli(['quantize', '--model', wide, '--bits', '4', '--gguf-type', 'Q4_K', '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/matrices as Q4_K/);
    const gguf = parseGguf(readFileSync(file));
    expect(gguf.metadata.get('general.file_type')?.value).toBe(14);
    expect(gguf.tensors.find((x) => x.name === 'blk.0.ffn_down.weight')?.typeName).toBe('Q4_K');
    const g = await runCli(['generate', '--model', file, '--prompt', 'Call me', '--max-tokens', '8', '--greedy']);
    expect(g.code, g.stderr).toBe(0);
    await setBackend(await createWasmBackend());
    const served = await loadGenerationModel(file);
    const tok = served.model.tokenizer!;
    const ids = await served.model.generate(tok.encode('Call me'), { maxNewTokens: 8, greedy: true, stopTokens: tok.eosTokenId === undefined ? [] : [tok.eosTokenId] });
    expect(g.stdout).toBe(`Call me${tok.decode(ids)}\n`);
    served.model.dispose();
    // The tiny preset's 32-wide rows cannot be Q4_K.
    const narrow = await runCli(['quantize', '--model', bpeCk, '--bits', '4', '--gguf-type', 'Q4_K', '--out', join(root, 'narrow.gguf')]);
    expect(narrow.code).toBe(1);
    expect(narrow.stderr).toMatch(/cannot write .* as Q4_K: gpt2ToGguf: transformer\.wte\.weight has rows of 32 values, not a multiple of Q4_K's super-block of 256/);
  }, 300_000);

  it('usage errors: bits, group size, activations; GGUF group size, activations and tokenizer; missing options', async () => {
    const cases: [string[], number, RegExp][] = [
      [['quantize', '--model', charCk, '--bits', '5', '--out', join(root, 'x')], 2, /--bits must be 8 or 4, got 5/],
      [['quantize', '--model', charCk, '--bits', '8', '--group-size', '48', '--out', join(root, 'x')], 2, /--group-size must be 32, 64 or 128, got 48/],
      [['quantize', '--model', charCk, '--bits', '8', '--group-size', '64', '--out', join(root, 'x.gguf')], 2, /Q8_0 \/ Q4_0 blocks are 32 values/],
      [['quantize', '--model', charCk, '--bits', '8', '--activations', 'int4', '--out', join(root, 'x')], 2, /--activations must be one of f32, int8; got "int4"/],
      [['quantize', '--model', charCk, '--bits', '8', '--activations', 'int8', '--out', join(root, 'x.gguf')], 2, /a GGUF file has no place for --activations int8; write a directory/],
      [['quantize', '--model', charCk, '--bits', '8', '--out', join(root, 'x.gguf')], 1, /has a character-level tokenizer; a GGUF file carries GPT-2's byte-level BPE tokenizer/],
      [['quantize', '--model', charCk, '--bits', '8', '--group-size', '64', '--out', join(root, 'y')], 1, /not a multiple of groupSize 64/],
      [['quantize', '--bits', '8', '--out', join(root, 'x')], 1, /needs --model/],
      [['quantize', '--model', charCk, '--bits', '8', '--gguf-type', 'Q4_K', '--out', join(root, 'x.gguf')], 2, /--gguf-type Q4_K holds 4-bit weights, not --bits 8/],
      [['quantize', '--model', charCk, '--bits', '4', '--gguf-type', 'Q8_0', '--out', join(root, 'x.gguf')], 2, /--gguf-type Q8_0 holds 8-bit weights, not --bits 4/],
      [['quantize', '--model', charCk, '--bits', '4', '--gguf-type', 'Q4_K', '--out', join(root, 'x')], 2, /--gguf-type Q4_K is for a \.gguf --out/],
      [['quantize', '--model', charCk, '--bits', '4', '--gguf-type', 'Q4_K', '--group-size', '32', '--out', join(root, 'x.gguf')], 2, /Q4_K has its own 256-value super-blocks/],
      [['quantize', '--model', charCk, '--bits', '4', '--gguf-type', 'Q5_K', '--out', join(root, 'x.gguf')], 2, /--gguf-type must be one of Q8_0, Q4_0, Q4_K/],
      [['generate', '--model', join(root, 'mine', 'notes.txt')], 1, /cannot load --model .*notes\.txt: not a directory, and not a GGUF model Tessera reads \(GGUF: header\.magic/],
    ];
    for (const [args, code, message] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(' ')).toBe(code);
      expect(r.stderr, args.join(' ')).toMatch(message);
    }
  });

  for (const arch of ['gpt2', 'encoder']) {
    it(`a quantized fine-tuned ${arch} classifier directory keeps finetune.json and eval evaluates it`, async () => {
      const ft = join(root, `spam-${arch}`);
      const t = await runCli(['finetune', '--arch', arch, '--steps', '6', '--batch', '8', '--max-tokens', '16', '--layers', '1', '--embd', '32', '--heads', '2', '--out', ft]);
      expect(t.code, t.stderr).toBe(0);
      const out = join(root, `spam-${arch}-q8`);
      const q = await runCli(['quantize', '--model', ft, '--bits', '8', '--out', out]);
      expect(q.code, q.stderr).toBe(0);
      expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).quantization_config.bits).toBe(8);
      const ev = await runCli(['eval', '--model', out]);
      expect(ev.code, ev.stderr).toBe(0);
      expect(ev.stdout).toMatch(/ROC-AUC [0-9.]+/);
    }, 300_000);
  }
});
