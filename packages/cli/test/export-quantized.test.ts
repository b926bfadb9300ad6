// `tessera export` of quantized models: a `quantize`d GPT-2 directory (int4, groups of 32) and a
// Q8_0 GGUF file become ONNX files whose weights stay quantized (MatMulNBits by default, QDQ
// with --quantized qdq) and that onnxruntime-node runs to the loaded model's logits within
// 1e-4 of the largest |logit| (the same dequantized weights on both sides; f32 rounding only).
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { GPT2, loadGgufFile, quantize, saveGgufFile } from '@tessera/models';
import { noGrad, ready, tensor } from '@tessera/tensor';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { runMain, tempDir } from './helpers.js';

const CONFIG = { vocab_size: 40, n_positions: 16, n_embd: 32, n_layer: 2, n_head: 2, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 };
const ROW = [1, 3, 3, 8, 11, 4];
const REL_TOL = 1e-4;
/** A QDQ session keeps f32 activations in the MatMulNBits onnxruntime fuses it into (its default quantizes them to int8). */
const EXACT_QDQ = { extra: { session: { qdq_matmulnbits_accuracy_level: '0' } } };

let root: string;
let int4Dir: string;
let ggufPath: string;
let f32Dir: string;
let int4Logits: Float32Array;
let ggufLogits: Float32Array;

function logitsOf(model: GPT2): Float32Array {
  return noGrad(() => {
    const t = model.forward(tensor([ROW], undefined, 'i32'));
    const v = t.dataSync() as Float32Array;
    t.dispose();
    return v;
  });
}

const exportWith = (args: string[]): ReturnType<typeof runMain> => runMain(['export', ...args]);

async function runOnnx(path: string, options: ort.InferenceSession.SessionOptions = {}): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path, options);
  const i64 = (v: number[]): ort.Tensor => new ort.Tensor('int64', BigInt64Array.from(v, BigInt), [1, v.length]);
  const res = await s.run({ input_ids: i64(ROW), attention_mask: i64(ROW.map(() => 1)), position_ids: i64(ROW.map((_, i) => i)) });
  return res.logits.data as Float32Array;
}

function expectClose(actual: Float32Array, expected: Float32Array): void {
  expect(actual.length).toBe(expected.length);
  const scale = expected.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  let diff = 0;
  for (let i = 0; i < actual.length; i++) diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
  expect(diff).toBeLessThanOrEqual(REL_TOL * scale);
}

beforeAll(async () => {
  await ready();
  root = tempDir('tessera-export-quantized-');
  int4Dir = join(root, 'gpt2-int4');
  f32Dir = join(root, 'gpt2-f32');
  ggufPath = join(root, 'gpt2.Q8_0.gguf');
  const f32 = new GPT2(CONFIG, { seed: 5 }).eval();
  await f32.savePretrained(f32Dir, { tokenizer: null });
  f32.dispose();
  const int4 = await quantize(new GPT2(CONFIG, { seed: 5 }).eval(), { bits: 4, groupSize: 32 });
  await int4.savePretrained(int4Dir, { tokenizer: null });
  int4.dispose();
  // What the command reads back (the checkpoint round-trips the quantized weights exactly).
  const loaded = await GPT2.fromPretrained(int4Dir, { tokenizer: false });
  int4Logits = logitsOf(loaded.eval());
  loaded.dispose();
  const q8 = await quantize(new GPT2(CONFIG, { seed: 6 }).eval(), { bits: 8, groupSize: 32, f16Scales: true });
  await saveGgufFile(ggufPath, q8);
  q8.dispose();
  const fromGguf = await loadGgufFile(ggufPath, { tokenizer: false });
  ggufLogits = logitsOf(fromGguf.eval());
  fromGguf.dispose();
});

describe('tessera export of quantized models', () => {
  it('a quantize-d int4 directory: MatMulNBits by default, logits within 1e-4 x max|logit|, the file under 40% of the f32 export', async () => {
    const out = join(root, 'int4.onnx');
    const r = await exportWith(['--model', int4Dir, '--out', out, '--kv-cache']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`${out}: GPT2LMHeadModel as ONNX (opset 17, f32, KV cache, quantized weights as matmulnbits)`);
    const plain = join(root, 'int4-nocache.onnx');
    expect((await exportWith(['--model', int4Dir, '--out', plain])).code).toBe(0);
    expectClose(await runOnnx(plain), int4Logits);
    const f32Out = join(root, 'f32.onnx');
    expect((await exportWith(['--model', f32Dir, '--out', f32Out])).code).toBe(0);
    // Biases, norms and the position table stay f32 and weigh more in a model this small.
    expect(statSync(plain).size).toBeLessThan(0.4 * statSync(f32Out).size);
  });

  it('--quantized qdq: opset 21 by default, logits within 1e-4 x max|logit|', async () => {
    const out = join(root, 'int4-qdq.onnx');
    const r = await exportWith(['--model', int4Dir, '--out', out, '--quantized', 'qdq']);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('(opset 21, f32, quantized weights as qdq)');
    expectClose(await runOnnx(out, EXACT_QDQ), int4Logits);
  });

  it('a Q8_0 GGUF file: logits of the model loaded from it within 1e-4 x max|logit|', async () => {
    const out = join(root, 'gguf.onnx');
    const r = await exportWith(['--model', ggufPath, '--out', out]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('quantized weights as matmulnbits');
    expectClose(await runOnnx(out), ggufLogits);
  });

  it('errors name the value: --quantized qdq with --opset 20, --quantized on an f32 model, a file that is no GGUF', async () => {
    const qdq20 = await exportWith(['--model', int4Dir, '--out', join(root, 'x.onnx'), '--quantized', 'qdq', '--opset', '20']);
    expect(qdq20.code).toBe(1);
    expect(qdq20.err).toMatch(/'qdq' needs opset 21 or later .* got opset 20/);
    const f32 = await exportWith(['--model', f32Dir, '--out', join(root, 'y.onnx'), '--quantized', 'matmulnbits']);
    expect(f32.code).toBe(1);
    expect(f32.err).toMatch(/has no quantized weights/);
    const notGguf = await exportWith(['--model', join(f32Dir, 'config.json'), '--out', join(root, 'z.onnx')]);
    expect(notGguf.code).toBe(1);
    expect(notGguf.err).toMatch(/cannot load --model .*config\.json: not a directory, and not a GGUF model/);
  });
});
