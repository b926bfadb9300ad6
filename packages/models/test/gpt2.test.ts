/**
 * GPT-2: configuration, Hugging Face names and shapes, causal masking, the
 * KV cache against full recomputation, training with AdamW, sampling and
 * generation.
 */
import { ArgumentError, DTypeError, IndexError, ShapeError, UnsupportedError } from '@tessera/core';
import { AdamW } from '@tessera/optim';
import { crossEntropy, memory, noGrad, ones, ready, tensor, tidy } from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, GPT2, GPT2LMHeadModel, Sampler, argmaxOf, gpt2Config, quantize } from '../src/index.js';
import { SMALL, expectClose, ids, randomIds, rng, values } from './helpers.js';

beforeAll(async () => {
  await ready();
});

describe('GPT2Config', () => {
  it('defaults to GPT-2 124M with Hugging Face keys', () => {
    const c = gpt2Config();
    expect(c).toMatchObject({
      vocab_size: 50257,
      n_positions: 1024,
      n_embd: 768,
      n_layer: 12,
      n_head: 12,
      layer_norm_epsilon: 1e-5,
      n_inner: null,
      activation_function: 'gelu_new',
      resid_pdrop: 0.1,
      embd_pdrop: 0.1,
      attn_pdrop: 0.1,
      initializer_range: 0.02,
      model_type: 'gpt2',
      architectures: ['GPT2LMHeadModel'],
      bos_token_id: 50256,
      eos_token_id: 50256,
    });
    expect(gpt2Config(SMALL).eos_token_id).toBe(63); // the last id when the vocabulary is smaller
  });

  it('rejects inconsistent or unknown settings with typed errors', () => {
    expect(() => gpt2Config({ n_embd: 30, n_head: 4 })).toThrow(/n_embd 30 must be divisible by n_head 4/);
    expect(() => gpt2Config({ n_embd: 30, n_head: 4 })).toThrow(ConfigError);
    expect(() => gpt2Config({ n_layers: 2 } as never)).toThrow(/unknown key 'n_layers'/);
    expect(() => gpt2Config({ resid_pdrop: 1.5 })).toThrow(/resid_pdrop must be a probability in \[0, 1\)/);
    expect(() => gpt2Config({ vocab_size: 0 })).toThrow(/vocab_size must be a positive integer/);
    expect(() => gpt2Config({ vocab_size: 10, eos_token_id: 10 })).toThrow(/eos_token_id must be an integer id in \[0, 10\)/);
    expect(() => gpt2Config({ activation_function: 'gelu' as never })).toThrow(UnsupportedError);
    expect(() => gpt2Config({ scale_attn_by_inverse_layer_idx: true } as never, { allowUnknown: true })).toThrow(UnsupportedError);
    expect(gpt2Config({ n_ctx: 1024 } as never, { allowUnknown: true }).extra).toEqual({ n_ctx: 1024 });
  });
});

describe('GPT2 model', () => {
  it("has Hugging Face's parameter names and layouts exactly (2 layers)", () => {
    const m = new GPT2LMHeadModel(SMALL, { seed: 0 });
    const C = 32;
    const block = (i: number): [string, number[]][] => [
      [`transformer.h.${i}.ln_1.weight`, [C]],
      [`transformer.h.${i}.ln_1.bias`, [C]],
      [`transformer.h.${i}.attn.c_attn.weight`, [C, 3 * C]],
      [`transformer.h.${i}.attn.c_attn.bias`, [3 * C]],
      [`transformer.h.${i}.attn.c_proj.weight`, [C, C]],
      [`transformer.h.${i}.attn.c_proj.bias`, [C]],
      [`transformer.h.${i}.ln_2.weight`, [C]],
      [`transformer.h.${i}.ln_2.bias`, [C]],
      [`transformer.h.${i}.mlp.c_fc.weight`, [C, 4 * C]],
      [`transformer.h.${i}.mlp.c_fc.bias`, [4 * C]],
      [`transformer.h.${i}.mlp.c_proj.weight`, [4 * C, C]],
      [`transformer.h.${i}.mlp.c_proj.bias`, [C]],
    ];
    expect(m.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([
      ['transformer.wte.weight', [64, C]],
      ['transformer.wpe.weight', [32, C]],
      ...block(0),
      ...block(1),
      ['transformer.ln_f.weight', [C]],
      ['transformer.ln_f.bias', [C]],
    ]);
    expect(m).toBeInstanceOf(GPT2);
    m.dispose();
  });

  it('validates its inputs', () => {
    const m = new GPT2(SMALL, { seed: 0 });
    expect(() => m.forward(tensor([[1, 2]]))).toThrow(DTypeError);
    expect(() => m.forward(tensor([1, 2], undefined, 'i32'))).toThrow(/must be \[batch, time\]/);
    expect(() => m.forward(ids([Array.from({ length: 33 }, () => 1)]))).toThrow(ShapeError);
    expect(() => m.forward(ids([[1, 64]]))).toThrow(IndexError);
    expect(() => m.loss(ids([[1, 2]]), ids([[1]]))).toThrow(/targets \[1, 1\] must have the ids' shape \[1, 2\]/);
    m.dispose();
  });

  it('is causal: changing a later token never changes earlier logits', () => {
    const m = new GPT2(SMALL, { seed: 1 });
    const base = randomIds(2, 12, 64, 5);
    const V = 64;
    const ref = values(m.forward(ids(base)));
    for (const t of [1, 6, 11]) {
      const changed = base.map((row) => row.map((v, j) => (j === t ? (v + 17) % V : v)));
      const out = values(m.forward(ids(changed)));
      for (let b = 0; b < 2; b++) {
        const at = (j: number) => (b * 12 + j) * V;
        expect(out.slice(at(0), at(t)), `batch ${b}, positions before ${t}`).toEqual(ref.slice(at(0), at(t)));
        expect(out.slice(at(t), at(t + 1))).not.toEqual(ref.slice(at(t), at(t + 1)));
      }
    }
    // The composed (masked) attention path agrees with the fused kernel when nothing is padded.
    expectClose(values(m.forward(ids(base), { attentionMask: ones([2, 12]) })), ref, 1e-5, 'all-ones attention mask');
    m.dispose();
  });

  it('KV-cache decoding gives the logits of a full recompute at every step (1e-5)', () => {
    const m = new GPT2({ ...SMALL, n_layer: 3, n_head: 4 }, { seed: 2 });
    const seq = randomIds(1, 20, 64, 9)[0];
    const full = noGrad(() => values(m.forward(ids([seq]))));
    const V = 64;
    const cache = m.createKVCache();
    noGrad(() => {
      // Prefill 6 tokens (all positions' logits), then one token at a time.
      const pre = values(m.forwardCached(seq.slice(0, 6), cache, { allLogits: true }));
      expectClose(pre, full.slice(0, 6 * V), 1e-5, 'prefill');
      for (let t = 6; t < seq.length; t++) {
        const step = values(m.forwardCached([seq[t]], cache));
        expectClose(step, full.slice(t * V, (t + 1) * V), 1e-5, `step ${t}`);
      }
    });
    expect(cache.length).toBe(20);
    expect(() => noGrad(() => m.forwardCached(Array.from({ length: 13 }, () => 1), cache))).toThrow(/exceed n_positions = 32/);
    cache.dispose();
    m.dispose();
  });

  it('overfits one batch to near-zero loss with AdamW over the flat block, with flat memory', () => {
    const m = new GPT2(SMALL, { seed: 3 });
    const seq = randomIds(4, 17, 64, 11);
    const x = ids(seq.map((r) => r.slice(0, 16)));
    const y = ids(seq.map((r) => r.slice(1)));
    const opt = new AdamW(m.flat.groups(0), { lr: 1e-2 });
    let loss = Infinity;
    let tensors = 0;
    for (let step = 0; step < 150 && loss >= 0.05; step++) {
      const l = m.loss(x, y);
      l.backward();
      loss = l.itemSync();
      l.dispose();
      opt.step();
      m.zeroGrad();
      if (step === 5) tensors = memory().numTensors;
      if (step > 5) expect(memory().numTensors).toBe(tensors);
    }
    expect(loss).toBeLessThan(0.05);
    opt.dispose();
    m.dispose();
  });

  it('trains with a per-parameter optimizer too, and honours ignoreIndex', () => {
    const m = new GPT2(SMALL, { seed: 4 });
    const seq = randomIds(2, 9, 64, 12);
    const x = ids(seq.map((r) => r.slice(0, 8)));
    const yRows = seq.map((r) => r.slice(1));
    const masked = yRows.map((r) => r.map((v, j) => (j % 2 ? -100 : v)));
    // ignoreIndex: the loss equals cross-entropy over the kept positions only.
    const expected = tidy(() => {
      const logits = m.forward(x).reshape([16, 64]);
      const keep = [0, 2, 4, 6, 8, 10, 12, 14];
      const rows = logits.indexSelect(0, tensor(keep, undefined, 'i32'));
      return crossEntropy(rows, tensor(keep.map((k) => yRows[Math.floor(k / 8)][k % 8]), undefined, 'i32')).itemSync();
    });
    expect(m.loss(x, ids(masked)).itemSync()).toBeCloseTo(expected, 5);

    const opt = new AdamW(m.parameters(), { lr: 3e-3, weightDecay: 0.01 });
    const first = m.loss(x, ids(yRows)).itemSync();
    for (let i = 0; i < 20; i++) {
      const l = m.loss(x, ids(yRows));
      l.backward();
      l.dispose();
      opt.step();
      opt.zeroGrad(); // drops every gradient; the model re-wires zeroed views on the next forward
    }
    expect(m.loss(x, ids(yRows)).itemSync()).toBeLessThan(first * 0.7);
    opt.dispose();
    m.dispose();
  });
});

describe('sampling', () => {
  const rowsOf = (n: number, V: number, seed: number) => {
    const r = rng(seed);
    return Array.from({ length: n }, () => Float32Array.from({ length: V }, () => 4 * r() - 2));
  };

  it('top-k = 1, temperature 0 and a tiny top-p all equal greedy', () => {
    const greedy = new Sampler({ greedy: true });
    const k1 = new Sampler({ topK: 1, seed: 1 });
    const t0 = new Sampler({ temperature: 0, seed: 2 });
    const p0 = new Sampler({ topP: 1e-6, seed: 3 });
    for (const row of rowsOf(50, 100, 1)) {
      const g = greedy.next(row);
      expect(g).toBe(argmaxOf(row));
      expect(k1.next(row)).toBe(g);
      expect(t0.next(row)).toBe(g);
      expect(p0.next(row)).toBe(g);
    }
  });

  it('top-p keeps the smallest set reaching p; top-k the k best; both draw in proportion', () => {
    const logits = Float32Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));
    const count = (s: Sampler, n = 4000) => {
      const c = [0, 0, 0, 0];
      for (let i = 0; i < n; i++) c[s.next(logits)]++;
      return c;
    };
    const p8 = count(new Sampler({ topP: 0.8, seed: 1 })); // 0.5 + 0.3 reaches 0.8
    expect(p8[2] + p8[3]).toBe(0);
    expect(p8[0] / 4000).toBeCloseTo(0.625, 1);
    expect(count(new Sampler({ topP: 0.5, seed: 2 }))).toEqual([4000, 0, 0, 0]); // the first token alone reaches 0.5
    const p81 = count(new Sampler({ topP: 0.81, seed: 3 }));
    expect(p81[2]).toBeGreaterThan(0);
    expect(p81[3]).toBe(0);
    const k2 = count(new Sampler({ topK: 2, seed: 4 }));
    expect(k2[2] + k2[3]).toBe(0);
    const all = count(new Sampler({ seed: 5 }), 20000);
    expect(all[3] / 20000).toBeCloseTo(0.05, 1);
    // topP = 1 is no filtering: the same draws as without it.
    const a = new Sampler({ seed: 9 });
    const b = new Sampler({ topP: 1, seed: 9 });
    for (let i = 0; i < 100; i++) expect(b.next(logits)).toBe(a.next(logits));
  });

  it('is deterministic for a seed and rejects bad options', () => {
    const rows = rowsOf(30, 50, 2);
    const draw = (seed: number) => {
      const s = new Sampler({ temperature: 0.9, topK: 20, topP: 0.95, seed });
      return rows.map((r) => s.next(r));
    };
    expect(draw(7)).toEqual(draw(7));
    expect(draw(7)).not.toEqual(draw(8));
    expect(() => new Sampler({ topP: 0 })).toThrow(ArgumentError);
    expect(() => new Sampler({ topP: 1.5 })).toThrow(/topP must be in \(0, 1\]/);
    expect(() => new Sampler({ topK: -1 })).toThrow(/topK must be an integer >= 0/);
    expect(() => new Sampler({ temperature: -1 })).toThrow(/temperature/);
  });
});

describe('generation', () => {
  it('greedy generation equals an argmax loop over full recomputation', async () => {
    const m = new GPT2(SMALL, { seed: 5 });
    const prompt = [3, 14, 15, 9, 26];
    const got = await m.generate(prompt, { maxNewTokens: 12, greedy: true, stopTokens: [] });
    const seq = prompt.slice();
    for (let i = 0; i < 12; i++) {
      const logits = noGrad(() => values(m.forward(ids([seq]))));
      seq.push(argmaxOf(logits.slice((seq.length - 1) * 64)));
    }
    expect(got).toEqual(seq.slice(prompt.length));
    m.dispose();
  });

  it('sampling is seeded; stream and onToken see the same tokens; stop tokens end it', async () => {
    const m = new GPT2(SMALL, { seed: 6 });
    const opts = { maxNewTokens: 16, temperature: 1.2, topK: 30, seed: 11, stopTokens: [] };
    const a = await m.generate([1, 2, 3], opts);
    expect(a).toHaveLength(16);
    expect(await m.generate([1, 2, 3], opts)).toEqual(a);
    expect(await m.generate([1, 2, 3], { ...opts, seed: 12 })).not.toEqual(a);
    const streamed: number[] = [];
    const seen: [number, number][] = [];
    for await (const t of m.stream([1, 2, 3], { ...opts, onToken: (t, i) => void seen.push([t, i]) })) streamed.push(t);
    expect(streamed).toEqual(a);
    expect(seen).toEqual(a.map((t, i) => [t, i]));
    // onToken returning false stops after that token.
    expect(await m.generate([1, 2, 3], { ...opts, onToken: (_t, i) => i < 4 })).toEqual(a.slice(0, 5));
    // A stop token ends generation and is not returned.
    const stopAt = a[7];
    const cut = await m.generate([1, 2, 3], { ...opts, stopTokens: [stopAt] });
    expect(cut).toEqual(a.slice(0, a.indexOf(stopAt)));
    expect(await m.generate([1, 2, 3], { ...opts, maxNewTokens: 0 })).toEqual([]);
    m.dispose();
  });

  it('starts an empty prompt from bos; slides or stops when the context is full; frees its cache', async () => {
    const m = new GPT2(SMALL, { seed: 7 });
    const base = memory().numTensors;
    expect(await m.generate([], { maxNewTokens: 3, greedy: true, stopTokens: [] })).toEqual(await m.generate([63], { maxNewTokens: 3, greedy: true, stopTokens: [] }));
    const prompt = randomIds(1, 30, 64, 3)[0];
    // 'stop': the prompt fills 30 of 32 positions; the first token comes from the prompt's logits, two more fit.
    expect(await m.generate(prompt, { maxNewTokens: 10, greedy: true, stopTokens: [], onContextFull: 'stop' })).toHaveLength(3);
    const slid = await m.generate(prompt, { maxNewTokens: 40, temperature: 1, seed: 1, stopTokens: [] });
    expect(slid).toHaveLength(40);
    expect((await m.generate(randomIds(1, 40, 64, 4)[0], { maxNewTokens: 2, greedy: true, stopTokens: [] })).length).toBe(2);
    await expect(m.generate(randomIds(1, 40, 64, 4)[0], { onContextFull: 'stop' })).rejects.toThrow(/prompt has 40 tokens/);
    await expect(m.generate([64])).rejects.toThrow(/prompt token 0 is 64/);
    await expect(m.generate([1], { topP: 2 })).rejects.toThrow(ArgumentError);
    // Leaving a stream early frees the KV cache.
    for await (const t of m.stream([1, 2], { maxNewTokens: 10, stopTokens: [] })) if (t >= 0) break;
    expect(memory().numTensors).toBe(base);
    m.dispose();
  });
});

describe('GPT2.prepackWeights', () => {
  const config = { vocab_size: 300, n_positions: 32, n_embd: 64, n_layer: 2, n_head: 4, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 };
  // Conv1D weights (4 per block) and the tied LM head (wte read transposed: 300 rows padded to
  // the 8-column panels), each packed once: about the model's matrices again.
  const packBytes = 2 * (64 * 192 + 64 * 64 + 64 * 256 + 256 * 64) * 4 + 304 * 64 * 4;

  it('gives the logits of the unpacked model (to float rounding), follows a training step, and train() frees its copies', () => {
    // n_embd 64 and n_inner 256: the MLP's c_proj (k = 256) reads its prepacked transposed
    // copy through the dot-form tiles (40 rows of x), the other products read the weights'
    // panels or pack per call; sums taken in another order differ in the last bits only.
    const model = new GPT2(config, { seed: 3 });
    const x = ids(randomIds(2, 20, 300, 9));
    const y = ids(randomIds(2, 20, 300, 10));
    const logits = () => noGrad(() => tidy(() => Float32Array.from(model.forward(x).dataSync())));
    const close = (got: Float32Array, want: Float32Array, what: string) => {
      let worst = 0;
      let scale = 0;
      for (let i = 0; i < want.length; i++) {
        worst = Math.max(worst, Math.abs(got[i] - want[i]));
        scale = Math.max(scale, Math.abs(want[i]));
      }
      expect(worst, `${what}: max |diff| ${worst} (scale ${scale})`).toBeLessThanOrEqual(2e-6 * scale);
    };
    const plain = logits();
    const before = memory().numBytes;
    model.eval().prepackWeights();
    expect(memory().numBytes - before).toBeGreaterThanOrEqual(packBytes);
    expect(memory().numBytes - before).toBeLessThan(packBytes * 1.1);
    close(logits(), plain, 'prepacked');
    // An optimizer step writes the weights while the copies live: they are repacked before their next use.
    const opt = new AdamW(model.parameters(), { lr: 1e-2 });
    tidy(() => model.loss(x, y).backward());
    opt.step();
    model.zeroGrad();
    const packedAfter = logits();
    const withPacks = memory().numBytes;
    model.train();
    expect(withPacks - memory().numBytes).toBeGreaterThanOrEqual(packBytes);
    expect(withPacks - memory().numBytes).toBeLessThan(packBytes * 1.1);
    const unpackedAfter = logits();
    close(packedAfter, unpackedAfter, 'prepacked after a training step');
    let moved = 0;
    for (let i = 0; i < plain.length; i++) moved = Math.max(moved, Math.abs(unpackedAfter[i] - plain[i]));
    expect(moved).toBeGreaterThan(1e-3);
    x.dispose();
    y.dispose();
    model.dispose();
  });

  it('generate() in eval mode prepacks by itself (same greedy tokens), not in training mode; dispose frees the copies', async () => {
    const model = new GPT2(config, { seed: 4 });
    const prompt = randomIds(1, 17, 300, 11)[0];
    const baseline = memory().numBytes;
    const trained = await model.generate(prompt, { maxNewTokens: 6, greedy: true });
    expect(memory().numBytes).toBe(baseline);
    model.eval();
    const packedTokens = await model.generate(prompt, { maxNewTokens: 6, greedy: true });
    expect(memory().numBytes - baseline).toBeGreaterThanOrEqual(packBytes);
    expect(packedTokens).toEqual(trained);
    const streamed: number[] = [];
    for await (const id of model.stream(prompt, { maxNewTokens: 6, greedy: true })) streamed.push(id);
    expect(streamed).toEqual(trained);
    expect(memory().numBytes - baseline).toBeLessThan(packBytes * 1.1);
    const flat = model.flat.all.size * 4;
    model.dispose();
    expect(baseline - memory().numBytes).toBeGreaterThanOrEqual(flat);
  });

  it('an eval-mode forward prepacks by itself, once; a training-mode forward packs nothing', () => {
    const model = new GPT2(config, { seed: 6 });
    const x = ids(randomIds(3, 30, 300, 12)); // 90 rows in each product: past the dot-form tiles' 64
    const before = memory().numBytes;
    const run = () => noGrad(() => tidy(() => Float32Array.from(model.forward(x).dataSync())));
    const plain = run();
    expect(memory().numBytes).toBe(before);
    model.eval();
    const packed = run();
    const withPacks = memory().numBytes;
    expect(withPacks - before).toBeGreaterThanOrEqual(packBytes);
    run();
    expect(memory().numBytes).toBe(withPacks);
    let worst = 0;
    for (let i = 0; i < plain.length; i++) worst = Math.max(worst, Math.abs(packed[i] - plain[i]));
    expect(worst).toBeLessThanOrEqual(1e-5);
    model.train();
    expect(memory().numBytes).toBe(before);
    x.dispose();
    model.dispose();
  });

  it('a quantized model packs nothing of its f32 weights (its products read the quantized copies)', async () => {
    const model = new GPT2(config, { seed: 5 }).eval();
    await quantize(model, { bits: 8 });
    const before = memory().numBytes;
    model.prepackWeights();
    expect(memory().numBytes).toBe(before);
    await model.generate([1, 2, 3], { maxNewTokens: 2, greedy: true });
    expect(memory().numBytes).toBe(before);
    model.dispose();
  });
});
