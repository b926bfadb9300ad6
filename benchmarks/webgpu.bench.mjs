// Tessera on WebGPU next to Tessera on wasm, in one process: kernels (matmul, elementwise,
// softmax, layerNorm) called on the backends directly, and a small GPT-2 (forward, one AdamW
// training step, KV-cache decoding) through @tessera/models.
//
//   node webgpu.bench.mjs           writes results/webgpu.json
//   node webgpu.bench.mjs --quick   fewer rounds and a shorter time per task
//
// Every WebGPU iteration ends with a read (`await backend.read(out, 'f32', 0, 1)`, or `await
// t.data()` / `item()`): it waits for the GPU, so a time covers submitting, running and
// reading back, as the wasm time covers the call and a one-element readSync. The matmul table
// also has the WebGPU rate with 8 calls per read, which shows the per-submission cost. Both
// backends are checked to agree before anything is timed. Contenders run in alternation
// (rounds), the fastest iteration counts; medians are in the JSON.
//
// The adapter is whatever `webgpu()` finds. On a machine set up with .ci/webgpu-setup.sh that is
// Mesa's lavapipe, a software Vulkan driver that runs the shaders on the CPU (LLVM, all cores):
// its figures say what the WebGPU path costs on this CPU, not what a GPU does. Without an
// adapter the script says so and exits 0 without writing results. Node 20 validates
// relaxed-SIMD only behind --experimental-wasm-relaxed-simd; the script re-runs itself with
// that V8 flag there, so the wasm side uses its best build.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWasmBackend } from '@tessera/core';
import { reexecForRelaxedSimd } from './relaxed-simd.mjs';

reexecForRelaxedSimd();

const { webgpu, WebGPUUnavailableError } = await import('@tessera/webgpu');
const { GPT2 } = await import('@tessera/models');
const { AdamW } = await import('@tessera/optim');
const { noGrad, setBackend, tensor } = await import('@tessera/tensor');

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 2 : 4;
/** Kernel tasks: time budget per task per round, ms (at least MIN_ITERS iterations). */
const TIME_MS = quick ? 250 : 600;
const MIN_ITERS = 3;
/** WebGPU calls per read in the batched matmul column. */
const BATCH = 8;
const here = dirname(fileURLToPath(import.meta.url));
const log = (...a) => console.error(...a);

let gpu;
try {
  gpu = await webgpu();
} catch (e) {
  if (!(e instanceof WebGPUUnavailableError)) throw e;
  console.log(`webgpu bench skipped: ${e.message}`);
  process.exit(0);
}
const wasm = await createWasmBackend();
const info = gpu.adapterInfo;
const adapter = [info.description || info.device || 'unknown adapter', info.vendor, info.architecture].filter(Boolean).join(', ');
/** The adapter's name for table headers (e.g. "llvmpipe"). */
const adapterShort = (info.description || info.device || 'WebGPU').split(':')[0].trim();
const software = info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader/i.test(`${info.description} ${info.device} ${info.architecture}`);
log(`webgpu adapter: ${adapter}${software ? ' (software: runs on the CPU)' : ''}; wasm: ${wasm.features.relaxedSimd ? 'relaxed-SIMD' : 'SIMD128'}, ${wasm.features.numThreads} thread(s)`);

function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
const randArray = (n, seed) => Float32Array.from({ length: n }, lcg(seed));

/** Runs `fn` (sync or async) for `timeMs` and at least `minIters` times; the iteration times in ms. */
async function sample(fn, timeMs, minIters) {
  const ms = [];
  const start = performance.now();
  while (ms.length < minIters || performance.now() - start < timeMs) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return ms;
}

/**
 * Times the tasks in alternation over `rounds` rounds: per task { best, median, iterations } in
 * ms. Kernels: TIME_MS per task per round; GPT-2 tasks (up to seconds each on a software
 * adapter): one iteration per task per round.
 */
async function timeTasks(tasks, { rounds = ROUNDS, timeMs = TIME_MS, minIters = MIN_ITERS } = {}) {
  const all = tasks.map(() => []);
  for (let r = 0; r < rounds; r++) for (const [i, t] of tasks.entries()) all[i] = all[i].concat(await sample(t, timeMs, minIters));
  return all.map((ms) => {
    const s = [...ms].sort((a, b) => a - b);
    return { best: s[0], median: s[Math.floor(s.length / 2)], iterations: s.length };
  });
}
const MODEL_TIMING = { rounds: quick ? 2 : 3, timeMs: 0, minIters: 1 };

function maxRelDiff(a, b) {
  let d = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return d / Math.max(scale, 1e-30);
}

/** One operand on each backend holding `data`. */
function upload(data) {
  const w = wasm.alloc(data.length * 4);
  const g = gpu.alloc(data.length * 4);
  wasm.write(w, data);
  gpu.write(g, data);
  return { wasm: w, gpu: g, n: data.length };
}
const d = (s) => ({ storage: s, offset: 0 });
const st = (s) => ({ storage: s, offset: 0, strides: [1] });

/**
 * A kernel case: `call(be, side)` runs it once on a backend; `out` is the operand checked and
 * read. Returns the timings of wasm, WebGPU and (batched) WebGPU.
 */
async function kernelCase(name, call, out, batched = false) {
  call(wasm, 'wasm');
  call(gpu, 'gpu');
  const want = wasm.readSync(out.wasm, 'f32');
  const got = await gpu.read(out.gpu, 'f32');
  const diff = maxRelDiff(got, want);
  if (!(diff <= 1e-4)) throw new Error(`${name}: WebGPU and wasm differ by ${diff} (relative to the largest value)`);
  const tasks = [
    () => {
      call(wasm, 'wasm');
      wasm.readSync(out.wasm, 'f32', 0, 1);
    },
    async () => {
      call(gpu, 'gpu');
      await gpu.read(out.gpu, 'f32', 0, 1);
    },
  ];
  if (batched) {
    tasks.push(async () => {
      for (let i = 0; i < BATCH; i++) call(gpu, 'gpu');
      await gpu.read(out.gpu, 'f32', 0, 1);
    });
  }
  const [w, g, gb] = await timeTasks(tasks);
  if (gb) for (const k of ['best', 'median']) gb[k] /= BATCH;
  log(`${name}: wasm ${w.best.toFixed(3)} ms, webgpu ${g.best.toFixed(3)} ms${gb ? `, webgpu batched ${gb.best.toFixed(3)} ms/call` : ''} (agree to ${diff.toExponential(1)})`);
  return { name, maxRelDiff: diff, wasmMs: w, webgpuMs: g, ...(gb ? { webgpuBatchedMs: gb } : {}) };
}

// ---------------------------------------------------------------------------------------------
// Kernels

const matmul = [];
for (const n of [128, 256, 512]) {
  const a = upload(randArray(n * n, n));
  const b = upload(randArray(n * n, n + 1));
  const out = upload(new Float32Array(n * n));
  const r = await kernelCase(`matmul ${n}`, (be, s) => be.matmul({ a: d(a[s]), b: d(b[s]), out: d(out[s]), m: n, n, k: n }), out, true);
  const gflops = (ms) => (2 * n * n * n) / (ms / 1e3) / 1e9;
  matmul.push({ n, ...r, gflops: { wasm: gflops(r.wasmMs.best), webgpu: gflops(r.webgpuMs.best), webgpuBatched: gflops(r.webgpuBatchedMs.best) } });
}

const kernels = [];
// The small GPT-2's LM head below, one decoding step (m = 1) and 64 rows: logits = x @ wte^T.
for (const m of [1, 64]) {
  const [k, n] = [256, 4096];
  const a = upload(randArray(m * k, 8));
  const b = upload(randArray(n * k, 9));
  const out = upload(new Float32Array(m * n));
  const r = await kernelCase(`matmul [${m}, ${k}] x [${n}, ${k}]^T`, (be, s) => be.matmul({ a: d(a[s]), b: d(b[s]), out: d(out[s]), m, n, k, transB: true }), out);
  kernels.push({ ...r, elements: m * n });
}
for (const n of [4096, 1 << 20]) {
  const a = upload(randArray(n, 3));
  const b = upload(randArray(n, 4));
  const out = upload(new Float32Array(n));
  kernels.push({ ...(await kernelCase(`add [${n}]`, (be, s) => be.binary({ op: 'add', a: st(a[s]), b: st(b[s]), out: d(out[s]), shape: [n] }), out)), elements: n });
  if (n > 4096) kernels.push({ ...(await kernelCase(`gelu [${n}]`, (be, s) => be.unary({ op: 'gelu', x: st(a[s]), out: d(out[s]), shape: [n] }), out)), elements: n });
}
for (const [rows, cols] of [[64, 128], [512, 1024]]) {
  const x = upload(randArray(rows * cols, 5).map((v) => 8 * v));
  const out = upload(new Float32Array(rows * cols));
  kernels.push({ ...(await kernelCase(`softmax [${rows}, ${cols}]`, (be, s) => be.softmax({ x: d(x[s]), out: d(out[s]), rows, cols }), out)), elements: rows * cols });
}
for (const [rows, cols] of [[128, 256], [512, 768]]) {
  const x = upload(randArray(rows * cols, 6));
  const gamma = upload(new Float32Array(cols).fill(1));
  const beta = upload(new Float32Array(cols));
  const out = upload(new Float32Array(rows * cols));
  const mean = upload(new Float32Array(rows));
  const rstd = upload(new Float32Array(rows));
  kernels.push({
    ...(await kernelCase(
      `layerNorm [${rows}, ${cols}]`,
      (be, s) => be.layerNorm({ x: d(x[s]), gamma: d(gamma[s]), beta: d(beta[s]), out: d(out[s]), mean: d(mean[s]), rstd: d(rstd[s]), rows, cols, eps: 1e-5 }),
      out,
    )),
    elements: rows * cols,
  });
}

// ---------------------------------------------------------------------------------------------
// GPT-2 (small): the same weights on both backends.

const CONFIG = { n_layer: 4, n_head: 4, n_embd: 256, vocab_size: 4096, n_positions: 128, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 };
const T = CONFIG.n_positions;
const TRAIN_BATCH = 4;
const PROMPT = 16;
const NEW_TOKENS = quick ? 16 : 48;

await setBackend(wasm);
const models = { wasm: new GPT2(CONFIG, { seed: 0 }) };
const weights = new Map(models.wasm.namedParameters().map(([k, p]) => [k, { shape: p.shape, data: p.dataSync().slice() }]));
await setBackend(gpu);
models.gpu = new GPT2(CONFIG, { init: false });
models.gpu.loadStateDict(weights);
const backends = { wasm, gpu };
const optimizers = {};
for (const s of ['wasm', 'gpu']) {
  await setBackend(backends[s]);
  optimizers[s] = new AdamW(models[s].flat.groups(0.1), { lr: 1e-4 });
}
const rnd = lcg(7);
const tokens = Array.from({ length: TRAIN_BATCH * (T + 1) }, () => Math.floor((rnd() + 0.5) * CONFIG.vocab_size));
const forwardIds = tokens.slice(0, T);
const prompt = tokens.slice(0, PROMPT);

async function forward(s) {
  await setBackend(backends[s]);
  const logits = noGrad(() => {
    const ids = tensor([forwardIds], undefined, 'i32');
    const out = models[s].forward(ids);
    ids.dispose();
    return out;
  });
  const values = s === 'wasm' ? logits.dataSync() : await logits.data();
  logits.dispose();
  return values;
}

async function trainStep(s) {
  await setBackend(backends[s]);
  const ids = new Int32Array(TRAIN_BATCH * T);
  const targets = new Int32Array(TRAIN_BATCH * T);
  for (let b = 0; b < TRAIN_BATCH; b++) {
    for (let t = 0; t < T; t++) {
      ids[b * T + t] = tokens[b * (T + 1) + t];
      targets[b * T + t] = tokens[b * (T + 1) + t + 1];
    }
  }
  const x = tensor(ids, [TRAIN_BATCH, T], { dtype: 'i32' });
  const y = tensor(targets, [TRAIN_BATCH, T], { dtype: 'i32' });
  const loss = models[s].loss(x, y);
  loss.backward();
  optimizers[s].step();
  models[s].zeroGrad();
  const value = await loss.item();
  for (const t of [loss, x, y]) t.dispose();
  return value;
}

async function decode(s, n) {
  await setBackend(backends[s]);
  const times = [];
  const start = performance.now();
  const out = await models[s].generate(prompt, { maxNewTokens: n, greedy: true, stopTokens: [], onToken: () => void times.push(performance.now()) });
  return { tokens: out, firstTokenMs: times[0] - start, decodeTokensPerSec: (times.length - 1) / ((times[times.length - 1] - times[0]) / 1e3) };
}

// Cross-checks (they also compile every shader the timed runs use).
const logitsDiff = maxRelDiff(await forward('gpu'), await forward('wasm'));
if (!(logitsDiff <= 1e-4)) throw new Error(`GPT-2 logits differ between WebGPU and wasm by ${logitsDiff}`);
const genCheck = { wasm: await decode('wasm', 8), gpu: await decode('gpu', 8) };
if (genCheck.wasm.tokens.join() !== genCheck.gpu.tokens.join()) throw new Error(`greedy tokens differ: wasm ${genCheck.wasm.tokens} vs webgpu ${genCheck.gpu.tokens}`);
const lossCheck = { wasm: await trainStep('wasm'), gpu: await trainStep('gpu') };
if (!(Math.abs(lossCheck.wasm - lossCheck.gpu) <= 1e-5 * lossCheck.wasm)) throw new Error(`training losses differ: wasm ${lossCheck.wasm}, webgpu ${lossCheck.gpu}`);
log(`gpt-2: logits agree to ${logitsDiff.toExponential(1)}, losses ${lossCheck.wasm.toFixed(5)} / ${lossCheck.gpu.toFixed(5)}, greedy tokens agree`);

const [fwdW, fwdG] = await timeTasks([() => forward('wasm'), () => forward('gpu')], MODEL_TIMING);
log(`gpt-2 forward: wasm ${fwdW.best.toFixed(1)} ms, webgpu ${fwdG.best.toFixed(1)} ms`);
const [stepW, stepG] = await timeTasks([() => trainStep('wasm'), () => trainStep('gpu')], MODEL_TIMING);
log(`gpt-2 training step: wasm ${stepW.best.toFixed(1)} ms, webgpu ${stepG.best.toFixed(1)} ms`);
// Two decoding runs per backend, alternating; the faster counts.
const decodes = { wasm: [], gpu: [] };
for (let r = 0; r < 2; r++) for (const s of ['wasm', 'gpu']) decodes[s].push(await decode(s, NEW_TOKENS));
const bestDecode = (runs) => runs.reduce((a, b) => (b.decodeTokensPerSec > a.decodeTokensPerSec ? b : a));
const decW = bestDecode(decodes.wasm);
const decG = bestDecode(decodes.gpu);
log(`gpt-2 decode: wasm ${decW.decodeTokensPerSec.toFixed(1)} tokens/s, webgpu ${decG.decodeTokensPerSec.toFixed(1)} tokens/s`);

// ---------------------------------------------------------------------------------------------
// Report

const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', logicalCores: os.cpus().length, node: process.version, platform: `${os.platform()} ${os.arch()}` };
const f = (x, digits = 1) => x.toFixed(digits);
/** WebGPU's speed relative to wasm's (wasm time / WebGPU time). */
const ratio = (wasmMs, gpuMs) => `${f(wasmMs / gpuMs, 3)}x`;
const W = `wasm (${wasm.features.numThreads} thread${wasm.features.numThreads === 1 ? '' : 's'})`;
const G = `WebGPU (${adapterShort})`;
const lines = [];
lines.push(`WebGPU adapter: ${adapter}${software ? ' (a CPU software adapter: these are not GPU speeds)' : ''}`);
lines.push(`wasm: ${wasm.features.relaxedSimd ? 'relaxed-SIMD' : 'SIMD128'} build, ${wasm.features.numThreads} thread(s); ${machine.cpu}, ${machine.logicalCores} logical cores, Node ${machine.node}${quick ? ' (--quick)' : ''}`);
lines.push('');
lines.push(`| matmul (square, f32) | ${W} GFLOPS | ${G} GFLOPS, read per call | ${G} GFLOPS, ${BATCH} calls per read | WebGPU / wasm speed |`);
lines.push('|---|---:|---:|---:|---:|');
for (const m of matmul) lines.push(`| ${m.n} | ${f(m.gflops.wasm)} | ${f(m.gflops.webgpu)} | ${f(m.gflops.webgpuBatched)} | ${ratio(m.wasmMs.best, m.webgpuMs.best)} |`);
lines.push('');
lines.push(`| kernel (f32) | ${W} ms | ${G} ms, read per call | WebGPU / wasm speed |`);
lines.push('|---|---:|---:|---:|');
for (const k of kernels) lines.push(`| ${k.name} | ${f(k.wasmMs.best, 3)} | ${f(k.webgpuMs.best, 3)} | ${ratio(k.wasmMs.best, k.webgpuMs.best)} |`);
lines.push('');
const cfgText = `${CONFIG.n_layer} layers, ${CONFIG.n_head} heads, ${CONFIG.n_embd} wide, context ${T}, vocabulary ${CONFIG.vocab_size}, ${(models.wasm.numParameters() / 1e6).toFixed(2)}M parameters`;
lines.push(`| GPT-2 (${cfgText}) | ${W} | ${G} | WebGPU / wasm speed |`);
lines.push('|---|---:|---:|---:|');
lines.push(`| forward, ${T} tokens, logits read back (ms) | ${f(fwdW.best)} | ${f(fwdG.best)} | ${ratio(fwdW.best, fwdG.best)} |`);
lines.push(`| training step, batch ${TRAIN_BATCH} x ${T}: loss, backward, AdamW, loss read (ms) | ${f(stepW.best)} | ${f(stepG.best)} | ${ratio(stepW.best, stepG.best)} |`);
lines.push(
  `| greedy decode, KV cache, ${PROMPT}-token prompt (tokens/s after the first of ${NEW_TOKENS}) | ${f(decW.decodeTokensPerSec)} | ${f(decG.decodeTokensPerSec)} | ${f(decG.decodeTokensPerSec / decW.decodeTokensPerSec, 3)}x |`,
);
console.log(`\n${lines.join('\n')}\n`);

const outDir = join(here, 'results');
mkdirSync(outDir, { recursive: true });
const result = {
  date: new Date().toISOString(),
  command: `node benchmarks/webgpu.bench.mjs${quick ? ' --quick' : ''}`,
  machine,
  adapter: { ...info, software },
  wasm: { relaxedSimd: wasm.features.relaxedSimd, threads: wasm.features.numThreads },
  timing: {
    kernels: { rounds: ROUNDS, msPerTaskPerRound: TIME_MS, minIterations: MIN_ITERS, webgpuCallsPerReadBatched: BATCH },
    gpt2: { rounds: MODEL_TIMING.rounds, iterationsPerRound: 1, decodeRuns: 2 },
    statistic: 'best iteration (ms); median alongside',
  },
  matmul,
  kernels,
  gpt2: {
    config: CONFIG,
    parameters: models.wasm.numParameters(),
    logitsMaxRelDiff: logitsDiff,
    forwardMs: { wasm: fwdW, webgpu: fwdG },
    trainStepMs: { batch: TRAIN_BATCH, wasm: stepW, webgpu: stepG },
    decode: {
      promptTokens: PROMPT,
      newTokens: NEW_TOKENS,
      wasm: { tokensPerSec: decW.decodeTokensPerSec, firstTokenMs: decW.firstTokenMs },
      webgpu: { tokensPerSec: decG.decodeTokensPerSec, firstTokenMs: decG.firstTokenMs },
    },
  },
  table: lines.join('\n'),
};
writeFileSync(join(outDir, 'webgpu.json'), `${JSON.stringify(result, null, 2)}\n`);
log(`wrote ${join('benchmarks', 'results', 'webgpu.json')}`);
for (const s of ['wasm', 'gpu']) {
  optimizers[s].dispose();
  models[s].dispose();
}
gpu.destroy();
