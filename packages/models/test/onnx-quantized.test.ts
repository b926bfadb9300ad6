/**
 * ONNX export of quantized models: the int8 / int4 weights stay quantized in the file
 * (MatMulNBits + GatherBlockQuantized by default, DequantizeLinear with 'qdq'), and
 * onnxruntime-node and onnxruntime-web (wasm, in Node) compute Tessera's quantized
 * model's logits for a prompt and 8 cached decode steps, with the same greedy tokens.
 *
 * onnxruntime fuses a QDQ export's DequantizeLinear + MatMul into MatMulNBits with
 * accuracy_level 4 (activations quantized to int8 per block: ~3e-3 of the max logit off on
 * these models) unless the session sets `session.qdq_matmulnbits_accuracy_level` to 0, as
 * these tests do; the 'matmulnbits' export writes no accuracy_level (0: f32 activations),
 * or 4 for a model quantized with activations 'int8'.
 *
 * Tolerance: 1e-4 of the largest |logit| of the reference. Both sides multiply f32
 * activations by the same dequantized values (q * scale, exact in f32); what differs is
 * the summation order and ORT's blocked accumulation, i.e. f32 rounding (observed ~1e-6
 * relative on these models).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { noGrad, ready, tensor, tidy } from '@tessera/tensor';
import { ModelProtoSchema } from 'onnx-buf';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GPT2,
  GPT2ForSequenceClassification,
  OnnxExportError,
  TransformerEncoderClassifier,
  exportOnnx,
  exportOnnxBytes,
  quantize,
  quantizedBytes,
  quantizedWeights,
  type OnnxExportOptions,
  type OnnxQuantFormat,
} from '../src/index.js';
import { DataType } from '../src/export/onnx-proto.js';
import { SMALL } from './helpers.js';
import { PYTHON, checkCachedDecode, expectOnnxCheckerAccepts, i64, maxDiff, onnxVersion, type Ort } from './onnx-helpers.js';

const REL_TOL = 1e-4;
// n_embd 64 so that groups of 64 divide every input dimension (64 and 4 * 64).
const CONFIG = { ...SMALL, n_embd: 64, n_head: 2 };
const { vocab_size: V = 64 } = CONFIG;
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
const classifiers = new Map<string, TransformerEncoderClassifier | GPT2ForSequenceClassification>();

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
  classifiers.set(
    'encoder int4',
    await quantize(new TransformerEncoderClassifier({ vocabSize: V, numLabels: 2, maxLength: 16, dModel: 32, numHeads: 4, numLayers: 2, dropout: 0, padTokenId: 0, seed: 9 }).eval(), {
      bits: 4,
      groupSize: 32,
    }),
  );
  classifiers.set('gpt2-cls int8 g64', await quantize(new GPT2ForSequenceClassification({ ...CONFIG, pad_token_id: 0 }, { numLabels: 2, seed: 8 }).eval(), { bits: 8, groupSize: 64 }));
  for (const [name, model] of classifiers) files.set(name, exportOnnxBytes(model));
});

afterAll(() => {
  for (const m of models.values()) m.dispose();
  for (const m of classifiers.values()) m.dispose();
});

/** Session options of a case: f32 activations in the fused MatMulNBits of a QDQ export (see the file comment). */
const sessionOptions = (c: Case): ortNode.InferenceSession.SessionOptions => (c.format === 'qdq' ? { extra: { session: { qdq_matmulnbits_accuracy_level: '0' } } } : {});

/** Tessera's logits of PROMPT. */
function logitsOf(model: GPT2): Float32Array {
  return tidy(() => noGrad(() => model.forward(tensor([PROMPT], undefined, 'i32')).dataSync() as Float32Array));
}

const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

const runtimes: [string, Ort][] = [
  ['onnxruntime-node', ortNode],
  ['onnxruntime-web (wasm)', ortWeb as unknown as Ort],
];

describe.each(runtimes)('%s runs quantized GPT-2 exports', (_name, ort) => {
  for (const c of CASES) {
    const model = (): GPT2 => models.get(`int${c.bits} g${c.groupSize}`)!;

    it(`${caseName(c)}, no cache: logits within ${REL_TOL} x max|logit| of Tessera's quantized forward`, async () => {
      const s = await ort.InferenceSession.create(files.get(caseName(c))!, sessionOptions(c));
      const out = await s.run({ input_ids: i64(ort, [PROMPT]), attention_mask: i64(ort, [PROMPT.map(() => 1)]), position_ids: i64(ort, [PROMPT.map((_, i) => i)]) });
      const expected = logitsOf(model());
      expect(out.logits.dims).toEqual([1, PROMPT.length, V]);
      expect(maxDiff(out.logits.data as Float32Array, expected)).toBeLessThanOrEqual(REL_TOL * maxAbs(expected));
    });

    it(`${caseName(c)}, KV cache: prompt and ${DECODE_STEPS} decode steps within ${REL_TOL} x max|logit| of forwardCached, greedy tokens equal generate()'s`, async () => {
      const s = await ort.InferenceSession.create(files.get(`${caseName(c)} kv`)!, sessionOptions(c));
      const tolerance = (expected: Float32Array): number => REL_TOL * maxAbs(expected);
      await checkCachedDecode({ ort, session: s, model: model(), prompt: PROMPT, steps: DECODE_STEPS, tolerance, greedy: true });
    });
  }

  for (const name of ['encoder int4', 'gpt2-cls int8 g64'] as const) {
    it(`${name} classifier: logits with padding within ${REL_TOL} x max|logit| of Tessera's forward(ids, mask)`, async () => {
      const model = classifiers.get(name)!;
      const s = await ort.InferenceSession.create(files.get(name)!);
      const ids = [
        [5, 9, 2, 7, 0, 0],
        [4, 1, 8, 3, 6, 2],
      ];
      const mask = ids.map((row) => row.map((t) => (t === 0 ? 0 : 1)));
      const out = await s.run({ input_ids: i64(ort, ids), attention_mask: i64(ort, mask) });
      const expected = tidy(() => noGrad(() => model.forward(tensor(ids, undefined, 'i32'), tensor(mask, undefined, 'i32')).dataSync() as Float32Array));
      expect(out.logits.dims).toEqual([2, 2]);
      expect(maxDiff(out.logits.data as Float32Array, expected)).toBeLessThanOrEqual(REL_TOL * maxAbs(expected));
    });
  }

  it('int4 g32 with external data, loaded from its path: logits within 1e-4 x max|logit|', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-onnx-qext-'));
    try {
      const written = await exportOnnx(models.get('int4 g32')!, join(dir, 'q.onnx'), { externalData: true });
      expect(written.dataPath).not.toBeNull();
      const s = await ort.InferenceSession.create(ort === ortNode ? written.path : readFileSync(written.path), ort === ortNode ? {} : { externalData: [{ path: 'q.onnx.data', data: readFileSync(written.dataPath!) }] });
      const out = await s.run({ input_ids: i64(ort, [PROMPT]), attention_mask: i64(ort, [PROMPT.map(() => 1)]), position_ids: i64(ort, [PROMPT.map((_, i) => i)]) });
      const expected = logitsOf(models.get('int4 g32')!);
      expect(maxDiff(out.logits.data as Float32Array, expected)).toBeLessThanOrEqual(REL_TOL * maxAbs(expected));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the quantized ONNX file', () => {
  for (const c of CASES) {
    it(`${caseName(c)}: every quantized weight is stored as its packed values and f32 scales only (no f32 copy), the contrib domain imported iff used`, () => {
      const model = models.get(`int${c.bits} g${c.groupSize}`)!;
      const proto = fromBinary(ModelProtoSchema, files.get(caseName(c))!);
      const inits = new Map(proto.graph!.initializer.map((t) => [t.name, t]));
      const qtype = c.format === 'qdq' ? (c.bits === 8 ? DataType.INT8 : DataType.INT4) : DataType.UINT8;
      let stored = 0;
      for (const [name, { weight }] of quantizedWeights(model)) {
        expect(inits.has(name), name).toBe(false);
        const values = inits.get(`${name}.quantized`)!;
        const scales = inits.get(`${name}.scales`)!;
        expect(values.dataType, name).toBe(qtype);
        expect(values.rawData.length).toBe((weight.n * weight.k * c.bits) / 8);
        expect(scales.dataType).toBe(DataType.FLOAT);
        // MatMulNBits reads [n, k] output-major; a QDQ MatMul's B is [k, n] (blocks along axis 0).
        const blocks = weight.k / c.groupSize;
        expect(values.dims.map(Number)).toEqual(c.format === 'qdq' ? [weight.k, weight.n] : [weight.n, blocks, (c.groupSize * c.bits) / 8]);
        expect(scales.dims.map(Number)).toEqual(c.format === 'qdq' ? [blocks, weight.n] : [weight.n, blocks]);
        stored += values.rawData.length + scales.rawData.length;
      }
      // Exactly the bytes Tessera holds the quantized weights in: the tied wte is stored once.
      expect(stored).toBe(quantizedBytes(model).quantized);
      const ops = new Set(proto.graph!.node.map((n) => `${n.domain}:${n.opType}`));
      const domains = proto.opsetImport.map((o) => `${o.domain}@${o.version}`);
      if (c.format === 'matmulnbits') {
        expect(ops).toContain('com.microsoft:MatMulNBits');
        expect(ops).toContain('com.microsoft:GatherBlockQuantized');
        expect(domains).toEqual(['@17', 'com.microsoft@1']);
      } else {
        expect(ops).toContain(':DequantizeLinear');
        expect([...ops].some((o) => o.startsWith('com.microsoft'))).toBe(false);
        expect(domains).toEqual(['@21']);
      }
      expect(Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]))['tessera.quantized']).toBe(c.format);
    });
  }

  it('a model quantized with activations int8 writes accuracy_level 4 on every MatMulNBits (f32: none), and onnxruntime runs it within 1e-2 x max|logit| of Tessera', async () => {
    const model = await quantize(new GPT2(CONFIG, { seed: 11 }).eval(), { bits: 4, groupSize: 32, activations: 'int8' });
    try {
      const bytes = exportOnnxBytes(model);
      const level = (b: Uint8Array): (bigint | undefined)[] =>
        fromBinary(ModelProtoSchema, b)
          .graph!.node.filter((n) => n.opType === 'MatMulNBits')
          .map((n) => n.attribute.find((a) => a.name === 'accuracy_level')?.i);
      const a8 = level(bytes);
      expect(a8.length).toBeGreaterThan(0);
      expect(a8.every((l) => l === 4n)).toBe(true);
      expect(level(files.get('int4 g32 matmulnbits')!).every((l) => l === undefined)).toBe(true);
      // ORT quantizes the activations of every product to int8 here, Tessera's 5-row prompt
      // keeps f32 activations (more than its backends' int8 rows): the difference is the
      // activations' rounding, ~3e-3 of the max logit on these models (file comment).
      const s = await ortNode.InferenceSession.create(bytes);
      const out = await s.run({ input_ids: i64(ortNode, [PROMPT]), attention_mask: i64(ortNode, [PROMPT.map(() => 1)]), position_ids: i64(ortNode, [PROMPT.map((_, i) => i)]) });
      const expected = logitsOf(model);
      expect(maxDiff(out.logits.data as Float32Array, expected)).toBeLessThanOrEqual(1e-2 * maxAbs(expected));
    } finally {
      model.dispose();
    }
  });

  it('int4 with 32-value groups is under 25% of the f32 export, int8 under 35%', () => {
    expect(files.get('int4 g32 matmulnbits')!.length).toBeLessThan(0.25 * f32Bytes);
    expect(files.get('int8 g32 matmulnbits')!.length).toBeLessThan(0.35 * f32Bytes);
  });
});

describe('bad quantized-export options are OnnxExportErrors naming the value', () => {
  const cases: [string, () => unknown, RegExp][] = [
    ['a format that does not exist', () => exportOnnxBytes(models.get('int8 g32')!, { quantized: 'gptq' as OnnxQuantFormat }), /quantized "gptq" is not a format; use 'matmulnbits' or 'qdq'/],
    ['dtype f16 with quantized weights', () => exportOnnxBytes(models.get('int8 g32')!, { dtype: 'f16' }), /dtype 'f16' with quantized weights \(transformer\.wte\.weight is int8\)/],
    ["'qdq' below opset 21", () => exportOnnxBytes(models.get('int4 g32')!, { quantized: 'qdq', opset: 20 }), /'qdq' needs opset 21 or later .* got opset 20/],
    [
      'a quantized format for an f32 model',
      () => {
        const f32 = new GPT2(CONFIG, { seed: 1 });
        try {
          return exportOnnxBytes(f32, { quantized: 'matmulnbits' } as OnnxExportOptions);
        } finally {
          f32.dispose();
        }
      },
      /quantized: 'matmulnbits' is for a quantized model, and this GPT2LMHeadModel has no quantized weights/,
    ],
  ];
  for (const [what, run, message] of cases) {
    it(what, () => {
      expect(run).toThrow(OnnxExportError);
      expect(run).toThrow(message);
    });
  }
});

describe('onnx (Python)', () => {
  it.skipIf(onnxVersion === null)(
    `onnx.checker.check_model(full_check=True) accepts every quantized export${onnxVersion ? ` (onnx ${onnxVersion})` : ` [skipped: ${PYTHON} cannot import onnx]`}`,
    async () => {
      await expectOnnxCheckerAccepts(files);
    },
  );
});
