/**
 * Configs that are too large, or that the weights contradict, are refused up front (reliability
 * issue #19, class 6): in well under a second, before any module is built, with a ConfigError
 * naming the config key, the estimate and the backend's limit (not an allocator message), and
 * with memory() unchanged.
 */
import { writeFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { matmul, memory, ready, zeros } from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, GPT2, TransformerEncoder, TransformerEncoderClassifier, checkParameterBudget } from '../src/index.js';
import { SMALL, useTempDir } from './helpers.js';

const tmp = useTempDir('tessera-config-limits-');
beforeAll(async () => {
  await ready();
});

/** Runs `fn`, expecting a ConfigError matching `pattern` within `ms`, memory() unchanged. */
async function refusedFast(fn: () => unknown, pattern: RegExp, ms = 1000): Promise<void> {
  const before = memory();
  const t0 = performance.now();
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  const took = performance.now() - t0;
  expect(error).toBeInstanceOf(ConfigError);
  expect((error as Error).message).toMatch(pattern);
  expect(took, `refused in ${took.toFixed(0)} ms`).toBeLessThan(ms);
  expect(memory()).toEqual(before);
}

describe('deep and huge configs', () => {
  it('fromPretrained: 30,000 and 100,000 layers over 2-layer weights are refused before building, naming n_layer', async () => {
    const dir = join(tmp(), 'deep');
    const m = new GPT2(SMALL, { seed: 1 });
    await m.savePretrained(dir);
    m.dispose();
    const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    for (const layers of [30_000, 100_000]) {
      // Small layers: the whole model would fit the backend, so only the weights contradict it.
      await writeFile(join(dir, 'config.json'), JSON.stringify({ ...cfg, n_layer: layers, n_embd: 4, n_head: 1 }));
      await refusedFast(() => GPT2.fromPretrained(dir), new RegExp(`config\\.json n_layer = ${layers} but model\\.safetensors holds 2 layer\\(s\\)`));
    }
  });

  it('encoder classifier and TransformerEncoder: 2^40 layers or widths are refused by the estimate, naming the key', async () => {
    const base = { vocabSize: 16, numLabels: 2, maxLength: 8, dModel: 8, numHeads: 2, numLayers: 1 };
    await refusedFast(() => new TransformerEncoderClassifier({ ...base, numLayers: 2 ** 40 }), /TransformerEncoderClassifier: numLayers = 1099511627776 makes the model too large: \d+ parameters need \d+ bytes as f32, past the backend's \d+-byte limit/);
    await refusedFast(() => new TransformerEncoderClassifier({ ...base, dFF: 2 ** 30 }), /dFF = 1073741824 makes the model too large/);
    await refusedFast(() => new TransformerEncoderClassifier({ ...base, vocabSize: 2 ** 30 }), /vocabSize = 1073741824 makes the model too large/);
    await refusedFast(() => new TransformerEncoder(2 ** 40, { dModel: 8, numHeads: 2 }), /TransformerEncoder: numLayers = 1099511627776 makes the model too large/);
  });

  it('the encoder estimate is the exact parameter count', () => {
    const clf = new TransformerEncoderClassifier({ vocabSize: 16, numLabels: 3, maxLength: 8, dModel: 8, numHeads: 2, numLayers: 2, dFF: 12, seed: 0 });
    const n = clf.numParameters();
    clf.dispose();
    // The budget check refuses exactly past n parameters of 4 bytes.
    const count = () => n;
    expect(() => checkParameterBudget('x', { a: 1 }, count, { a: 1 }, 4 * n)).not.toThrow();
    expect(() => checkParameterBudget('x', { a: 1 }, count, { a: 1 }, 4 * n - 1)).toThrow(ConfigError);
    const estimate = (16 + 8) * 8 + 2 * (4 * 8 * 8 + 4 * 8 + 2 * 8 * 12 + 12 + 8 + 4 * 8) + 2 * 8 + (8 + 1) * 3;
    expect(n).toBe(estimate);
  });

  it('a constructor refusing a later module leaks nothing (numHeads not dividing dModel)', () => {
    const before = memory();
    expect(() => new TransformerEncoderClassifier({ vocabSize: 16, numLabels: 2, maxLength: 8, dModel: 8, numHeads: 3, numLayers: 1 })).toThrow(/dModel 8 must be divisible by numHeads 3/);
    expect(memory()).toEqual(before);
  });

  it('values are printed faithfully: NaN and Infinity, not null', () => {
    expect(() => new GPT2({ ...SMALL, n_embd: Number.NaN })).toThrow('GPT2Config: n_embd must be a positive integer, got NaN');
    expect(() => new GPT2({ ...SMALL, resid_pdrop: Number.POSITIVE_INFINITY })).toThrow('resid_pdrop must be a probability in [0, 1), got Infinity');
    expect(() => new GPT2({ ...SMALL, layer_norm_epsilon: Number.NaN })).toThrow('layer_norm_epsilon must be a finite number > 0, got NaN');
  });

  it('a batched matmul mismatch names both whole shapes', () => {
    const a = zeros([2, 3, 4, 5]);
    const b = zeros([3, 2, 5, 7]);
    expect(() => matmul(a, b)).toThrow('matmul: shapes [2, 3, 4, 5] and [3, 2, 5, 7] do not fit: batch shapes [2, 3] and [3, 2] cannot be broadcast together');
    a.dispose();
    b.dispose();
  });
});
