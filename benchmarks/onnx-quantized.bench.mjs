// Which encoding of a quantized model's weights runs faster in ONNX Runtime: the same
// quantized GPT-2 exported with quantized: 'matmulnbits' (com.microsoft MatMulNBits +
// GatherBlockQuantized) and with quantized: 'qdq' (opset-21 DequantizeLinear feeding MatMul /
// Gather), next to the f32 export of the model before quantizing, in onnxruntime-node and
// onnxruntime-web (wasm, in Node), one intra-op thread each.
//
//   node onnx-quantized.bench.mjs           6 layers, n_embd 384, vocab 8192; int8 and int4 (groups of 32); 5 rounds
//   node onnx-quantized.bench.mjs --quick   3 rounds
//
// 'qdq' runs with session.qdq_matmulnbits_accuracy_level 0 (f32 activations, what Tessera computes);
// the variant marked "ORT's default fusion" runs without it.
//
// Timed: a 32-token prompt (no cache) and one cached decode step after it (past 32). Each round
// runs every variant once, interleaved, so a busy machine slows all alike; the best round counts.
import os from 'node:os';

const { GPT2, exportOnnxBytes, quantize } = await import('@tessera/models');
const { ready } = await import('@tessera/tensor');
const ortNode = await import('onnxruntime-node');
const ortWeb = await import('onnxruntime-web');

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 5;
const log = (...a) => console.error(...a);
await ready();
ortWeb.env.wasm.numThreads = 1;

const CONFIG = { n_layer: 6, n_head: 6, n_embd: 384, n_positions: 128, vocab_size: 8192 };
const PROMPT = Array.from({ length: 32 }, (_, i) => (i * 7919 + 13) % CONFIG.vocab_size);
const { n_layer: L, n_head: H, n_embd: C } = CONFIG;

// onnxruntime fuses DequantizeLinear + MatMul into MatMulNBits with accuracy_level 4 (activations
// quantized to int8) unless told otherwise; the exact variant keeps f32 activations, as the
// 'matmulnbits' export does, so the two compare like for like.
const EXACT_QDQ = { extra: { session: { qdq_matmulnbits_accuracy_level: '0' } } };
const variants = [];
{
  const f32 = new GPT2(CONFIG, { seed: 0 }).eval();
  variants.push({ name: 'f32', bytes: exportOnnxBytes(f32, { kvCache: true }) });
  f32.dispose();
  for (const bits of [8, 4]) {
    const q = await quantize(new GPT2(CONFIG, { seed: 0 }).eval(), { bits, groupSize: 32 });
    variants.push({ name: `int${bits} matmulnbits`, bytes: exportOnnxBytes(q, { kvCache: true }) });
    const qdq = exportOnnxBytes(q, { kvCache: true, quantized: 'qdq' });
    variants.push({ name: `int${bits} qdq`, bytes: qdq, session: EXACT_QDQ });
    variants.push({ name: `int${bits} qdq, ORT's default fusion (int8 activations)`, bytes: qdq });
    q.dispose();
  }
}

function feeds(ort, ids, start, past) {
  const i64 = (values) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, values.length]);
  const f = { input_ids: i64(ids), attention_mask: i64(Array.from({ length: start + ids.length }, () => 1)), position_ids: i64(ids.map((_, i) => start + i)) };
  for (let i = 0; i < L; i++) {
    for (const p of ['key', 'value']) f[`past_key_values.${i}.${p}`] = past ? past[`present.${i}.${p}`] : new ort.Tensor('float32', new Float32Array(0), [1, H, 0, C / H]);
  }
  return f;
}

const runtimes = [
  ['onnxruntime-node', ortNode, { intraOpNumThreads: 1, interOpNumThreads: 1 }],
  ['onnxruntime-web (wasm)', ortWeb, {}],
];
const results = [];
for (const [rt, ort, opts] of runtimes) {
  const sessions = [];
  for (const v of variants) sessions.push({ v, s: await ort.InferenceSession.create(v.bytes, { ...opts, ...v.session }), prompt: Infinity, step: Infinity });
  for (const x of sessions) {
    // Warm-up: first runs prepack weights.
    const out = await x.s.run(feeds(ort, PROMPT, 0, null));
    await x.s.run(feeds(ort, [1], PROMPT.length, out));
  }
  for (let r = 0; r < ROUNDS; r++) {
    for (const x of sessions) {
      let t = performance.now();
      const out = await x.s.run(feeds(ort, PROMPT, 0, null));
      x.prompt = Math.min(x.prompt, performance.now() - t);
      t = performance.now();
      await x.s.run(feeds(ort, [1], PROMPT.length, out));
      x.step = Math.min(x.step, performance.now() - t);
    }
  }
  for (const x of sessions) {
    results.push({ runtime: rt, variant: x.v.name, mib: x.v.bytes.length / 2 ** 20, promptMs: x.prompt, stepMs: x.step });
    await x.s.release();
  }
}

log(`GPT-2 ${L} layers, n_embd ${C}, vocab ${CONFIG.vocab_size}; prompt ${PROMPT.length} tokens, then 1 cached step; best of ${ROUNDS}; ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, 1 thread`);
console.log('| runtime | weights | file MiB | prompt ms | decode step ms |');
console.log('|---|---|---:|---:|---:|');
for (const r of results) console.log(`| ${r.runtime} | ${r.variant} | ${r.mib.toFixed(1)} | ${r.promptMs.toFixed(1)} | ${r.stepMs.toFixed(2)} |`);
