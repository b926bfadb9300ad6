/**
 * ONNX export of quantized models: the int8 / int4 weights stay quantized in the file
 * (MatMulNBits + GatherBlockQuantized by default, DequantizeLinear with 'qdq'), and
 * onnxruntime-node and onnxruntime-web (wasm, in Node) compute Tessera's quantized
 * model's logits for a prompt and 8 cached decode steps, with the same greedy tokens.
 *
 * Tolerance: 1e-4 of the largest |logit| of the reference. Both sides multiply f32
 * activations by the same dequantized values (q * scale, exact in f32); what differs is
 * the summation order and ORT's blocked accumulation, i.e. f32 rounding (observed ~1e-6
 * relative on these models).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { noGrad, ready, tensor } from '@tessera/tensor';
import { ModelProtoSchema } from 'onnx-buf';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT2, OnnxExportError, TransformerEncoderClassifier, argmaxOf, exportOnnxBytes, quantize, type OnnxQuantFormat } from '../src/index.js';
import { SMALL } from './helpers.js';
import { emptyPast, i64, maxDiff, presentAsPast, type Ort } from './onnx-helpers.js';

const REL_TOL = 1e-4;
// n_embd 64 so that groups of 64 divide every input dimension (64 and 4 * 64).
const CONFIG = { ...SMALL, n_embd: 64, n_head: 2 };
const { n_layer: L = 2, n_head: H = 2, n_embd: C = 64, vocab_size: V = 64 } = CONFIG;
const CACHE = { layers: L, heads: H, headDim: C / H };
const PROMPT = [3, 17, 42, 5, 29];
const DECODE_STEPS = 8;

const CASES = [
  { bits: 8, groupSize: 32, format: 'matmulnbits' },
  { bits: 4, groupSize: 32, format: 'matmulnbits' },
  { bits: 8, groupSize: 64, format: 'matmulnbits' },
  { bits: 4, groupSize: 64, format: 'matmulnbits' },
  { bits: 8, groupSize: 32, format: 'qdq' },
  { bits: 4, groupSize: 64, format: 'qdq' },
] as const;
type Case = (typeof CASES)[number];
const caseName = (c: Case): string => `int${c.bits} g${c.groupSize} ${c.format}`;

const models = new Map<string, GPT2>();
const files = new Map<string, Uint8Array>();
let f32Bytes = 0;

beforeAll(async () => {
  await ready();
  ortWeb.env.wasm.numThreads = 1;
  const f32 = new GPT2(CONFIG, { seed: 11 }).eval();
  f32Bytes = exportOnnxBytes(f32).length;
  f32.dispose();
  for (const c of CASES) {
    const key = `int${c.bits} g${c.groupSize}`;
    if (!models.has(key)) models.set(key, await quantize(new GPT2(CONFIG, { seed: 11 }).eval(), { bits: c.bits, groupSize: c.groupSize }));
    const model = models.get(key)!;
    const options = c.format === 'matmulnbits' ? {} : { quantized: c.format as OnnxQuantFormat };
    files.set(caseName(c), exportOnnxBytes(model, options));
    files.set(`${caseName(c)} kv`, exportOnnxBytes(model, { ...options, kvCache: true }));
  }
});

afterAll(() => {
  for (const m of models.values()) m.dispose();
});

const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

const runtimes: [string, Ort][] = [
  ['onnxruntime-node', ortNode],
  ['onnxruntime-web (wasm)', ortWeb as unknown as Ort],
];

describe.each(runtimes)('%s runs quantized GPT-2 exports', (_name, ort) => {
  for (const c of CASES) {
    const model = (): GPT2 => models.get(`int${c.bits} g${c.groupSize}`)!;

    it(`${caseName(c)}, no cache: logits within ${REL_TOL} x max|logit| of Tessera's quantized forward`, async () => {
      const s = await ort.InferenceSession.create(files.get(caseName(c))!);
      const out = await s.run({ input_ids: i64(ort, [PROMPT]), attention_mask: i64(ort, [PROMPT.map(() => 1)]), position_ids: i64(ort, [PROMPT.map((_, i) => i)]) });
      const expected = noGrad(() => {
        const t = model().forward(tensor([PROMPT], undefined, 'i32'));
        const v = t.dataSync() as Float32Array;
        t.dispose();
        return v;
      });
      expect(out.logits.dims).toEqual([1, PROMPT.length, V]);
      expect(maxDiff(out.logits.data as Float32Array, expected)).toBeLessThanOrEqual(REL_TOL * maxAbs(expected));
    });

    it(`${caseName(c)}, KV cache: prompt and ${DECODE_STEPS} decode steps within ${REL_TOL} x max|logit| of forwardCached, greedy tokens equal generate()'s`, async () => {
      const s = await ort.InferenceSession.create(files.get(`${caseName(c)} kv`)!);
      const lm = model();
      const expectedTokens = await lm.generate(PROMPT, { greedy: true, maxNewTokens: DECODE_STEPS, stopTokens: [] });
      const cache = lm.createKVCache();
      try {
        const reference = (ids: number[]): Float32Array =>
          noGrad(() => {
            const t = lm.forwardCached(ids, cache, { allLogits: true });
            const v = t.dataSync() as Float32Array;
            t.dispose();
            return v;
          });
        let out = await s.run({ input_ids: i64(ort, [PROMPT]), attention_mask: i64(ort, [PROMPT.map(() => 1)]), position_ids: i64(ort, [PROMPT.map((_, i) => i)]), ...emptyPast(ort, 1, CACHE) });
        let expected = reference(PROMPT);
        expect(maxDiff(out.logits.data as Float32Array, expected)).toBeLessThanOrEqual(REL_TOL * maxAbs(expected));
        const tokens: number[] = [];
        let length = PROMPT.length;
        for (let step = 0; step < DECODE_STEPS; step++) {
          const last = out.logits.data as Float32Array;
          const next = argmaxOf(last.subarray(last.length - V));
          tokens.push(next);
          length++;
          out = await s.run({ input_ids: i64(ort, [[next]]), attention_mask: i64(ort, [Array.from({ length }, () => 1)]), position_ids: i64(ort, [[length - 1]]), ...presentAsPast(out, L) });
          expected = reference([next]);
          expect(maxDiff(out.logits.data as Float32Array, expected), `step ${step}`).toBeLessThanOrEqual(REL_TOL * maxAbs(expected));
        }
        expect(tokens).toEqual(expectedTokens);
      } finally {
        cache.dispose();
      }
    });
  }
});
