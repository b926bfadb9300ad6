/**
 * The whole GPT-2 network against an independent implementation, on every machine: a tiny
 * random-init GPT-2 written by Hugging Face `transformers` (`save_pretrained` layout, a
 * byte-level BPE tokenizer.json), with the token ids, float32 logits and greedy tokens that
 * PyTorch computed for fixed prompts (test/fixtures/hf-tiny-gpt2, made by
 * scripts/make_hf_fixture.py). No Python is needed here; the live PyTorch check
 * (hf-torch-check.test.ts) stays as an extra where Python is present.
 *
 * Tolerance: logits within 1e-5 of PyTorch's (|logits| reach 1.4 here; the wasm backend's
 * largest difference is 4.2e-7, float32 sums in another order), greedy tokens identical (the
 * script refuses a fixture whose greedy steps have a top-2 margin under 2e-3).
 */
import { fileURLToPath } from 'node:url';
import { getBackend, noGrad, ready, setBackend, tensor } from '@tessera/tensor';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT2, readSafetensorsFile, type GPT2Tokenizer } from '../src/index.js';

const DIR = fileURLToPath(new URL('./fixtures/hf-tiny-gpt2', import.meta.url));
const TOLERANCE = 1e-5;

interface Reference {
  newTokens: number;
  prompts: { text: string; ids: number[]; greedy: number[]; decoded: string }[];
}

let reference: Reference;
let logits: Map<string, { shape: number[]; data: Float32Array | Int32Array }>;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function refRows(name: string, from: number, count: number): Float32Array {
  const t = logits.get(name)!;
  const v = t.shape[1];
  return (t.data as Float32Array).subarray(from * v, (from + count) * v);
}

beforeAll(async () => {
  await ready();
  const { readFile } = await import('node:fs/promises');
  reference = JSON.parse(await readFile(`${DIR}/reference.json`, 'utf8')) as Reference;
  logits = (await readSafetensorsFile(`${DIR}/reference.safetensors`)).tensors;
});

for (const backendName of ['wasm', 'reference'] as const) {
  describe(`GPT-2 written by transformers, on ${backendName}`, () => {
    let model: GPT2;
    let previous: ReturnType<typeof getBackend>;
    beforeAll(async () => {
      previous = getBackend();
      await setBackend(backendName);
      model = (await GPT2.fromPretrained(DIR)).eval();
    });
    afterAll(async () => {
      model.dispose();
      await setBackend(previous);
    });

    it('loads the tokenizer.json and encodes / decodes every prompt as GPT2TokenizerFast did', () => {
      const tok = model.tokenizer as GPT2Tokenizer;
      expect(tok).not.toBeNull();
      for (const p of reference.prompts) {
        expect(tok.encode(p.text), p.text).toEqual(p.ids);
        expect(tok.decode(p.ids)).toBe(p.decoded);
      }
    });

    it(`computes PyTorch's logits for every prompt (max |diff| <= ${TOLERANCE})`, () => {
      reference.prompts.forEach((p, i) => {
        const out = noGrad(() => model.forward(tensor([p.ids], undefined, 'i32')));
        expect(out.shape).toEqual([1, p.ids.length, logits.get(`logits.${i}`)!.shape[1]]);
        expect(maxAbsDiff(out.dataSync(), refRows(`logits.${i}`, 0, p.ids.length)), p.text).toBeLessThanOrEqual(TOLERANCE);
        out.dispose();
      });
    });

    it(`decodes with the KV cache step by step to PyTorch's logits (max |diff| <= ${TOLERANCE})`, () => {
      reference.prompts.forEach((p, i) => {
        const cache = model.createKVCache();
        try {
          noGrad(() => {
            const first = model.forwardCached(p.ids, cache);
            expect(maxAbsDiff(first.dataSync(), refRows(`decodeLogits.${i}`, 0, 1)), `${p.text}: prompt`).toBeLessThanOrEqual(TOLERANCE);
            first.dispose();
            for (let j = 0; j < reference.newTokens - 1; j++) {
              const next = model.forwardCached([p.greedy[j]], cache);
              expect(maxAbsDiff(next.dataSync(), refRows(`decodeLogits.${i}`, j + 1, 1)), `${p.text}: step ${j + 1}`).toBeLessThanOrEqual(TOLERANCE);
              next.dispose();
            }
          });
        } finally {
          cache.dispose();
        }
      });
    });

    it("generates transformers' greedy tokens for every prompt", async () => {
      for (const p of reference.prompts) {
        const ids = await model.generate(p.ids, { maxNewTokens: reference.newTokens, greedy: true, stopTokens: [] });
        expect(ids, p.text).toEqual(p.greedy);
      }
    });
  });
}
