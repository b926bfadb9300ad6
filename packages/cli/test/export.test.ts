// `tessera export`: model directories (a GPT-2 language model, a GPT-2 classifier, an encoder
// classifier saved by its savePretrained and one saved by `tessera finetune`) become ONNX files
// that onnxruntime-node loads and that compute the directory's model: logits within 1e-4 for
// f32 (5e-3 for f16, whose weights and activations are rounded to float16). Bad options are
// usage errors (exit 2) naming the value; a model the exporter cannot take is exit 1.
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CharTokenizer, GPT2, GPT2ForSequenceClassification, TransformerEncoderClassifier } from '@tessera/models';
import { noGrad, ready, tensor, type Tensor } from '@tessera/tensor';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { createClassifier } from '../src/classify/model.js';
import { runCli, runMain, tempDir } from './helpers.js';

const TINY = { vocab_size: 40, n_positions: 16, n_embd: 16, n_layer: 2, n_head: 2, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 };
const IDS = [
  [5, 9, 2, 7, 0, 0],
  [1, 3, 3, 8, 11, 4],
];
const MASK = IDS.map((row, r) => row.map((t) => (r === 0 && t === 0 ? 0 : 1)));

function i64(rows: number[][]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0].length]);
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A tensor's values, then the tensor disposed. */
function read(t: Tensor): Float32Array {
  const v = t.dataSync() as Float32Array;
  t.dispose();
  return v;
}

const exportWith = (args: string[]): ReturnType<typeof runMain> => runMain(['export', ...args]);

let root: string;
let lmDir: string;
let clsDir: string;
let encDir: string;
let lmLogits: Float32Array;
let clsLogits: Float32Array;
let encLogits: Float32Array;

beforeAll(async () => {
  await ready();
  root = tempDir('tessera-export-');
  lmDir = join(root, 'gpt2');
  clsDir = join(root, 'gpt2-cls');
  encDir = join(root, 'encoder');
  const lm = new GPT2(TINY, { seed: 1 }).eval();
  const cls = new GPT2ForSequenceClassification({ ...TINY, pad_token_id: 0 }, { numLabels: 2, seed: 2 }).eval();
  const enc = new TransformerEncoderClassifier({ vocabSize: 40, numLabels: 3, maxLength: 16, dModel: 16, numHeads: 2, numLayers: 1, dropout: 0, seed: 3 }).eval();
  try {
    await lm.savePretrained(lmDir, { tokenizer: null });
    await cls.savePretrained(clsDir, { tokenizer: null });
    await enc.savePretrained(encDir);
    const ids = tensor(IDS, undefined, 'i32');
    const mask = tensor(MASK, undefined, 'i32');
    noGrad(() => {
      lmLogits = read(lm.forward(ids.narrow(0, 1, 1)));
      clsLogits = read(cls.forward(ids, mask));
      encLogits = read(enc.forward(ids, mask));
    });
    ids.dispose();
    mask.dispose();
  } finally {
    lm.dispose();
    cls.dispose();
    enc.dispose();
  }
});

describe('tessera export --format onnx', () => {
  it('a GPT-2 directory with --kv-cache, through the tessera binary: Optimum names, logits within 1e-4 of the model', async () => {
    const out = join(root, 'gpt2.onnx');
    const r = await runCli(['export', '--model', lmDir, '--format', 'onnx', '--out', out, '--kv-cache']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${out}: GPT2LMHeadModel as ONNX (opset 17, f32, KV cache)`);
    const s = await ort.InferenceSession.create(out);
    expect(s.inputNames).toEqual(['input_ids', 'attention_mask', 'position_ids', 'past_key_values.0.key', 'past_key_values.0.value', 'past_key_values.1.key', 'past_key_values.1.value']);
    expect(s.outputNames).toEqual(['logits', 'present.0.key', 'present.0.value', 'present.1.key', 'present.1.value']);
    const past: Record<string, ort.Tensor> = {};
    for (const name of s.inputNames.slice(3)) past[name] = new ort.Tensor('float32', new Float32Array(0), [1, 2, 0, 8]);
    const row = IDS[1];
    const res = await s.run({ input_ids: i64([row]), attention_mask: i64([row.map(() => 1)]), position_ids: i64([row.map((_, i) => i)]), ...past });
    expect(maxDiff(res.logits.data as Float32Array, lmLogits)).toBeLessThanOrEqual(1e-4);
  });

  for (const [what, dir, dtype, tol] of [
    ['a GPT2ForSequenceClassification directory', () => clsDir, 'f32', 1e-4],
    ['a GPT2ForSequenceClassification directory with --dtype f16 --opset 21', () => clsDir, 'f16', 5e-3],
    ['a TransformerEncoderClassifier directory', () => encDir, 'f32', 1e-4],
  ] as const) {
    it(`${what}: input_ids, attention_mask -> logits within ${tol} of the model, with padding`, async () => {
      const out = join(root, `${what.replace(/\W+/g, '-')}.onnx`);
      const args = ['--model', dir(), '--out', out, '--dtype', dtype, ...(dtype === 'f16' ? ['--opset', '21'] : [])];
      const r = await exportWith(args);
      expect(r.code, r.err).toBe(0);
      const s = await ort.InferenceSession.create(out);
      expect(s.inputNames).toEqual(['input_ids', 'attention_mask']);
      const res = await s.run({ input_ids: i64(IDS), attention_mask: i64(MASK) });
      expect(maxDiff(res.logits.data as Float32Array, dir() === encDir ? encLogits : clsLogits)).toBeLessThanOrEqual(tol);
    });
  }

  it('--external-data: the weights in <out>.data, loaded by onnxruntime-node from the path', async () => {
    const out = join(root, 'external', 'gpt2.onnx');
    mkdirSync(dirname(out));
    const r = await exportWith(['--model', lmDir, '--out', out, '--external-data']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`weights in ${out}.data`);
    expect(readdirSync(dirname(out)).sort()).toEqual(['gpt2.onnx', 'gpt2.onnx.data']);
    const s = await ort.InferenceSession.create(out);
    const row = IDS[1];
    const res = await s.run({ input_ids: i64([row]), attention_mask: i64([row.map(() => 1)]), position_ids: i64([row.map((_, i) => i)]) });
    expect(maxDiff(res.logits.data as Float32Array, lmLogits)).toBeLessThanOrEqual(1e-4);
  });

  it('a tessera finetune encoder directory (its own config keys)', async () => {
    const dir = join(root, 'finetuned');
    const clf = createClassifier({ architecture: 'encoder', vocabSize: 40, maxLength: 16, layers: 1, heads: 2, embd: 16, dropout: 0, seed: 4 });
    let expected: Float32Array;
    try {
      clf.module.eval();
      await clf.save(dir, new CharTokenizer([...'abcdefghij']));
      const ids = tensor(IDS, undefined, 'i32');
      const mask = tensor(MASK, undefined, 'i32');
      expected = noGrad(() => read(clf.forward(ids, mask)));
      ids.dispose();
      mask.dispose();
    } finally {
      clf.dispose();
    }
    const out = join(root, 'finetuned.onnx');
    const r = await exportWith(['--model', dir, '--out', out]);
    expect(r.code, r.err).toBe(0);
    const s = await ort.InferenceSession.create(out);
    const res = await s.run({ input_ids: i64(IDS), attention_mask: i64(MASK) });
    expect(maxDiff(res.logits.data as Float32Array, expected)).toBeLessThanOrEqual(1e-4);
  });
});

describe('tessera export errors', () => {
  const cases: [string, () => string[], number, RegExp][] = [
    ['--dtype bf16', () => ['--model', lmDir, '--out', join(root, 'x.onnx'), '--dtype', 'bf16'], 2, /--dtype must be one of f32, f16; got "bf16"/],
    ['--opset 16', () => ['--model', lmDir, '--out', join(root, 'x.onnx'), '--opset', '16'], 2, /--opset must be at least 17; got 16/],
    ['--opset 26', () => ['--model', lmDir, '--out', join(root, 'x.onnx'), '--opset', '26'], 2, /--opset must be at most 25; got 26/],
    ['--format tflite', () => ['--model', lmDir, '--out', join(root, 'x.onnx'), '--format', 'tflite'], 2, /--format must be one of onnx; got "tflite"/],
    ['no --out', () => ['--model', lmDir], 2, /--out <file> is required/],
    ['no --model', () => ['--out', join(root, 'x.onnx')], 2, /--model <dir\|file\.gguf> is required/],
    ['a missing directory', () => ['--model', join(root, 'nope'), '--out', join(root, 'x.onnx')], 1, /cannot read --model .*nope/],
    ['--out in a missing folder', () => ['--model', lmDir, '--out', join(root, 'nope', 'x.onnx')], 1, /cannot write --out .*nope.x\.onnx: no such file or directory/],
    ['--kv-cache on a classifier', () => ['--model', clsDir, '--out', join(root, 'x.onnx'), '--kv-cache'], 1, /OnnxExportError: exportOnnx: kvCache is for the GPT-2 language model; a GPT2ForSequenceClassification has no KV cache/],
  ];
  for (const [what, args, code, message] of cases) {
    it(`${what}: exit ${code}, one line naming it, no file written`, async () => {
      const r = await exportWith(args());
      expect(r.code).toBe(code);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/^tessera export: /);
      expect(r.err).toMatch(message);
      expect(existsSync(join(root, 'x.onnx'))).toBe(false);
    });
  }
});
