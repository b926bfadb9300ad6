/**
 * Continuous batching: `decodeBatch` (B sequences, each at its own cache length, in one forward)
 * against each sequence decoded alone; `BatchedDecoder` against `model.generate` per sequence
 * with sequences joining and leaving mid-batch; caches freed; bad input.
 */
import { ArgumentError, ShapeError } from '@tessera/core';
import { memory, noGrad, ready, type Tensor } from '@tessera/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchedDecoder, GPT2, type DecodeEvent, type GenerateOptions, type KVCache } from '../src/index.js';
import { SMALL, randomIds, values } from './helpers.js';

let m: GPT2;
beforeAll(async () => {
  await ready();
  m = new GPT2(SMALL, { seed: 7 });
  m.eval();
});
afterAll(() => m.dispose());

/** Largest |a - b|. */
function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

const argmax = (row: number[]): number => row.indexOf(Math.max(...row));

/** The values of a tensor made by `f` (under noGrad), which is then freed. */
function read(f: () => Tensor): number[] {
  const t = noGrad(f);
  try {
    return values(t);
  } finally {
    t.dispose();
  }
}

describe('GPT2.decodeBatch', () => {
  it('B sequences at different lengths: logits within 1e-5 of each decoded alone, same greedy tokens', () => {
    const V = SMALL.vocab_size!;
    // Prompt lengths that differ, one of length 1 and one near the context's end.
    const prompts = [randomIds(1, 1, V, 1)[0]!, randomIds(1, 5, V, 2)[0]!, randomIds(1, 12, V, 3)[0]!, randomIds(1, 26, V, 4)[0]!];
    const B = prompts.length;
    const batched: KVCache[] = prompts.map(() => m.createKVCache());
    const alone: KVCache[] = prompts.map(() => m.createKVCache());
    let next = prompts.map((p, b) => {
      const l = read(() => m.forwardCached(p, batched[b]!));
      noGrad(() => m.forwardCached(p, alone[b]!)).dispose();
      return argmax(l);
    });
    const before = memory().numTensors;
    // 5 steps: the longest sequence reaches 31 of the 32 positions.
    for (let step = 0; step < 5; step++) {
      const logits = noGrad(() => m.decodeBatch(next, batched));
      expect(logits.shape).toEqual([B, V]);
      const rows = values(logits);
      logits.dispose();
      next = next.map((t, b) => {
        const one = read(() => m.forwardCached([t], alone[b]!));
        const row = rows.slice(b * V, (b + 1) * V);
        expect(maxDiff(row, one), `step ${step}, row ${b}`).toBeLessThanOrEqual(1e-5);
        expect(argmax(row)).toBe(argmax(one));
        return argmax(one);
      });
      batched.forEach((c, b) => expect(c.length).toBe(alone[b]!.length));
    }
    expect(memory().numTensors).toBe(before);
    for (const c of [...batched, ...alone]) c.dispose();
  });

  it('refuses bad steps with typed errors naming the problem', () => {
    const a = m.createKVCache();
    const b = m.createKVCache();
    try {
      expect(() => m.decodeBatch([], [])).toThrow(ArgumentError);
      expect(() => m.decodeBatch([1, 2], [a])).toThrow(/2 tokens for 1 caches/);
      expect(() => m.decodeBatch([1, 64], [a, b])).toThrow(/tokens\[1\] is 64, not an id in \[0, 64\)/);
      expect(() => m.decodeBatch([1, 2], [a, a])).toThrow(/caches\[0\] and caches\[1\] are the same cache/);
      b.length = b.capacity;
      expect(() => m.decodeBatch([1, 2], [a, b])).toThrow(ShapeError);
      expect(() => m.decodeBatch([1, 2], [a, b])).toThrow(/caches\[1\] is full \(32 of n_positions = 32/);
      const other = new GPT2({ ...SMALL, n_head: 4 }, { seed: 1 });
      const foreign = other.createKVCache();
      expect(() => m.decodeBatch([1], [foreign])).toThrow(/caches\[0\] was made for another model shape/);
      foreign.dispose();
      other.dispose();
      // Nothing advanced.
      expect(a.length).toBe(0);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

/** Runs the decoder until it is empty, collecting each sequence's tokens by id. */
async function drain(decoder: BatchedDecoder, out: Map<number, number[]>, onStep?: (n: number) => Promise<void> | void): Promise<void> {
  for (let n = 0; decoder.size > 0; n++) {
    record(out, await decoder.step());
    await onStep?.(n);
  }
}

function record(out: Map<number, number[]>, ...events: (DecodeEvent | DecodeEvent[])[]): void {
  for (const e of events.flat()) {
    const list = out.get(e.sequence.id) ?? [];
    if (e.token !== null) list.push(e.token);
    out.set(e.sequence.id, list);
  }
}

describe('BatchedDecoder', () => {
  const V = SMALL.vocab_size!;
  const jobs: Array<[number[], GenerateOptions]> = [
    [randomIds(1, 3, V, 10)[0]!, { maxNewTokens: 12, greedy: true, stopTokens: [] }],
    [randomIds(1, 9, V, 11)[0]!, { maxNewTokens: 20, temperature: 0.9, topP: 0.9, seed: 5, stopTokens: [] }],
    [randomIds(1, 1, V, 12)[0]!, { maxNewTokens: 7, temperature: 1.3, topK: 10, seed: 9 }],
    // Reaches the context's end: slides (recomputes its cache from the last 16 tokens) mid-batch.
    [randomIds(1, 20, V, 13)[0]!, { maxNewTokens: 25, temperature: 1, seed: 2, stopTokens: [] }],
    [randomIds(1, 20, V, 14)[0]!, { maxNewTokens: 25, greedy: true, stopTokens: [], onContextFull: 'stop' }],
  ];

  it('each sequence gets the tokens model.generate gives it alone, with its own sampling settings', async () => {
    const expected = await Promise.all(jobs.map(([p, o]) => m.generate(p, o)));
    const decoder = new BatchedDecoder(m);
    const out = new Map<number, number[]>();
    const seqs = [];
    for (const [p, o] of jobs) {
      const e = await decoder.join(p, o);
      record(out, e);
      seqs.push(e.sequence);
    }
    expect(decoder.size).toBe(jobs.length);
    await drain(decoder, out);
    expect(seqs.map((s) => out.get(s.id))).toEqual(expected);
    expect(seqs.map((s) => s.tokens)).toEqual(expected);
    expect(seqs.map((s) => s.finish)).toEqual(['length', 'length', expected[2]!.length === 7 ? 'length' : 'stop', 'length', 'length']);
    // The 'stop' context mode ended with the context full: the first token from the prompt's 20
    // positions, then one per position left (32 - 20).
    expect(expected[4]).toHaveLength(13);
  });

  it('sequences join and leave mid-batch; the others are unaffected', async () => {
    const expected = await Promise.all(jobs.map(([p, o]) => m.generate(p, o)));
    const decoder = new BatchedDecoder(m);
    const out = new Map<number, number[]>();
    const first = await decoder.join(...jobs[0]!);
    const second = await decoder.join(...jobs[1]!);
    record(out, first, second);
    const late: number[] = [];
    let dropped = -1;
    await drain(decoder, out, async (n) => {
      // Later sequences join after steps 1, 2 and 4; the greedy one leaves after step 5.
      if (n === 1 || n === 2 || n === 4) {
        const e = await decoder.join(...jobs[late.length + 2]!);
        record(out, e);
        late.push(e.sequence.id);
      }
      if (n === 5) {
        decoder.leave(first.sequence);
        dropped = out.get(first.sequence.id)!.length;
        expect(first.sequence.finish).toBe('left');
        expect(first.sequence.cache).toBeNull();
      }
    });
    expect(out.get(first.sequence.id)).toEqual(expected[0]!.slice(0, dropped));
    expect(dropped).toBeLessThan(expected[0]!.length);
    expect(out.get(second.sequence.id)).toEqual(expected[1]);
    expect(late.map((id) => out.get(id))).toEqual(expected.slice(2));
  });

  it('a sequence that leaves while a step reads its logits produces nothing more and is freed', async () => {
    const decoder = new BatchedDecoder(m);
    const a = await decoder.join([1, 2, 3], { maxNewTokens: 10, greedy: true, stopTokens: [] });
    const b = await decoder.join([4, 5], { maxNewTokens: 10, greedy: true, stopTokens: [] });
    const pending = decoder.step();
    decoder.leave(a.sequence);
    const events = await pending;
    expect(events.map((e) => e.sequence.id)).toEqual([b.sequence.id]);
    expect(a.sequence.cache).toBeNull();
    expect(decoder.sequences).toEqual([b.sequence]);
    await expect(Promise.all([decoder.step(), decoder.step()])).rejects.toThrow(/a step is already running/);
    decoder.dispose();
    expect(decoder.size).toBe(0);
    expect(b.sequence.cache).toBeNull();
  });

  it('memory() is flat after many join / leave cycles', async () => {
    const decoder = new BatchedDecoder(m);
    const cycle = async (i: number) => {
      const a = await decoder.join([i % V], { maxNewTokens: 6, seed: i, stopTokens: [] });
      const b = await decoder.join([(i + 1) % V, 3], { maxNewTokens: 3, greedy: true, stopTokens: [] });
      await decoder.step();
      decoder.leave(a.sequence);
      await drain(decoder, new Map());
      // A stop token on the first sample: ends in join, cache freed there.
      const first = (await decoder.join([i % V], { maxNewTokens: 2, greedy: true, stopTokens: [] })).token!;
      const c = await decoder.join([i % V], { maxNewTokens: 2, greedy: true, stopTokens: [first] });
      expect(c).toMatchObject({ token: null, done: true });
      expect(c.sequence.finish).toBe('stop');
      decoder.dispose();
      expect(b.sequence.done).toBe(true);
    };
    await cycle(0);
    const before = memory();
    for (let i = 1; i <= 50; i++) await cycle(i);
    const after = memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
  });

  it('checks options like generate, naming the decoder', async () => {
    const decoder = new BatchedDecoder(m);
    await expect(decoder.join([64])).rejects.toThrow(/BatchedDecoder.join: prompt token 0 is 64/);
    await expect(decoder.join([1], { topP: 2 })).rejects.toThrow(ArgumentError);
    expect(await decoder.join([1], { maxNewTokens: 0 })).toMatchObject({ token: null, done: true });
    expect(decoder.size).toBe(0);
    expect(await decoder.step()).toEqual([]);
  });
});
