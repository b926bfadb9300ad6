// f32 matmul, one thread: Tessera's wasm kernels (SIMD128 build, and the relaxed-SIMD build
// where the runtime validates it) against TensorFlow.js's wasm backend (XNNPACK), measured
// in the same process, plus a register-only probe of the machine's wasm SIMD peak.
//
//   node matmul.bench.mjs           square 128..2048 and GPT-2 shapes, writes results/matmul.json
//   node matmul.bench.mjs --quick   square 128..512, fewer iterations (npm run demo)
//
// Node 20 validates relaxed-SIMD only behind --experimental-wasm-relaxed-simd; the script
// re-runs itself with that V8 flag there (Node >= 22 validates it by default).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWasmBackend, relaxedSimdSupported } from '@tessera/core';
import { reexecForRelaxedSimd } from './relaxed-simd.mjs';

reexecForRelaxedSimd();

const { Bench } = await import('tinybench');
const tf = await import('@tensorflow/tfjs');
const { setThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');

const quick = process.argv.includes('--quick');
const square = (n) => ({ label: String(n), m: n, n, k: n, transB: false });
/** GPT-2 small (d = 768) products: one decoding step (m = 1) and a 64-token prefill (MLP up, LM head). */
const GPT2 = [
  { label: 'x[1,768] @ W[768,2304] (qkv, decode)', m: 1, n: 2304, k: 768, transB: false },
  { label: 'x[1,3072] @ W[3072,768] (mlp down, decode)', m: 1, n: 768, k: 3072, transB: false },
  { label: 'x[1,768] @ wte[50257,768]^T (logits, decode)', m: 1, n: 50257, k: 768, transB: true },
  { label: 'x[64,768] @ W[768,3072] (mlp up, prefill)', m: 64, n: 3072, k: 768, transB: false },
  { label: 'x[64,768] @ wte[50257,768]^T (logits, prefill)', m: 64, n: 50257, k: 768, transB: true },
];
const CASES = quick ? [128, 256, 512].map(square) : [...[128, 256, 512, 1024, 2048].map(square), ...GPT2];
/** Rounds per case; tasks run in a rotated order each round (see `best` below). */
const ROUNDS = quick ? 2 : 5;
/** tinybench time budget per task per round, ms. */
const TIME_MS = quick ? 300 : 800;
const here = dirname(fileURLToPath(import.meta.url));

function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

async function tesseraBuild(simd) {
  const be = await createWasmBackend({ simd, shared: false });
  // One sample of the register-only peak probe (matmul_peak_probe in
  // packages/core/assembly/matmul.ts), in GFLOPS. The first call runs the probe for ~300 ms
  // so that V8 tiers it up from Liftoff to TurboFan.
  const { matmul_peak_probe: probe, matmul_peak_flops: flopsPerIter } = be.ctx.exports;
  const iters = 1_000_000;
  let warm = false;
  const peakSample = () => {
    if (!warm) for (const t0 = performance.now(); performance.now() - t0 < 300; ) probe(iters, 1);
    warm = true;
    const t0 = performance.now();
    probe(iters, 1);
    return (iters * flopsPerIter()) / ((performance.now() - t0) / 1e3) / 1e9;
  };
  const setup = ({ m, n, k, transB }, A, B) => {
    const [a, b, out] = [be.alloc(m * k * 4), be.alloc(k * n * 4), be.alloc(m * n * 4)];
    be.write(a, A);
    be.write(b, B);
    const p = { a: { storage: a, offset: 0 }, b: { storage: b, offset: 0 }, out: { storage: out, offset: 0 }, m, n, k, transB };
    return {
      // The kernel is synchronous; reading one element mirrors what the tfjs task does.
      run: () => {
        be.matmul(p);
        be.readSync(out, 'f32', 0, 1);
      },
      result: () => {
        be.matmul(p);
        return be.readSync(out, 'f32');
      },
      dispose: () => [a, b, out].forEach((s) => be.free(s)),
    };
  };
  return { name: `tessera-${simd}`, peakSample, setup, relaxed: be.features.relaxedSimd };
}

function tfjsContender() {
  const setup = ({ m, n, k, transB }, A, B) => {
    const a = tf.tensor2d(A, [m, k]);
    const b = tf.tensor2d(B, transB ? [n, k] : [k, n]);
    return {
      // tf.matMul on the wasm backend runs eagerly; dataSync of a 1-element slice forces completion.
      run: () => {
        const c = tf.matMul(a, b, false, transB);
        const s = tf.slice(c, [0, 0], [1, 1]);
        s.dataSync();
        s.dispose();
        c.dispose();
      },
      result: () => {
        const c = tf.matMul(a, b, false, transB);
        const v = c.dataSync();
        c.dispose();
        return v;
      },
      dispose: () => {
        a.dispose();
        b.dispose();
      },
    };
  };
  return { name: 'tfjs-wasm', setup };
}

setThreadsCount(1);
await tf.setBackend('wasm');
await tf.ready();
if (tf.getBackend() !== 'wasm') throw new Error(`tfjs backend is ${tf.getBackend()}, expected wasm`);

const builds = [await tesseraBuild('simd128')];
if (relaxedSimdSupported()) builds.push(await tesseraBuild('relaxed'));
// Peak = the best probe sample, taken before and after every case like the timed tasks'
// fastest iterations, so both see the same quiet moments of a shared machine.
const peaks = Object.fromEntries(builds.map((b) => [b.name, 0]));
const samplePeaks = () => {
  for (const b of builds) for (let i = 0; i < 3; i++) peaks[b.name] = Math.max(peaks[b.name], b.peakSample());
};
samplePeaks();
const contenders = [...builds, tfjsContender()];

const rows = [];
for (const cs of CASES) {
  const { m, n, k } = cs;
  const rand = lcg(m * 7919 + n * 31 + k);
  const A = Float32Array.from({ length: m * k }, rand);
  const B = Float32Array.from({ length: k * n }, rand);
  const tasks = contenders.map((c) => ({ name: c.name, ...c.setup(cs, A, B) }));

  // Cross-check before timing: every contender computes the same product (inputs in
  // [-0.5, 0.5), so |error| grows like sqrt(k) * f32 epsilon * typical term).
  const ref = tasks[tasks.length - 1].result();
  for (const t of tasks.slice(0, -1)) {
    const got = t.result();
    let err = 0;
    for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i] - ref[i]));
    if (!(err <= 1e-4 * Math.sqrt(k))) throw new Error(`${t.name} differs from tfjs on ${cs.label}: max |diff| ${err}`);
  }

  const flops = 2 * m * n * k;
  // At least ~10 timed iterations, fewer only when one call takes over ~0.1 s.
  const iterations = Math.max(2, Math.min(10, Math.round(2e9 / flops)));
  // Per task: the fastest iteration and the best round's median, over all rounds.
  const best = new Map();
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: TIME_MS, iterations, warmupTime: 100, warmupIterations: 2, throws: true });
    for (let i = 0; i < tasks.length; i++) {
      const t = tasks[(i + round) % tasks.length];
      bench.add(t.name, t.run);
    }
    bench.runSync();
    for (const task of bench.tasks) {
      const { min, p50 } = task.result.latency;
      const cur = best.get(task.name) ?? { min: Infinity, p50: Infinity };
      best.set(task.name, { min: Math.min(cur.min, min), p50: Math.min(cur.p50, p50) });
    }
  }
  tasks.forEach((t) => t.dispose());
  samplePeaks();

  const row = { case: cs.label, m, n, k, transB: cs.transB, flops };
  const gflops = (ms) => flops / (ms / 1e3) / 1e9;
  for (const [name, t] of best) row[name] = { minMs: t.min, medianMs: t.p50, gflops: gflops(t.min), medianGflops: gflops(t.p50) };
  rows.push(row);
  console.error(`${cs.label}: ${[...best].map(([name]) => `${name} ${row[name].gflops.toFixed(1)}`).join(', ')} GFLOPS`);
}

const fmt = (x) => x.toFixed(1);
const names = builds.map((b) => b.name);
function table(sel, first, withPeak) {
  const header = [first, ...names.map((nm) => `${nm} GFLOPS${withPeak ? ' (% of peak)' : ''}`), 'tfjs-wasm GFLOPS', ...names.map((nm) => `${nm} / tfjs`)];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`];
  for (const r of sel) {
    const cells = [r.case];
    for (const nm of names) cells.push(`${fmt(r[nm].gflops)}${withPeak ? ` (${Math.round((100 * r[nm].gflops) / peaks[nm])}%)` : ''}`);
    cells.push(fmt(r['tfjs-wasm'].gflops));
    for (const nm of names) cells.push(`${(r[nm].gflops / r['tfjs-wasm'].gflops).toFixed(2)}x`);
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
const squareRows = rows.filter((r) => r.m === r.n && r.n === r.k);
const otherRows = rows.filter((r) => !squareRows.includes(r));

const cpu = os.cpus()[0]?.model ?? 'unknown';
const machine = { cpu, logicalCores: os.cpus().length, node: process.version, v8: process.versions.v8, platform: `${os.platform()} ${os.arch()}` };
console.log(`\nf32 matmul, 1 thread, ${machine.cpu}, Node ${machine.node}${quick ? ' (--quick)' : ''}\n`);
console.log(table(squareRows, 'n (square)', true));
if (otherRows.length) console.log(`\n${table(otherRows, 'GPT-2 small shape', false)}`);
const peakLine = builds
  .map((b) => `${b.name} ${fmt(peaks[b.name])} GFLOPS (${b.relaxed ? 'f32x4.relaxed_madd chains' : 'independent f32x4.mul and f32x4.add chains'})`)
  .join('; ');
console.log(`\nPeak, register-only wasm probe (best sample): ${peakLine}.`);
console.log(
  `GFLOPS = 2 m n k / fastest iteration over ${ROUNDS} rounds of tinybench (${TIME_MS} ms per task per round, tasks interleaved; medians in the JSON); ` +
    `tfjs ${tf.version.tfjs} wasm backend, threads: ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 'set to 1' : 'none available'}.`,
);

const outDir = join(here, 'results');
mkdirSync(outDir, { recursive: true });
const json = {
  date: new Date().toISOString(),
  command: quick ? 'npm run demo' : 'npm run bench',
  machine,
  tfjs: tf.version.tfjs,
  rounds: ROUNDS,
  timePerTaskMs: TIME_MS,
  peakGflops: peaks,
  results: rows,
};
writeFileSync(join(outDir, 'matmul.json'), JSON.stringify(json, null, 2) + '\n');
console.log(`\nwrote ${join('benchmarks', 'results', 'matmul.json')}`);
