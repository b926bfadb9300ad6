// Where the time goes: wall time per backend kernel (and per matmul shape) of the two GPT-2
// workloads the threads suite measures, by wrapping every kernel method of Tessera's wasm
// backend with a timer. Kernels are synchronous, so a call's wall time is its whole cost
// (on 2 threads: the caller's wait for the slowest part).
//
//   node kernel-profile.mjs                    GPT-2 124M, forward over a 64-token prompt
//   node kernel-profile.mjs --train            small GPT-2 training step (threads suite's model)
//   node kernel-profile.mjs --decode           GPT-2 124M decode step (KV cache, 64 cached positions)
//   node kernel-profile.mjs --threads 2        the worker pool (default: 1 thread)
//   node kernel-profile.mjs --rounds 5         timed repetitions after 2 (forward) / 3 warm-ups
//   node kernel-profile.mjs --no-prepack       forward without model.prepackWeights()
//
// The table is per repetition: ms per kernel (matmul split by [batch x m x n x k] and
// transposes), calls, GFLOPS for matmul, and the share of the step; "outside kernels" is the
// rest of the wall time (JS: autograd, shape logic, allocation). Node 20 validates
// relaxed-SIMD only behind --experimental-wasm-relaxed-simd: the script re-runs itself with it.
import { reexecForRelaxedSimd } from './relaxed-simd.mjs';
reexecForRelaxedSimd();

const { createWasmBackend } = await import('@tessera/core');
const { noGrad, setBackend, tensor } = await import('@tessera/tensor');
const { GPT2 } = await import('@tessera/models');
const { AdamW } = await import('@tessera/optim');

const argv = process.argv.slice(2);
const option = (name, fallback) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : fallback);
const train = argv.includes('--train');
const threads = option('--threads', 1);
const rounds = option('--rounds', 5);

const be = await createWasmBackend({ threads });

/** ms, calls and flops per key; every kernel method of the backend reports here. */
const stats = new Map();
// The kernels may be own properties (bound by the kernel table) or prototype methods: walk the chain.
const names = new Set();
for (let o = be; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) for (const n of Object.getOwnPropertyNames(o)) names.add(n);
const KERNELS = [...names].filter(
  (name) => typeof be[name] === 'function' && !['constructor', 'alloc', 'free', 'write', 'readSync', 'read', 'sync', 'setNumThreads', 'dispose', 'untrack', 'attachPool', 'useThreads', 'memoryInfo', 'prepackedMatmulBElements'].includes(name),
);
for (const name of KERNELS) {
  const kernel = be[name].bind(be);
  be[name] = (p, ...rest) => {
    const t0 = performance.now();
    const result = kernel(p, ...rest);
    const ms = performance.now() - t0;
    let key = name + (typeof p?.op === 'string' ? ` ${p.op}` : '');
    let flops = 0;
    if (name === 'matmul') {
      const batch = p.batch ?? 1;
      key = `matmul [${batch > 1 ? `${batch} x ` : ''}${p.m} x ${p.n} x ${p.k}]${p.transA ? ' transA' : ''}${p.transB ? ' transB' : ''}`;
      flops = 2 * batch * p.m * p.n * p.k;
    }
    const s = stats.get(key) ?? { ms: 0, calls: 0, flops: 0 };
    s.ms += ms;
    s.calls++;
    s.flops += flops;
    stats.set(key, s);
    return result;
  };
}

// After the wrapping: the tensor layer binds the backend's kernels when the backend is set.
await setBackend(be);

let step;
let what;
if (train) {
  const config = { vocab_size: 4096, n_positions: 128, n_embd: 256, n_layer: 4, n_head: 4, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 };
  const [BATCH, T] = [8, 128];
  const model = new GPT2(config, { seed: 0 });
  const opt = new AdamW(model.flat.groups(0.1), { lr: 3e-4 });
  let seed = 1;
  const tokens = () => Int32Array.from({ length: BATCH * (T + 1) }, () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % config.vocab_size);
  what = `small GPT-2 training step (4 layers, 4 heads, 256 wide, context ${T}, batch ${BATCH}, vocab 4096, AdamW): ${BATCH * T} tokens`;
  step = () => {
    const batch = tensor(tokens(), [BATCH, T + 1], 'i32');
    const loss = model.loss(batch.narrow(1, 0, T), batch.narrow(1, 1, T));
    loss.backward();
    loss.itemSync();
    loss.dispose();
    batch.dispose();
    opt.step();
    model.zeroGrad();
  };
} else if (argv.includes('--decode')) {
  // One cached decode step after a 64-token prompt, as generate() runs it (eval-mode GPT-2,
  // weights prepacked), logits [1, V] read back; the cache is cut back to the prompt after
  // each step so every step sees 64 cached positions.
  const model = new GPT2({}, { seed: 0 }).eval().prepackWeights();
  const prompt = Array.from({ length: 64 }, (_, i) => (i * 7919 + 13) % 50000);
  const cache = model.createKVCache();
  noGrad(() => model.forwardCached(prompt, cache).dispose());
  what = 'GPT-2 124M decode step with the KV cache (64 cached positions), logits [1, 50257] read back, weights prepacked';
  step = () =>
    noGrad(() => {
      const logits = model.forwardCached([11], cache);
      logits.dataSync();
      logits.dispose();
      cache.length = 64; // rows past length are overwritten by the next step
    });
} else {
  // Weights packed once for the GEMM, as gpt2.bench.mjs does (--no-prepack: packed per call).
  const model = new GPT2({}, { seed: 0 }).eval();
  if (!argv.includes('--no-prepack')) model.prepackWeights();
  const prompt = Array.from({ length: 64 }, (_, i) => (i * 7919 + 13) % 50000);
  what = `GPT-2 124M forward over a 64-token prompt, full logits [64, 50257] read back${argv.includes('--no-prepack') ? '' : ', weights prepacked'}`;
  step = () =>
    noGrad(() => {
      const ids = tensor([prompt], undefined, 'i32');
      const logits = model.forward(ids);
      logits.dataSync();
      logits.dispose();
      ids.dispose();
    });
}

for (let i = 0; i < (train ? 3 : 2); i++) step();
stats.clear();
const walls = [];
for (let r = 0; r < rounds; r++) {
  const t0 = performance.now();
  step();
  walls.push(performance.now() - t0);
}
const wall = walls.reduce((a, b) => a + b, 0) / rounds;
const rows = [...stats].sort((a, b) => b[1].ms - a[1].ms);
const inKernels = rows.reduce((sum, [, s]) => sum + s.ms, 0) / rounds;
const fmt = (x, d = 1) => x.toFixed(d);

console.log(`${what}; Tessera wasm ${be.features.relaxedSimd ? 'relaxed-SIMD' : 'SIMD128'}, ${be.features.numThreads} thread(s)`);
console.log(`per step, mean of ${rounds}: ${fmt(wall)} ms wall (steps ${walls.map((w) => fmt(w, 0)).join(', ')} ms)\n`);
console.log('| kernel | ms | calls | GFLOPS | share |');
console.log('|---|---:|---:|---:|---:|');
for (const [key, s] of rows) {
  const ms = s.ms / rounds;
  if (ms < 0.05 * (wall / 100)) continue;
  console.log(`| ${key} | ${fmt(ms)} | ${s.calls / rounds} | ${s.flops ? fmt(s.flops / (s.ms / 1e3) / 1e9) : ''} | ${fmt((100 * ms) / wall)}% |`);
}
const matmul = rows.filter(([k]) => k.startsWith('matmul')).reduce((a, [, s]) => ({ ms: a.ms + s.ms, flops: a.flops + s.flops }), { ms: 0, flops: 0 });
console.log(`| all matmul | ${fmt(matmul.ms / rounds)} | | ${fmt(matmul.flops / (matmul.ms / 1e3) / 1e9)} | ${fmt((100 * matmul.ms) / rounds / wall)}% |`);
console.log(`| outside kernels | ${fmt(wall - inKernels)} | | | ${fmt((100 * (wall - inKernels)) / wall)}% |`);
process.exit(0);
