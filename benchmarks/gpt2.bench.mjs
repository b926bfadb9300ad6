// GPT-2 124M inference, one thread: Tessera (wasm kernels, KV-cache generation) against the
// same model written in TensorFlow.js on its wasm backend (XNNPACK), with the same random
// weights, measured in the same process.
//
//   node gpt2.bench.mjs           12 forward rounds, 64 generated tokens (tfjs: 12), writes results/gpt2.json
//   node gpt2.bench.mjs --quick   5 forward rounds, 16 generated tokens (tfjs: 4)
//
// Measured: the forward pass over a 64-token prompt (full logits [64, 50257] in both; rounds
// alternate between the two, best round counts, since the machine may be shared), and greedy
// generation after that prompt. This script's tfjs loop recomputes the whole prefix for each
// token (only the last position goes through the LM head): a choice of this script, not a
// limit of tfjs, so its decode ratio is not a comparison of peers at their best; that is
// gpt2-peers.bench.mjs (tfjs with its own KV cache, ONNX Runtime, every prompt length, a
// SIMD128 column beside the relaxed-SIMD one). Tessera's decode rate
// counts the tokens after the first (the first one includes the prompt's prefill); tfjs's
// likewise. Node 20 validates relaxed-SIMD only behind --experimental-wasm-relaxed-simd; the
// script re-runs itself with that V8 flag there.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { reexecForRelaxedSimd } from './relaxed-simd.mjs';

reexecForRelaxedSimd();

const { GPT2 } = await import('@tessera/models');
const { noGrad, setBackend, tensor } = await import('@tessera/tensor');
const tf = await import('@tensorflow/tfjs');
const { setThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');

const quick = process.argv.includes('--quick');
const PROMPT = 64;
const FORWARD_ROUNDS = quick ? 5 : 12;
const NEW_TOKENS = quick ? 16 : 64;
const TFJS_NEW_TOKENS = quick ? 4 : 12;
const here = dirname(fileURLToPath(import.meta.url));
const log = (...a) => console.error(...a);

// ---------------------------------------------------------------------------------------------
// Tessera

const be = await setBackend('wasm');
// The comparison is single-threaded (tfjs-wasm has no threads in Node); --threads N
// measures Tessera's worker pool against the same one-thread tfjs run.
const threadsArg = process.argv.indexOf('--threads');
await be.setNumThreads(threadsArg > 0 ? Number(process.argv[threadsArg + 1]) : 1);
let t0 = performance.now();
// Inference setup: the weight matrices packed once for the GEMM (model.prepackWeights), as
// tfjs-wasm's XNNPACK caches its packed weights per tensor; the results are the same bits.
const model = new GPT2({}, { seed: 0 }).eval().prepackWeights();
const cfg = model.config;
const C = cfg.n_embd;
const H = cfg.n_head;
const D = C / H;
const V = cfg.vocab_size;
log(`tessera: GPT-2 ${(model.numParameters() / 1e6).toFixed(1)}M parameters initialised in ${((performance.now() - t0) / 1e3).toFixed(1)} s (${be.name}, relaxed-SIMD ${be.features.relaxedSimd})`);

// A fixed pseudo-random prompt of ordinary token ids.
const prompt = Array.from({ length: PROMPT }, (_, i) => (i * 7919 + 13) % 50000);

function tesseraForward() {
  return noGrad(() => {
    const ids = tensor([prompt], undefined, 'i32');
    const logits = model.forward(ids);
    const out = logits.dataSync();
    logits.dispose();
    ids.dispose();
    return out;
  });
}

async function tesseraGenerate(n) {
  const times = [];
  const start = performance.now();
  const tokens = await model.generate(prompt, { maxNewTokens: n, greedy: true, stopTokens: [], onToken: () => void times.push(performance.now()) });
  return { tokens, start, times };
}

// ---------------------------------------------------------------------------------------------
// TensorFlow.js: the same network, same weights, eager ops on the wasm backend.

setThreadsCount(1);
await tf.setBackend('wasm');
await tf.ready();
if (tf.getBackend() !== 'wasm') throw new Error(`tfjs backend is ${tf.getBackend()}, expected wasm`);

t0 = performance.now();
const params = new Map(model.namedParameters().map(([name, p]) => [name, tf.tensor(p.dataSync(), p.shape)]));
// tfjs's matMul with transposeB is an order of magnitude slower than with a pre-transposed
// operand on the wasm backend, so the tied LM head gets its own [C, V] copy of wte.
params.set('lm_head.weight.T', tf.transpose(params.get('transformer.wte.weight')));
const P = (name) => params.get(name);
log(`tfjs: weights copied in ${((performance.now() - t0) / 1e3).toFixed(1)} s`);

function tfLayerNorm(x, w, b) {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, cfg.layer_norm_epsilon))), w), b);
}

function tfGelu(x) {
  // GPT-2's gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(x, tf.mul(x, x)))));
  return tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(inner)));
}

/** Logits [T, V] (or [1, V] for the last position) for ids (number[]). */
function tfForward(ids, lastOnly) {
  return tf.tidy(() => {
    const T = ids.length;
    let x = tf.add(tf.gather(P('transformer.wte.weight'), tf.tensor1d(ids, 'int32')), tf.slice(P('transformer.wpe.weight'), [0, 0], [T, C]));
    const rows = tf.range(0, T, 1, 'int32').reshape([T, 1]);
    const cols = tf.range(0, T, 1, 'int32').reshape([1, T]);
    const mask = tf.mul(tf.cast(tf.greater(cols, rows), 'float32'), -1e9); // [T, T] causal
    for (let i = 0; i < cfg.n_layer; i++) {
      const pre = `transformer.h.${i}.`;
      const h = tfLayerNorm(x, P(`${pre}ln_1.weight`), P(`${pre}ln_1.bias`));
      const qkv = tf.add(tf.matMul(h, P(`${pre}attn.c_attn.weight`)), P(`${pre}attn.c_attn.bias`)); // [T, 3C]
      const [q, k, v] = tf.split(qkv, 3, 1).map((t) => tf.transpose(tf.reshape(t, [T, H, D]), [1, 0, 2])); // [H, T, D]
      const att = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(D)), mask));
      const y = tf.reshape(tf.transpose(tf.matMul(att, v), [1, 0, 2]), [T, C]);
      x = tf.add(x, tf.add(tf.matMul(y, P(`${pre}attn.c_proj.weight`)), P(`${pre}attn.c_proj.bias`)));
      const h2 = tfLayerNorm(x, P(`${pre}ln_2.weight`), P(`${pre}ln_2.bias`));
      const m = tfGelu(tf.add(tf.matMul(h2, P(`${pre}mlp.c_fc.weight`)), P(`${pre}mlp.c_fc.bias`)));
      x = tf.add(x, tf.add(tf.matMul(m, P(`${pre}mlp.c_proj.weight`)), P(`${pre}mlp.c_proj.bias`)));
    }
    x = tfLayerNorm(x, P('transformer.ln_f.weight'), P('transformer.ln_f.bias'));
    if (lastOnly) x = tf.slice(x, [T - 1, 0], [1, C]);
    return tf.matMul(x, P('lm_head.weight.T'));
  });
}

function tfjsForward() {
  const logits = tfForward(prompt, false);
  const out = logits.dataSync();
  logits.dispose();
  return out;
}

function tfjsGenerate(n) {
  const ids = prompt.slice();
  const tokens = [];
  const times = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const logits = tfForward(ids, true);
    const next = tf.tidy(() => tf.argMax(tf.reshape(logits, [V])));
    const id = next.dataSync()[0];
    next.dispose();
    logits.dispose();
    tokens.push(id);
    ids.push(id);
    times.push(performance.now());
  }
  return { tokens, start, times };
}

// ---------------------------------------------------------------------------------------------
// Cross-check, then time.

{
  const a = tesseraForward();
  const b = tfjsForward();
  let maxDiff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  log(`cross-check: logits [${PROMPT}, ${V}] max |tessera - tfjs| = ${maxDiff.toExponential(2)} (max |logit| ${scale.toFixed(2)})`);
  if (!(maxDiff <= 1e-3 * Math.max(1, scale))) throw new Error(`tessera and tfjs logits differ: max |diff| ${maxDiff}`);
  // Greedy tokens, checked before anything is timed (and again after the timed runs).
  const want = (await tesseraGenerate(4)).tokens;
  const got = tfjsGenerate(4).tokens;
  if (got.join() !== want.join()) throw new Error(`greedy tokens differ: tessera ${want.join(' ')}, tfjs ${got.join(' ')}`);
}

/** Runs the contenders in alternation (so load changes hit both) and keeps every round's time. */
function timeInterleaved(fns, rounds) {
  const ms = fns.map(() => []);
  for (let r = 0; r < rounds; r++) {
    fns.forEach((fn, i) => {
      const s = performance.now();
      fn();
      ms[i].push(performance.now() - s);
    });
  }
  return ms.map((all) => {
    const sorted = [...all].sort((x, y) => x - y);
    return { best: sorted[0], median: sorted[Math.floor(sorted.length / 2)], all };
  });
}

const [fwdT, fwdF] = timeInterleaved([tesseraForward, tfjsForward], FORWARD_ROUNDS);
// The ratio of the two medians is printed beside the best-against-best one the target uses.
const forward = { tessera: fwdT, tfjs: fwdF, ratioOfMedians: fwdF.median / fwdT.median };

function rates({ start, times }) {
  const n = times.length;
  return {
    tokens: n,
    firstTokenMs: times[0] - start,
    totalMs: times[n - 1] - start,
    // Steady state: tokens after the first, over the time they took.
    decodeTokensPerSec: n > 1 ? (n - 1) / ((times[n - 1] - times[0]) / 1e3) : NaN,
    endToEndTokensPerSec: n / ((times[n - 1] - start) / 1e3),
  };
}

await tesseraGenerate(4); // warm-up
// Two runs, the faster one counts (a shared machine only ever slows a run down).
const genRuns = [await tesseraGenerate(NEW_TOKENS), await tesseraGenerate(NEW_TOKENS)];
const genT = genRuns.map(rates)[0].decodeTokensPerSec >= genRuns.map(rates)[1].decodeTokensPerSec ? genRuns[0] : genRuns[1];
const genF = tfjsGenerate(TFJS_NEW_TOKENS);
const generation = { tessera: rates(genT), tfjs: rates(genF) };
const agree = genF.tokens.filter((t, i) => t === genT.tokens[i]).length;
if (agree !== genF.tokens.length) throw new Error(`greedy tokens differ: tessera ${genT.tokens.join(' ')}, tfjs ${genF.tokens.join(' ')}`);

const ratios = {
  forward: forward.tfjs.best / forward.tessera.best,
  decode: generation.tessera.decodeTokensPerSec / generation.tfjs.decodeTokensPerSec,
  endToEnd: generation.tessera.endToEndTokensPerSec / generation.tfjs.endToEndTokensPerSec,
};
const targets = {
  forwardAtLeast2x: ratios.forward >= 2,
  decodeAtLeast10x: ratios.decode >= 10,
  decodeAtLeast15TokensPerSec: generation.tessera.decodeTokensPerSec >= 15,
};

const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', logicalCores: os.cpus().length, node: process.version, v8: process.versions.v8, platform: `${os.platform()} ${os.arch()}` };
const f1 = (x) => x.toFixed(1);
console.log(`\nGPT-2 124M (random weights), Tessera ${be.features.numThreads} thread(s), tfjs-wasm 1 thread, ${machine.cpu}, Node ${machine.node}${quick ? ' (--quick)' : ''}\n`);
console.log('| | tessera | tfjs-wasm | tessera / tfjs |');
console.log('|---|---|---|---|');
console.log(`| forward, ${PROMPT}-token prompt (ms, best of ${FORWARD_ROUNDS}) | ${f1(forward.tessera.best)} | ${f1(forward.tfjs.best)} | ${ratios.forward.toFixed(2)}x |`);
console.log(`| forward, median round (ms; ratio of the medians) | ${f1(forward.tessera.median)} | ${f1(forward.tfjs.median)} | ${forward.ratioOfMedians.toFixed(2)}x |`);
console.log(
  `| greedy decode (tokens/s after the first) | ${f1(generation.tessera.decodeTokensPerSec)} | ${generation.tfjs.decodeTokensPerSec.toFixed(2)} | ${ratios.decode.toFixed(1)}x |`,
);
console.log(
  `| generation end to end incl. prefill (tokens/s) | ${f1(generation.tessera.endToEndTokensPerSec)} (${generation.tessera.tokens} tokens) | ${generation.tfjs.endToEndTokensPerSec.toFixed(2)} (${generation.tfjs.tokens} tokens) | ${ratios.endToEnd.toFixed(1)}x |`,
);
console.log(
  `\nTessera: KV cache, wasm ${be.features.relaxedSimd ? 'relaxed-SIMD' : 'SIMD128'} kernels; tfjs ${tf.version.tfjs}: this script's loop recomputes the prefix per token (no KV cache; see gpt2-peers.bench.mjs), ` +
    `threads ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 'set to 1' : 'unavailable'}. Targets: forward >= 2x ${targets.forwardAtLeast2x ? 'met' : 'NOT met'}; ` +
    `decode >= 10x ${targets.decodeAtLeast10x ? 'met' : 'NOT met'}; decode >= 15 tokens/s ${targets.decodeAtLeast15TokensPerSec ? 'met' : 'NOT met'}.`,
);

const outDir = join(here, 'results');
mkdirSync(outDir, { recursive: true });
const result = {
  date: new Date().toISOString(),
  command: `node benchmarks/gpt2.bench.mjs${quick ? ' --quick' : ''}`,
  machine,
  tfjs: tf.version.tfjs,
  tesseraBackend: { name: be.name, relaxedSimd: be.features.relaxedSimd, threads: be.features.numThreads },
  model: { n_layer: cfg.n_layer, n_head: cfg.n_head, n_embd: C, vocab_size: V, parameters: model.numParameters() },
  promptTokens: PROMPT,
  forwardMs: forward,
  generation,
  greedyAgreement: { agree, of: genF.tokens.length },
  ratios,
  targets,
};
writeFileSync(join(outDir, 'gpt2.json'), `${JSON.stringify(result, null, 2)}\n`);
log(`wrote ${join('benchmarks', 'results', 'gpt2.json')}`);
model.dispose();
for (const t of params.values()) t.dispose();
