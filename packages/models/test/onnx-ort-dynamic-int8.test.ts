/**
 * ONNX Runtime's own dynamic int8 quantization of Tessera's export (scripts/ort_quantize_dynamic.py:
 * onnxruntime.quantization.quantize_dynamic, weight_type QInt8): the quantized file really holds
 * ORT's dynamic-quantization ops (DynamicQuantizeLinear + MatMulInteger for every Conv1D and the LM
 * head, DequantizeLinear after the int8 embedding tables), onnxruntime-node loads it, and its
 * logits for a prompt and cached decode steps stay within the stated tolerance of Tessera's f32
 * logits, with per-tensor and with per-channel (--per-channel) weight scales. Needs a Python that
 * imports onnxruntime.quantization ($TESSERA_PYTHON, else python3); without one those tests are
 * skipped and their names say why.
 *
 * Tolerance: max |logit diff| <= 3% of the range (max - min) of Tessera's f32 logits, and the
 * argmax equal at >= 75% of the prompt positions. Dynamic quantization rounds each activation
 * tensor to uint8 with one scale and each weight to int8 with one scale per tensor, so logits move
 * by a fraction of a percent of their range per quantized product (observed ~1% here), far above
 * f32 rounding; a bug (a transposed weight, a wrong scale, a dropped bias) moves them by the whole
 * range. Random weights give near-uniform logits, so a few argmaxes may flip on ties.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBinary } from '@bufbuild/protobuf';
import { noGrad, ready, tensor } from '@tessera/tensor';
import { ModelProtoSchema } from 'onnx-buf';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GPT2, argmaxOf, exportOnnxBytes } from '../src/index.js';
import { SMALL } from './helpers.js';
import { PYTHON, checkCachedDecode, emptyPast, i64, maxDiff } from './onnx-helpers.js';

const SCRIPT = fileURLToPath(new URL('../../../scripts/ort_quantize_dynamic.py', import.meta.url));
const RANGE_TOL = 0.03;
const TOP1 = 0.75;
const CONFIG = { ...SMALL, n_embd: 64, n_head: 2, vocab_size: 96 };
const PROMPT = [3, 17, 42, 5, 29, 61, 8, 90, 11, 40, 77, 2];

const probe = spawnSync(PYTHON, ['-c', 'import onnxruntime, onnx; print(onnxruntime.__version__)'], { encoding: 'utf8' });
const ortVersion = probe.status === 0 ? probe.stdout.trim() : null;
const live = ortVersion === null ? ` [skipped: ${PYTHON} cannot import onnxruntime (pip install onnxruntime onnx)]` : ` (onnxruntime ${ortVersion})`;
const pythonRuns = spawnSync(PYTHON, ['-c', 'pass']).status === 0;

const range = (v: Float32Array): number => {
  let lo = Infinity;
  let hi = -Infinity;
  for (const x of v) [lo, hi] = [Math.min(lo, x), Math.max(hi, x)];
  return hi - lo;
};

let dir: string;
let model: GPT2;
beforeAll(async () => {
  await ready();
  dir = mkdtempSync(join(tmpdir(), 'tessera-ort-dyn-'));
  model = new GPT2(CONFIG, { seed: 5 }).eval();
  writeFileSync(join(dir, 'f32.onnx'), exportOnnxBytes(model, { kvCache: true }));
});
afterAll(() => {
  model.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the script; returns its result. */
const quantizeDynamic = (python: string[], input: string, output: string, ...flags: string[]) =>
  spawnSync(python[0], [...python.slice(1), SCRIPT, input, output, ...flags], { encoding: 'utf8', timeout: 120_000 });

describe('ONNX Runtime dynamic int8 quantization of the export', () => {
  const quantized = new Map<boolean, Uint8Array>();
  /** The export quantized by the script (per-tensor weight scales, or per output channel). */
  const quantizedFile = (perChannel = false) => {
    if (!quantized.has(perChannel)) {
      const out = join(dir, `int8${perChannel ? '-per-channel' : ''}.onnx`);
      const res = quantizeDynamic([PYTHON], join(dir, 'f32.onnx'), out, ...(perChannel ? ['--per-channel'] : []));
      expect(res.status, `${res.stdout}${res.stderr}`).toBe(0);
      expect(res.stdout).toMatch(/onnxruntime \d+\.\d+/);
      expect(res.stdout).toContain(`per_channel=${perChannel ? 'True' : 'False'}`);
      quantized.set(perChannel, readFileSync(out));
    }
    return quantized.get(perChannel)!;
  };

  it.skipIf(ortVersion === null)(`the quantized graph holds ORT's dynamic-quantization ops for every Conv1D and the LM head${live}`, () => {
    const graph = fromBinary(ModelProtoSchema, quantizedFile()).graph!;
    const count = (op: string) => graph.node.filter((n) => n.opType === op).length;
    const products = 4 * model.config.n_layer + 1; // c_attn, attn.c_proj, c_fc, mlp.c_proj per block; the LM head
    expect(count('MatMulInteger')).toBe(products);
    expect(count('DynamicQuantizeLinear')).toBe(products);
    expect(count('Gemm')).toBe(0);
    expect(count('DequantizeLinear')).toBe(2); // the int8 wte and wpe tables after their Gathers
    const int8 = graph.initializer.filter((t) => t.name.endsWith('_quantized')).map((t) => t.name);
    expect(int8).toContain('transformer.h.0.mlp.c_fc.weight_quantized');
    expect(int8.some((n) => n.startsWith('transformer.wte.weight.gemm'))).toBe(true);
  });

  for (const perChannel of [false, true]) {
    it.skipIf(ortVersion === null)(`onnxruntime-node's logits stay within 3% of the f32 logits' range, prompt and cached steps, ${perChannel ? 'per-channel' : 'per-tensor'} weight scales${live}`, async () => {
      const session = await ort.InferenceSession.create(quantizedFile(perChannel));
      try {
        const { n_layer: layers, n_head: heads, n_embd, vocab_size: V } = model.config;
        const out = await session.run({
          input_ids: i64(ort, [PROMPT]),
          attention_mask: i64(ort, [PROMPT.map(() => 1)]),
          position_ids: i64(ort, [PROMPT.map((_, i) => i)]),
          ...emptyPast(ort, 1, { layers, heads, headDim: n_embd / heads }),
        });
        const got = out.logits.data as Float32Array;
        const want = noGrad(() => {
          const ids = tensor([PROMPT], undefined, 'i32');
          const logits = model.forward(ids);
          const v = Float32Array.from(logits.dataSync());
          logits.dispose();
          ids.dispose();
          return v;
        });
        const worst = maxDiff(got, want);
        expect(worst).toBeLessThanOrEqual(RANGE_TOL * range(want));
        // Not f32: the activations really were quantized.
        expect(worst).toBeGreaterThan(1e-4 * range(want));
        let same = 0;
        for (let r = 0; r < PROMPT.length; r++) if (argmaxOf(got.subarray(r * V, (r + 1) * V)) === argmaxOf(want.subarray(r * V, (r + 1) * V))) same++;
        expect(same / PROMPT.length).toBeGreaterThanOrEqual(TOP1);
        // Cached decode: present fed back as past, each step's logits within the same tolerance of
        // Tessera's KV-cache logits (greedy tokens follow ORT's own argmax; they need not match).
        await checkCachedDecode({ ort, session, model, prompt: PROMPT, steps: 4, tolerance: (expected) => RANGE_TOL * range(expected), greedy: false });
      } finally {
        await session.release();
      }
    });
  }

  it.skipIf(!pythonRuns)(`the script fails with one clear line when onnxruntime or the input is missing${pythonRuns ? '' : ` [skipped: ${PYTHON} does not run]`}`, () => {
    // -S: no site-packages, so neither onnx nor onnxruntime imports.
    const bare = quantizeDynamic([PYTHON, '-S'], join(dir, 'f32.onnx'), join(dir, 'never.onnx'));
    expect(bare.status).toBe(2);
    expect(bare.stderr).toMatch(/ort_quantize_dynamic\.py: .* cannot import onnxruntime\.quantization .*pip install onnxruntime/);
    if (ortVersion !== null) {
      const missing = quantizeDynamic([PYTHON], join(dir, 'absent.onnx'), join(dir, 'never.onnx'));
      expect(missing.status).toBe(2);
      expect(missing.stderr).toContain(`input model '${join(dir, 'absent.onnx')}' does not exist`);
      writeFileSync(join(dir, 'junk.onnx'), 'not a model');
      const junk = quantizeDynamic([PYTHON], join(dir, 'junk.onnx'), join(dir, 'never.onnx'));
      expect(junk.status).toBe(2);
      expect(junk.stderr).toMatch(/junk\.onnx' is not a readable ONNX model/);
    }
  });
});
