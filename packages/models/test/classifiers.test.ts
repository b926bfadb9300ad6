/**
 * Classifiers: GPT2ForSequenceClassification (last-real-token pooling like
 * HF) and TransformerEncoderClassifier (masked mean pooling) learn a toy
 * separable task with padding.
 */
import { AdamW } from '@tessera/optim';
import { argmax, noGrad, ready, tensor } from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';
import { GPT2ForSequenceClassification, TransformerEncoderClassifier, lastTokenRows } from '../src/index.js';
import { SMALL, ids, rng, values } from './helpers.js';

beforeAll(async () => {
  await ready();
});

/**
 * Sequences of 3..8 tokens, right-padded with 0 to 8: class 1 draws its
 * tokens from [32, 64), class 0 from [1, 32).
 */
function toyData(n: number, seed: number): { x: number[][]; mask: number[][]; y: number[] } {
  const r = rng(seed);
  const x: number[][] = [];
  const mask: number[][] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const label = i % 2;
    const len = 3 + Math.floor(r() * 6);
    const row = Array.from({ length: 8 }, (_, j) => (j < len ? (label ? 32 : 1) + Math.floor(r() * 31) : 0));
    x.push(row);
    mask.push(row.map((_, j) => (j < len ? 1 : 0)));
    y.push(label);
  }
  return { x, mask, y };
}

function accuracy(logits: number[], y: number[], L: number): number {
  let ok = 0;
  y.forEach((label, i) => {
    const row = logits.slice(i * L, (i + 1) * L);
    if (row.indexOf(Math.max(...row)) === label) ok++;
  });
  return ok / y.length;
}

describe('GPT2ForSequenceClassification', () => {
  it('pools the last real token: by mask, else by pad_token_id, else the last position', () => {
    const x = ids([[5, 6, 0, 0], [0, 0, 0, 0], [1, 2, 3, 4]]);
    expect(values(lastTokenRows(x, null, 0))).toEqual([1, 4, 11]); // all-padding rows use position 0, as HF
    expect(values(lastTokenRows(x, tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 0, 0]]), 0))).toEqual([2, 4, 9]);
    expect(values(lastTokenRows(x, null, null))).toEqual([3, 7, 11]);
  });

  it('logits depend only on the real tokens of right-padded input, and training separates a toy task', () => {
    const clf = new GPT2ForSequenceClassification({ ...SMALL, pad_token_id: 0 }, { numLabels: 2, seed: 1 });
    expect(clf.namedParameters().at(-1)![0]).toBe('score.weight');
    expect(clf.score.weight.shape).toEqual([2, 32]);
    expect(clf.score.bias).toBeNull();
    // Same real tokens, different padding length: same logits (pooling skips the padding; causality hides it).
    const a = noGrad(() => values(clf.forward(ids([[9, 8, 7, 0, 0, 0]]))));
    const b = noGrad(() => values(clf.forward(ids([[9, 8, 7, 0]]))));
    expect(b).toEqual(a);

    const { x, mask, y } = toyData(32, 1);
    const X = ids(x);
    const M = tensor(mask);
    const opt = new AdamW(clf.flat.groups(0.01), { lr: 3e-3 });
    for (let step = 0; step < 40; step++) {
      const l = clf.loss(X, y, M);
      l.backward();
      l.dispose();
      opt.step();
      clf.zeroGrad();
    }
    const test = toyData(32, 2);
    const logits = noGrad(() => values(clf.forward(ids(test.x), tensor(test.mask))));
    expect(accuracy(logits, test.y, 2)).toBeGreaterThanOrEqual(0.95);
    opt.dispose();
    clf.dispose();
  });

  it('numLabels 1 is regression with an MSE loss, as in Hugging Face', () => {
    const reg = new GPT2ForSequenceClassification(SMALL, { numLabels: 1, seed: 2 });
    const x = ids([[1, 2, 3], [4, 5, 6]]);
    const out = values(reg.forward(x));
    const want = ((out[0] - 0.5) ** 2 + (out[1] + 1) ** 2) / 2;
    expect(reg.loss(x, [0.5, -1]).itemSync()).toBeCloseTo(want, 5);
    expect(() => reg.loss(x, [1])).toThrow(/labels \[1\] must be \[batch\] = \[2\]/);
    reg.dispose();
  });
});

describe('TransformerEncoderClassifier', () => {
  it('ignores padding through its mask and learns a toy task', () => {
    const clf = new TransformerEncoderClassifier({ vocabSize: 64, numLabels: 2, maxLength: 8, dModel: 32, numHeads: 4, numLayers: 2, dropout: 0.1, padTokenId: 0, seed: 3 });
    clf.eval();
    const a = values(clf.forward(ids([[9, 8, 7, 0, 0, 0]])));
    const b = values(clf.forward(ids([[9, 8, 7, 0]])));
    for (let i = 0; i < 2; i++) expect(b[i]).toBeCloseTo(a[i], 5);
    clf.train();

    const { x, y } = toyData(32, 3);
    const X = ids(x);
    const opt = new AdamW(clf.parameters(), { lr: 3e-3 });
    for (let step = 0; step < 40; step++) {
      const l = clf.loss(X, tensor(y, undefined, 'i32'));
      l.backward();
      l.dispose();
      opt.step();
      opt.zeroGrad();
    }
    clf.eval();
    const test = toyData(32, 4);
    const pred = values(argmax(clf.forward(ids(test.x)), -1));
    expect(pred.filter((p, i) => p === test.y[i]).length / 32).toBeGreaterThanOrEqual(0.95);
    opt.dispose();
    clf.dispose();
  });
});

describe('TransformerEncoderClassifier.savePretrained / fromPretrained', () => {
  it('round-trips options and weights bit for bit, and rejects a directory that does not fit', async () => {
    const { mkdtemp, readFile, rm, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const root = await mkdtemp(join(tmpdir(), 'tessera-encoder-'));
    try {
      const clf = new TransformerEncoderClassifier({ vocabSize: 50, numLabels: 3, maxLength: 12, dModel: 16, numHeads: 2, numLayers: 1, padTokenId: 0, seed: 4 }).eval();
      const x = ids([[5, 9, 3, 0, 0], [7, 1, 2, 8, 4]]);
      const before = noGrad(() => values(clf.forward(x)));
      await clf.savePretrained(join(root, 'clf'));
      const config = JSON.parse(await readFile(join(root, 'clf', 'config.json'), 'utf8'));
      expect(config).toMatchObject({ model_type: 'tessera-encoder-classifier', vocabSize: 50, numLabels: 3, maxLength: 12, dModel: 16, numHeads: 2, numLayers: 1, dFF: 64, dropout: 0.1, padTokenId: 0 });
      const again = (await TransformerEncoderClassifier.fromPretrained(join(root, 'clf'))).eval();
      expect(noGrad(() => values(again.forward(x)))).toEqual(before);
      expect(again.padTokenId).toBe(0);

      await writeFile(join(root, 'clf', 'config.json'), JSON.stringify({ ...config, numHeads: 0 }));
      await expect(TransformerEncoderClassifier.fromPretrained(join(root, 'clf'))).rejects.toThrow(/numHeads must be a positive integer, got 0/);
      await writeFile(join(root, 'clf', 'config.json'), JSON.stringify({ ...config, dModel: 32, numHeads: 2 }));
      await expect(TransformerEncoderClassifier.fromPretrained(join(root, 'clf'))).rejects.toThrow(/shape mismatch: "encoder\.layers\.0\.attn\.out\.bias" is \[16\] but the parameter is \[32\]/);
      await writeFile(join(root, 'clf', 'config.json'), JSON.stringify({ ...config, model_type: 'gpt2' }));
      await expect(TransformerEncoderClassifier.fromPretrained(join(root, 'clf'))).rejects.toThrow(/model_type "gpt2", expected "tessera-encoder-classifier"/);
      [clf, again].forEach((m) => m.dispose());
      x.dispose();
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
