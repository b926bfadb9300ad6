// Where splitting a wasm kernel over two threads starts to pay: for each kernel family,
// the time of one call on 1 thread and on 2 threads (every call split, ctx.splitAlways)
// over a range of sizes, and the smallest size from which 2 threads stay faster. These
// crossovers are the *_PARALLEL_MIN constants in packages/core/src/wasm/kernels/*.ts. Also
// the pool's dispatch round trip (an empty job), back to back and after idle gaps.
//
//   node threads-crossover.mjs           writes results/threads-crossover.json
//   node threads-crossover.mjs --quick   fewer rounds
//
// On a shared machine the numbers move with the load; the script prints the load average
// and takes the median of interleaved rounds.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWasmBackend } from '@tessera/core';

const quick = process.argv.includes('--quick');
const ROUNDS = quick ? 3 : 7;
/** Minimum time per timed batch of calls, ms. */
const BATCH_MS = quick ? 10 : 25;
const here = dirname(fileURLToPath(import.meta.url));
const log = (...a) => console.log(...a);

const be = await createWasmBackend({ threads: 2 });
if (be.features.numThreads !== 2) throw new Error(`need 2 threads, got ${be.features.numThreads}: ${be.threadsUnavailable}`);
be.ctx.splitAlways = true;
log(`node ${process.version}, ${os.cpus()[0].model}, ${os.availableParallelism()} cores, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

function lcg(seed) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}
const rand = lcg(7);
function buf(n, scale = 1) {
  const s = be.alloc(Math.max(1, n) * 4);
  be.write(s, Float32Array.from({ length: n }, () => rand() * scale));
  return { storage: s, offset: 0 };
}

/** Median over rounds of the per-call time (us) of fn on `threads` threads. */
function timeCall(fn) {
  // Calls per batch so that one batch lasts at least BATCH_MS.
  let calls = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) fn();
    const ms = performance.now() - t0;
    if (ms >= BATCH_MS) break;
    calls *= ms < BATCH_MS / 8 ? 8 : 2;
  }
  return calls;
}

async function compare(fn) {
  const calls = timeCall(fn);
  const times = { 1: [], 2: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const t of r % 2 ? [2, 1] : [1, 2]) {
      await be.setNumThreads(t);
      fn();
      const t0 = performance.now();
      for (let i = 0; i < calls; i++) fn();
      times[t].push(((performance.now() - t0) * 1e3) / calls);
    }
  }
  await be.setNumThreads(2);
  const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
  return { one: med(times[1]), two: med(times[2]) };
}

/** Runs a family over sizes; the crossover is the smallest size from which 2 threads win at every larger size. */
async function family(name, unit, sizes, make) {
  log(`\n${name} (${unit})`);
  const rows = [];
  for (const size of sizes) {
    const { fn, free, work } = make(size);
    const r = await compare(fn);
    free();
    rows.push({ size, work, ...r, speedup: r.one / r.two });
    log(`  ${String(size).padStart(12)}  work ${String(work).padStart(10)}  1 thread ${r.one.toFixed(1).padStart(9)} us  2 threads ${r.two.toFixed(1).padStart(9)} us  x${(r.one / r.two).toFixed(2)}`);
  }
  let crossover = null;
  for (let i = rows.length - 1; i >= 0 && rows[i].speedup > 1.05; i--) crossover = rows[i].work;
  log(`  crossover: ${crossover ?? 'none in range'} ${unit}`);
  return { name, unit, rows, crossover };
}

const freeAll = (...ds) => () => ds.forEach((d) => be.free(d.storage));
const pow2 = (lo, hi) => Array.from({ length: hi - lo + 1 }, (_, i) => 2 ** (lo + i));

const results = [];

// Dispatch round trip: an empty job on the worker, back to back and after idle gaps.
{
  const pool = be.ctx.pool;
  const empty = () => pool.run('ew_fill', [[0, 0, 0], [0, 0, 0]], 2);
  const n = timeCall(empty);
  const t0 = performance.now();
  for (let i = 0; i < n; i++) empty();
  const backToBack = ((performance.now() - t0) * 1e3) / n;
  const gaps = {};
  for (const gapUs of [10, 50, 200, 1000]) {
    let total = 0;
    const reps = quick ? 200 : 1000;
    for (let i = 0; i < reps; i++) {
      const until = performance.now() + gapUs / 1e3;
      while (performance.now() < until);
      const s = performance.now();
      empty();
      total += performance.now() - s;
    }
    gaps[gapUs] = (total * 1e3) / reps;
  }
  log(`dispatch round trip: ${backToBack.toFixed(2)} us back to back; after an idle gap of ${Object.entries(gaps).map(([g, us]) => `${g} us: ${us.toFixed(1)} us`).join(', ')}`);
  results.push({ name: 'dispatch', backToBackUs: backToBack, afterGapUs: gaps });
}

results.push(
  await family('elementwise add (ew_binary_flat)', 'elements', pow2(10, 20), (n) => {
    const a = buf(n), b = buf(n), o = buf(n);
    const args = { op: 'add', a: { ...a, strides: [1] }, b: { ...b, strides: [1] }, out: o, shape: [n] };
    return { work: n, fn: () => be.binary(args), free: freeAll(a, b, o) };
  }),
);
results.push(
  await family('elementwise gelu (ew_unary_flat)', 'elements', pow2(8, 18), (n) => {
    const x = buf(n, 3), o = buf(n);
    const args = { op: 'gelu', x: { ...x, strides: [1] }, out: o, shape: [n] };
    return { work: n, fn: () => be.unary(args), free: freeAll(x, o) };
  }),
);
results.push(
  await family('softmax, 256 columns (red_softmax)', 'rows x cols', pow2(1, 11), (rows) => {
    const cols = 256;
    const x = buf(rows * cols, 4), o = buf(rows * cols);
    const args = { x, out: o, rows, cols };
    return { work: rows * cols, fn: () => be.softmax(args), free: freeAll(x, o) };
  }),
);
results.push(
  await family('layerNorm, 256 columns', 'rows x cols', pow2(1, 11), (rows) => {
    const cols = 256;
    const x = buf(rows * cols), g = buf(cols), b = buf(cols), o = buf(rows * cols), mean = buf(rows), rstd = buf(rows);
    const args = { x, gamma: g, beta: b, out: o, mean, rstd, rows, cols, eps: 1e-5 };
    return { work: rows * cols, fn: () => be.layerNorm(args), free: freeAll(x, g, b, o, mean, rstd) };
  }),
);
results.push(
  await family('AdamW step (optim_adam)', 'elements', pow2(10, 20), (n) => {
    const w = buf(n), g = buf(n), m = buf(n, 0.1), v = buf(n, 0.01);
    for (const s of [v]) be.write(s.storage, Float32Array.from({ length: n }, () => Math.abs(rand()) * 0.01));
    const args = { param: w, grad: g, m, v, n, lr: 1e-4, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, decoupled: true, amsgrad: false, step: 10 };
    return { work: n, fn: () => be.adamStep(args), free: freeAll(w, g, m, v) };
  }),
);
results.push(
  await family('attention forward, 8 heads, d 64, causal (attn_forward)', 'heads x tq x tk x d', pow2(2, 8), (t) => {
    const heads = 8, d = 64;
    const q = buf(heads * t * d), k = buf(heads * t * d), v = buf(heads * t * d), o = buf(heads * t * d), probs = buf(heads * t * t);
    const args = { q, k, v, out: o, probs, heads, tq: t, tk: t, d, causal: true };
    return { work: heads * t * t * d, fn: () => be.attention(args), free: freeAll(q, k, v, o, probs) };
  }),
);
results.push(
  await family('matmul, square (matmul_f32)', 'm x n x k', [8, 16, 24, 32, 48, 64, 96, 128, 192, 256], (n) => {
    const a = buf(n * n), b = buf(n * n), o = buf(n * n);
    const args = { a, b, out: o, m: n, n, k: n };
    return { work: n * n * n, fn: () => be.matmul(args), free: freeAll(a, b, o) };
  }),
);

mkdirSync(join(here, 'results'), { recursive: true });
const file = join(here, 'results', 'threads-crossover.json');
writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0].model, cores: os.availableParallelism(), load: os.loadavg(), results }, null, 2));
log(`\nwrote ${file}`);
