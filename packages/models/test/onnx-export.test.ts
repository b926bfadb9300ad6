/**
 * ONNX export: every export is loaded by onnxruntime-node and by onnxruntime-web (wasm,
 * in Node) and must compute Tessera's outputs — GPT-2's logits for a prompt and for 16
 * cached decode steps (present fed back as past), greedy tokens equal to generate()'s,
 * padded batches (left and right) equal to each prompt run alone, and both classifiers'
 * logits with padding. Tolerances: 1e-4 absolute for float32 exports (observed ~2e-7);
 * float16 exports 5e-3 absolute (weights and activations rounded to 11 significant bits;
 * observed ~3e-4 on these models, whose logits are below 1 in size). Where Python
 * imports `onnx` ($TESSERA_PYTHON or python3), onnx.checker.check_model(full_check=True)
 * accepts every export.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { noGrad, ready, tensor } from '@tessera/tensor';
import { ModelProtoSchema } from 'onnx-buf';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  GPT2,
  GPT2ForSequenceClassification,
  Linear,
  ONNX_OPSETS,
  OnnxExportError,
  TransformerEncoderClassifier,
  exportOnnx,
  exportOnnxBytes,
  type OnnxExportOptions,
} from '../src/index.js';
import { DataType, EXTERNAL_DATA_ALIGNMENT, EXTERNAL_DATA_THRESHOLD, MAX_PROTOBUF_BYTES, OnnxGraph, encodeOnnxModel, encodeOnnxModelExternal } from '../src/export/onnx-proto.js';
import { SMALL } from './helpers.js';
import { PYTHON, checkCachedDecode, emptyPast as emptyPastOf, expectOnnxCheckerAccepts, i64, maxDiff, onnxVersion, presentAsPast as presentAsPastOf, type Ort } from './onnx-helpers.js';

type Session = ortNode.InferenceSession;

const F32_TOL = 1e-4;
const F16_TOL = 5e-3;
const { n_layer: L = 2, n_head: H = 2, n_embd: C = 32, vocab_size: V = 64 } = SMALL;
const D = C / H;
const emptyPast = (ort: Ort, batch: number) => emptyPastOf(ort, batch, { layers: L, heads: H, headDim: D });
const presentAsPast = (out: Record<string, ortNode.Tensor>) => presentAsPastOf(out, L);

let lm: GPT2;
let clf: GPT2ForSequenceClassification;
let enc: TransformerEncoderClassifier;
/** Every export the suite runs, by name. */
const files = new Map<string, Uint8Array>();

beforeAll(async () => {
  await ready();
  ortWeb.env.wasm.numThreads = 1;
  lm = new GPT2(SMALL, { seed: 7 }).eval();
  clf = new GPT2ForSequenceClassification({ ...SMALL, pad_token_id: 0 }, { numLabels: 3, seed: 8 }).eval();
  enc = new TransformerEncoderClassifier({ vocabSize: V, numLabels: 2, maxLength: 16, dModel: 32, numHeads: 4, numLayers: 2, dropout: 0, padTokenId: 0, seed: 9 }).eval();
  files.set('gpt2', exportOnnxBytes(lm));
  files.set('gpt2-kv', exportOnnxBytes(lm, { kvCache: true }));
  files.set('gpt2-f16', exportOnnxBytes(lm, { dtype: 'f16' }));
  files.set('gpt2-kv-f16', exportOnnxBytes(lm, { kvCache: true, dtype: 'f16' }));
  files.set('gpt2-kv-opset25', exportOnnxBytes(lm, { kvCache: true, opset: 25 }));
  files.set('gpt2-cls', exportOnnxBytes(clf));
  files.set('gpt2-cls-f16', exportOnnxBytes(clf, { dtype: 'f16' }));
  files.set('encoder-cls', exportOnnxBytes(enc));
  files.set('encoder-cls-f16', exportOnnxBytes(enc, { dtype: 'f16' }));
});

afterAll(() => {
  lm?.dispose();
  clf?.dispose();
  enc?.dispose();
});

/** Tessera's logits [T * V] for one unpadded prompt. */
function tesseraLogits(prompt: number[]): Float32Array {
  return noGrad(() => {
    const t = lm.forward(tensor([prompt], undefined, 'i32'));
    const out = t.dataSync() as Float32Array;
    t.dispose();
    return out;
  });
}

/** Row `b`, positions `from..to-1` of logits [B, T, V]. */
function rowSlice(logits: ortNode.Tensor, b: number, from: number, to: number): Float32Array {
  const T = logits.dims[1];
  return (logits.data as Float32Array).slice((b * T + from) * V, (b * T + to) * V);
}

const PROMPT = [3, 17, 42, 5, 29];
const DECODE_STEPS = 16;

const runtimes: [string, Ort][] = [
  ['onnxruntime-node', ortNode],
  ['onnxruntime-web (wasm)', ortWeb as unknown as Ort],
];

describe.each(runtimes)('%s runs the exports', (_name, ort) => {
  const sessions = new Map<string, Session>();
  async function session(name: string): Promise<Session> {
    let s = sessions.get(name);
    if (!s) {
      s = await ort.InferenceSession.create(files.get(name)!);
      sessions.set(name, s);
    }
    return s;
  }

  it(`GPT-2 without a cache: input_ids, attention_mask, position_ids -> logits within ${F32_TOL} of Tessera's (opset 17)`, async () => {
    const s = await session('gpt2');
    expect(s.inputNames).toEqual(['input_ids', 'attention_mask', 'position_ids']);
    expect(s.outputNames).toEqual(['logits']);
    const out = await s.run({ input_ids: i64(ort, [PROMPT]), attention_mask: i64(ort, [PROMPT.map(() => 1)]), position_ids: i64(ort, [PROMPT.map((_, i) => i)]) });
    expect(out.logits.dims).toEqual([1, PROMPT.length, V]);
    expect(maxDiff(out.logits.data as Float32Array, tesseraLogits(PROMPT))).toBeLessThanOrEqual(F32_TOL);
  });

  for (const [name, tol] of [
    ['gpt2-kv', F32_TOL],
    ['gpt2-kv-opset25', F32_TOL],
    ['gpt2-kv-f16', F16_TOL],
  ] as const) {
    const greedy = name === 'gpt2-kv-f16' ? '' : "; greedy tokens equal generate({ greedy: true })'s";
    it(`${name}: prompt and ${DECODE_STEPS} cached decode steps (present -> past) give forwardCached's logits within ${tol}${greedy}`, async () => {
      const s = await session(name);
      expect(s.inputNames.slice(0, 3)).toEqual(['input_ids', 'attention_mask', 'position_ids']);
      expect(s.inputNames.slice(3)).toEqual(Array.from({ length: L }, (_, i) => [`past_key_values.${i}.key`, `past_key_values.${i}.value`]).flat());
      expect(s.outputNames).toEqual(['logits', ...Array.from({ length: L }, (_, i) => [`present.${i}.key`, `present.${i}.value`]).flat()]);
      // The f16 export's tokens may part from the f32 model's where two logits are within its rounding.
      await checkCachedDecode({ ort, session: s, model: lm, prompt: PROMPT, steps: DECODE_STEPS, tolerance: () => tol, greedy: greedy !== '' });
    });
  }

  it(`GPT-2 on a batch of 2 prompts of different lengths, left- and right-padded with attention_mask: each row's logits are the prompt's own within ${F32_TOL}, also over 4 cached steps`, async () => {
    const a = [3, 7, 11, 2, 9, 4];
    const b = [5, 8, 13];
    const pad = a.length - b.length;
    const alone = [tesseraLogits(a), tesseraLogits(b)];
    for (const name of ['gpt2', 'gpt2-kv']) {
      const s = await session(name);
      const past = name === 'gpt2-kv' ? emptyPast(ort, 2) : {};
      // Right padding: positions 0..T-1, pads at the end.
      let out = await s.run({
        input_ids: i64(ort, [a, [...b, 0, 0, 0]]),
        attention_mask: i64(ort, [a.map(() => 1), [...b.map(() => 1), 0, 0, 0]]),
        position_ids: i64(ort, [a.map((_, i) => i), a.map((_, i) => i)]),
        ...past,
      });
      expect(maxDiff(rowSlice(out.logits, 0, 0, a.length), alone[0]), `${name} right-padded row 0`).toBeLessThanOrEqual(F32_TOL);
      expect(maxDiff(rowSlice(out.logits, 1, 0, b.length), alone[1]), `${name} right-padded row 1`).toBeLessThanOrEqual(F32_TOL);
      // Left padding: position ids count real tokens (cumsum(mask) - 1, pads at 1), as Optimum's generation feeds them.
      const mask = [a.map(() => 1), [0, 0, 0, ...b.map(() => 1)]];
      out = await s.run({ input_ids: i64(ort, [a, [0, 0, 0, ...b]]), attention_mask: i64(ort, mask), position_ids: i64(ort, [a.map((_, i) => i), [1, 1, 1, 0, 1, 2]]), ...past });
      expect(maxDiff(rowSlice(out.logits, 0, 0, a.length), alone[0]), `${name} left-padded row 0`).toBeLessThanOrEqual(F32_TOL);
      expect(maxDiff(rowSlice(out.logits, 1, pad, a.length), alone[1]), `${name} left-padded row 1`).toBeLessThanOrEqual(F32_TOL);
      if (name !== 'gpt2-kv') continue;
      // Cached steps on the left-padded batch: the mask grows by one real position per step.
      const caches = [lm.createKVCache(), lm.createKVCache()];
      try {
        noGrad(() => [a, b].forEach((p, i) => lm.forwardCached(p, caches[i]).dispose()));
        for (const [step, next] of [10, 20, 30, 40].entries()) {
          for (const row of mask) row.push(1);
          out = await s.run({
            input_ids: i64(ort, [[next], [next]]),
            attention_mask: i64(ort, mask),
            position_ids: i64(ort, [[a.length + step], [b.length + step]]),
            ...presentAsPast(out),
          });
          for (const row of [0, 1]) {
            const expected = noGrad(() => {
              const t = lm.forwardCached([next], caches[row]);
              const v = t.dataSync() as Float32Array;
              t.dispose();
              return v;
            });
            expect(maxDiff(rowSlice(out.logits, row, 0, 1), expected), `cached step ${step}, row ${row}`).toBeLessThanOrEqual(F32_TOL);
          }
        }
      } finally {
        for (const c of caches) c.dispose();
      }
    }
  });

  it(`GPT-2 f16 (float16 weights and compute, float32 inputs and outputs): logits within ${F16_TOL} of Tessera's f32`, async () => {
    const s = await session('gpt2-f16');
    const out = await s.run({ input_ids: i64(ort, [PROMPT]), attention_mask: i64(ort, [PROMPT.map(() => 1)]), position_ids: i64(ort, [PROMPT.map((_, i) => i)]) });
    expect(out.logits.type).toBe('float32');
    expect(maxDiff(out.logits.data as Float32Array, tesseraLogits(PROMPT))).toBeLessThanOrEqual(F16_TOL);
  });

  // Rows: right padding, a pad in the middle, no padding; GPT-2 pools the last position whose mask is 1.
  const ids = [
    [4, 5, 6, 0, 0, 0],
    [7, 8, 0, 9, 10, 0],
    [11, 12, 13, 14, 15, 16],
  ];
  const mask = ids.map((row) => row.map((t) => (t === 0 ? 0 : 1)));
  for (const [name, tol] of [
    ['gpt2-cls', F32_TOL],
    ['gpt2-cls-f16', F16_TOL],
    ['encoder-cls', F32_TOL],
    ['encoder-cls-f16', F16_TOL],
  ] as const) {
    it(`${name}: input_ids, attention_mask -> logits [batch, labels] within ${tol} of Tessera's forward(ids, mask), with padding`, async () => {
      const s = await session(name);
      expect(s.inputNames).toEqual(['input_ids', 'attention_mask']);
      const model = name.startsWith('gpt2') ? clf : enc;
      const expected = noGrad(() => {
        const t = model.forward(tensor(ids, undefined, 'i32'), tensor(mask, undefined, 'i32'));
        const v = t.dataSync() as Float32Array;
        t.dispose();
        return v;
      });
      const out = await s.run({ input_ids: i64(ort, ids), attention_mask: i64(ort, mask) });
      expect(out.logits.dims).toEqual([ids.length, model.numLabels]);
      expect(maxDiff(out.logits.data as Float32Array, expected)).toBeLessThanOrEqual(tol);
    });
  }
});

describe('the ONNX file', () => {
  it('decodes as a ModelProto with Optimum\'s names and symbolic axes, Tessera\'s parameter names, and raw data equal to the parameters (wte stored once)', () => {
    const model = fromBinary(ModelProtoSchema, files.get('gpt2-kv')!);
    expect(Number(model.irVersion)).toBe(8);
    expect(model.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 17]]);
    const dims = (v: (typeof model.graph.input)[number]): (string | number)[] =>
      v.type!.value.case === 'tensorType' ? v.type!.value.value.shape!.dim.map((d) => (d.value.case === 'dimParam' ? d.value.value : Number(d.value.value))) : [];
    const byName = new Map([...model.graph!.input, ...model.graph!.output].map((v) => [v.name, dims(v)]));
    expect(byName.get('input_ids')).toEqual(['batch_size', 'sequence_length']);
    expect(byName.get('attention_mask')).toEqual(['batch_size', 'past_sequence_length + sequence_length']);
    expect(byName.get('position_ids')).toEqual(['batch_size', 'sequence_length']);
    expect(byName.get('past_key_values.1.value')).toEqual(['batch_size', H, 'past_sequence_length', D]);
    expect(byName.get('present.0.key')).toEqual(['batch_size', H, 'past_sequence_length + sequence_length', D]);
    expect(byName.get('logits')).toEqual(['batch_size', 'sequence_length', V]);
    const inits = new Map(model.graph!.initializer.map((t) => [t.name, t]));
    const params = lm.namedParameters();
    for (const [name, p] of params) {
      const t = inits.get(name);
      expect(t, name).toBeDefined();
      expect(t!.dims.map(Number), name).toEqual(p.shape);
      const data = p.dataSync() as Float32Array;
      expect(new Float32Array(t!.rawData.slice().buffer), name).toEqual(data);
    }
    const weightBytes = params.reduce((n, [, p]) => n + p.size * 4, 0);
    const constantBytes = model.graph!.initializer.filter((t) => t.name.startsWith('const_')).reduce((n, t) => n + t.rawData.length, 0);
    expect(model.graph!.initializer.map((t) => t.rawData.length).reduce((a, b) => a + b)).toBe(weightBytes + constantBytes);
  });

  it('f16 halves the weights: float16 initializers, float32 graph inputs and outputs', () => {
    const f32 = files.get('gpt2-kv')!.length;
    const f16 = files.get('gpt2-kv-f16')!.length;
    expect(f16).toBeLessThan(f32 * 0.55);
    const model = fromBinary(ModelProtoSchema, files.get('gpt2-kv-f16')!);
    const wte = model.graph!.initializer.find((t) => t.name === 'transformer.wte.weight')!;
    expect(wte.dataType).toBe(10); // FLOAT16
    for (const v of [...model.graph!.input, ...model.graph!.output]) {
      if (v.type!.value.case === 'tensorType') expect([1, 7], v.name).toContain(v.type!.value.value.elemType); // FLOAT or INT64
    }
  });

  it('exportOnnx writes the file onnxruntime loads from a path', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-onnx-'));
    try {
      const path = join(dir, 'model.onnx');
      const written = await exportOnnx(clf, path);
      expect(written).toEqual({ path, bytes: readFileSync(path).length, dataPath: null, dataBytes: 0 });
      expect(readdirSync(dir)).toEqual(['model.onnx']);
      const s = await ortNode.InferenceSession.create(path);
      expect(s.outputNames).toEqual(['logits']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`exportOnnx with externalData: tensors of ${EXTERNAL_DATA_THRESHOLD} bytes or more in model.onnx.data (offsets aligned to ${EXTERNAL_DATA_ALIGNMENT}), loaded by onnxruntime-node from the path, logits within ${F32_TOL}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-onnx-'));
    try {
      const path = join(dir, 'model.onnx');
      const written = await exportOnnx(lm, path, { kvCache: true, externalData: true });
      expect(written.dataPath).toBe(`${path}.data`);
      expect(readdirSync(dir).sort()).toEqual(['model.onnx', 'model.onnx.data']);
      expect(readFileSync(`${path}.data`).length).toBe(written.dataBytes);
      expect(written.bytes).toBeLessThan(files.get('gpt2-kv')!.length / 4);
      const model = fromBinary(ModelProtoSchema, readFileSync(path));
      const data = readFileSync(`${path}.data`);
      let external = 0;
      for (const [name, p] of lm.namedParameters()) {
        const t = model.graph!.initializer.find((i) => i.name === name)!;
        if (p.size * 4 < EXTERNAL_DATA_THRESHOLD) {
          expect(new Float32Array(new Uint8Array(t.rawData).buffer), `${name} inline`).toEqual(p.dataSync());
          continue;
        }
        external++;
        const entry = Object.fromEntries(t.externalData.map((e) => [e.key, e.value]));
        expect(entry.location, name).toBe('model.onnx.data');
        expect(Number(entry.offset) % EXTERNAL_DATA_ALIGNMENT, name).toBe(0);
        const stored = data.subarray(Number(entry.offset), Number(entry.offset) + Number(entry.length));
        expect(new Float32Array(new Uint8Array(stored).buffer), name).toEqual(p.dataSync()); // a copy: a Buffer's .buffer is its pool
      }
      expect(external).toBe(2 + 4 * L); // wte, wpe and each block's four Conv1D weights
      const s = await ortNode.InferenceSession.create(path);
      const out = await s.run({
        input_ids: i64(ortNode, [PROMPT]),
        attention_mask: i64(ortNode, [PROMPT.map(() => 1)]),
        position_ids: i64(ortNode, [PROMPT.map((_, i) => i)]),
        ...emptyPast(ortNode, 1),
      });
      expect(maxDiff(out.logits.data as Float32Array, tesseraLogits(PROMPT))).toBeLessThanOrEqual(F32_TOL);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('bad options and models are OnnxExportErrors naming the value', () => {
  const cases: [string, unknown, RegExp][] = [
    ['opset 16', { opset: 16 }, /opset 16 is not supported; use an integer from 17 to 25/],
    [`opset ${ONNX_OPSETS.max + 1}`, { opset: ONNX_OPSETS.max + 1 }, new RegExp(`opset ${ONNX_OPSETS.max + 1} is not supported`)],
    ['opset 17.5', { opset: 17.5 }, /opset 17.5 is not supported/],
    ["opset '17'", { opset: '17' }, /opset "17" is not supported/],
    ["dtype 'bf16'", { dtype: 'bf16' }, /dtype "bf16" is not supported; use 'f32' or 'f16'/],
    ["kvCache 'yes'", { kvCache: 'yes' }, /kvCache must be true or false, got "yes"/],
    ['an unknown option', { kv_cache: true }, /unknown option "kv_cache"/],
  ];
  for (const [what, options, message] of cases) {
    it(what, () => {
      expect(() => exportOnnxBytes(lm, options as OnnxExportOptions)).toThrow(OnnxExportError);
      expect(() => exportOnnxBytes(lm, options as OnnxExportOptions)).toThrow(message);
    });
  }
  it('kvCache on a classifier', () => {
    expect(() => exportOnnxBytes(clf, { kvCache: true })).toThrow(/kvCache is for the GPT-2 language model; a GPT2ForSequenceClassification has no KV cache/);
  });
  it("a model past protobuf's 2 GiB in one buffer, before anything is allocated or read; as external data it fits", () => {
    const g = new OnnxGraph();
    const elements = Math.ceil(MAX_PROTOBUF_BYTES / 4);
    g.initializer('huge.weight', DataType.FLOAT, [elements], () => {
      throw new Error('fill must not be called');
    });
    const info = { irVersion: 8, opset: 17, producerName: 'tessera', producerVersion: '', docString: '', metadata: {} };
    expect(() => encodeOnnxModel(g, 'huge', info)).toThrow(OnnxExportError);
    expect(() => encodeOnnxModel(g, 'huge', info)).toThrow(/the model would take \d+ bytes, past protobuf's limit of 2147483647 bytes \(2 GiB\).*dtype 'f16'.*external data/);
    const external = encodeOnnxModelExternal(g, 'huge', info, 'huge.onnx.data');
    expect(external.model.length).toBeLessThan(200);
    expect(external.dataSize).toBe(elements * 4);
    const tensor = fromBinary(ModelProtoSchema, external.model).graph!.initializer[0];
    expect(tensor.dataLocation).toBe(1); // EXTERNAL
    expect(Object.fromEntries(tensor.externalData.map((e) => [e.key, e.value]))).toEqual({ location: 'huge.onnx.data', offset: '0', length: String(elements * 4) });
  });
  it('externalData passed to exportOnnxBytes (it writes no files)', () => {
    expect(() => exportOnnxBytes(lm, { externalData: true } as OnnxExportOptions)).toThrow(/unknown option "externalData" \(externalData is an option of exportOnnx, which writes files\)/);
  });
  it('a model with no exporter', () => {
    const linear = new Linear(4, 2);
    try {
      expect(() => exportOnnxBytes(linear)).toThrow(OnnxExportError);
      expect(() => exportOnnxBytes(linear)).toThrow(/cannot export a Linear/);
    } finally {
      linear.dispose();
    }
  });
});

describe('onnx (Python)', () => {
  it.skipIf(onnxVersion === null)(
    `onnx.checker.check_model(full_check=True) accepts every export, external data included${onnxVersion ? ` (onnx ${onnxVersion})` : ` [skipped: ${PYTHON} cannot import onnx]`}`,
    async () => {
      await expectOnnxCheckerAccepts(files, async (dir) => [(await exportOnnx(lm, join(dir, 'gpt2-kv-external.onnx'), { kvCache: true, externalData: true })).path]);
    },
  );
});
