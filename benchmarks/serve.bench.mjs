// `tessera serve` under load: autocannon against the real command (a child process on a free
// loopback port), at 1, 4 and 16 concurrent clients, with continuous batching (--max-batch 16)
// and one request at a time (--max-batch 1), for two models:
//   - small: a character model trained here with `tessera train` (the small preset: 2 layers,
//     128 wide, context 64; --train-steps steps on the bundled Moby Dick), or --small DIR;
//   - 124m: the GPT-2 124M shape (12 layers, 768 wide, 50,257 BPE tokens) with RANDOM weights
//     (a seeded init, saved with the GPT-2 tokenizer): speed does not depend on the values, the
//     text it writes is noise.
// First, without HTTP, the decode step itself: `model.decodeBatch` of B = 1, 4 and 16 sequences
// in this process (rounds alternate between the batch sizes; after a warm-up round, the median
// step counts): the ceiling of what batching can gain for each model on this machine.
// Then every request is a non-streamed completion (fixed prompt, temperature 1, a seed per request)
// of --max-tokens tokens (no stop sequence; the end-of-text token may end a 124M one early, which
// the token count sees). Reported per run: requests/s and p50/p99 latency of the requests
// answered within the run, generated tokens/s (every token the server generated in the run, from
// its access log, so requests cut at the end count too) and errors (connection errors, timeouts
// and non-2xx answers; the queue, --queue 64, holds every client here, so any error is a
// failure). Requests still running when a run's time is up are cut (the client closes them and
// the server frees their slots), and the server is idle again (GET /health) before the next run.
//
//   node benchmarks/serve.bench.mjs                      60 s per run, both models (12 runs)
//   node benchmarks/serve.bench.mjs --duration 5         short runs, to check the script
//   options: --duration S  --models small,124m  --clients 1,4,16  --max-tokens N (default 32; 124m: 16)
//            --train-steps N (default 100)  --small DIR (a trained checkpoint instead of training one)
//            --out FILE (JSON results, default benchmarks/results/serve.json)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { reexecForRelaxedSimd } from './relaxed-simd.mjs';

// The in-process step times use the relaxed-SIMD kernels, as the `tessera` command does.
reexecForRelaxedSimd();

const here = dirname(fileURLToPath(import.meta.url));
const BIN = join(here, '..', 'packages', 'cli', 'bin', 'tessera.js');
const log = (...a) => console.error(...a);

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
function positiveInt(name, fallback) {
  const v = Number(arg(name, fallback));
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be an integer >= 1, got ${arg(name, fallback)}`);
  return v;
}
const duration = positiveInt('duration', 60);
const clientCounts = String(arg('clients', '1,4,16')).split(',').map(Number);
if (clientCounts.some((c) => !Number.isInteger(c) || c < 1)) throw new Error(`--clients must be integers >= 1, got ${arg('clients')}`);
const modelNames = String(arg('models', 'small,124m')).split(',');
for (const m of modelNames) if (m !== 'small' && m !== '124m') throw new Error(`--models takes small and/or 124m, got ${m}`);
const trainSteps = positiveInt('train-steps', 100);
const out = arg('out', join(here, 'results', 'serve.json'));
const QUEUE = 64;
const BATCHED = 16;

const work = mkdtempSync(join(os.tmpdir(), 'tessera-serve-bench-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

/** A checkpoint directory for each model. */
async function prepare(name) {
  if (name === 'small') {
    const given = arg('small');
    if (given) return { dir: given, maxTokens: positiveInt('max-tokens', 32), prompt: 'The whale ' };
    const dir = join(work, 'small');
    log(`training the small preset for ${trainSteps} steps into ${dir} ...`);
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [BIN, 'train', '--preset', 'small', '--steps', String(trainSteps), '--eval-every', '0', '--sample', '0', '--out', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`tessera train exited with ${r.status}`);
    log(`trained in ${((performance.now() - t0) / 1e3).toFixed(0)} s`);
    return { dir, maxTokens: positiveInt('max-tokens', 32), prompt: 'The whale ' };
  }
  const { GPT2, loadGPT2Tokenizer } = await import('@tessera/models');
  const { ready } = await import('@tessera/tensor');
  await ready();
  const dir = join(work, 'gpt2-124m-random');
  const model = new GPT2({}, { seed: 0 });
  await model.savePretrained(dir, { tokenizer: await loadGPT2Tokenizer() });
  model.dispose();
  return { dir, maxTokens: positiveInt('max-tokens', 16), prompt: 'Call me Ishmael. Some years ago, never mind how long precisely,' };
}

/** ms per `decodeBatch` step at each batch size, for the model in `dir`. */
async function stepTimes(dir) {
  const { GPT2 } = await import('@tessera/models');
  const { noGrad, ready } = await import('@tessera/tensor');
  await ready();
  const model = (await GPT2.fromPretrained(dir)).eval();
  const sizes = [1, 4, BATCHED];
  const times = new Map(sizes.map((b) => [b, []]));
  try {
    for (let round = 0; round < 5; round++) {
      for (const B of sizes) {
        const caches = Array.from({ length: B }, () => model.createKVCache());
        try {
          // Each sequence 8 tokens in, as a short prompt leaves it.
          for (const c of caches) noGrad(() => model.forwardCached([1, 2, 3, 4, 5, 6, 7, 8], c)).dispose();
          for (let step = 0; step < 3; step++) {
            const t0 = performance.now();
            const logits = noGrad(() => model.decodeBatch(caches.map((_, b) => 10 + b), caches));
            await logits.data();
            logits.dispose();
            // Round 0 warms the JIT and the allocator up.
            if (round > 0) times.get(B).push(performance.now() - t0);
          }
        } finally {
          for (const c of caches) c.dispose();
        }
      }
    }
  } finally {
    model.dispose();
  }
  const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
  return sizes.map((B) => {
    const ms = median(times.get(B));
    return { batch: B, msPerStep: ms, tokensPerS: (B * 1000) / ms };
  });
}

/** Starts `tessera serve` on a free loopback port; resolves with its URL and a stop function. */
function startServer(dir, maxBatch) {
  const child = spawn(process.execPath, [BIN, 'serve', '--model', dir, '--port', '0', '--model-name', 'bench', '--max-batch', String(maxBatch), '--queue', String(QUEUE)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let pending = '';
  let tokens = 0;
  // The access log, a line per request ("... prompt=P completion=N finish Tms"), is summed, not
  // kept: a 60 s run writes thousands of lines.
  child.stderr.on('data', (d) => {
    if (stderr.length < 4096) stderr += d;
    const lines = (pending + d).split('\n');
    pending = lines.pop();
    for (const line of lines) tokens += Number(/ completion=(\d+) /.exec(line)?.[1] ?? 0);
  });
  const takeTokens = () => {
    const n = tokens;
    tokens = 0;
    return n;
  };
  const exited = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      const m = /^(http:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout);
      if (m) resolve({ url: m[1], takeTokens, stop: () => (child.kill('SIGTERM'), exited) });
    });
    child.on('close', (code) => reject(new Error(`tessera serve exited with ${code} before listening: ${stderr}`)));
  });
}

async function waitIdle(url) {
  for (;;) {
    const h = await (await fetch(`${url}/health`)).json();
    if (h.active === 0 && h.queued === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** One autocannon run: `clients` connections, each sending the next request when its answer came. */
async function load(server, clients, { prompt, maxTokens }) {
  let seed = 0;
  await waitIdle(server.url);
  server.takeTokens();
  const result = await autocannon({
    url: `${server.url}/v1/completions`,
    connections: clients,
    duration,
    // A request may wait for 15 others' steps; the run's end cuts whatever is still open.
    timeout: duration + 60,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        setupRequest: (req) => ({ ...req, body: JSON.stringify({ model: 'bench', prompt, max_tokens: maxTokens, temperature: 1, seed: seed++ }) }),
      },
    ],
  });
  // The requests cut at the end are logged once the server has seen their clients go; the log
  // travels on another pipe than /health's answer, so it gets a moment to arrive.
  await waitIdle(server.url);
  await new Promise((r) => setTimeout(r, 300));
  const tokens = server.takeTokens();
  return {
    clients,
    requests: result.requests.total,
    requestsPerS: result.requests.total / duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    tokensPerS: tokens / duration,
    errors: result.errors + result.timeouts + result.non2xx,
  };
}

const results = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpu: os.cpus()[0]?.model, loadavg: os.loadavg(), duration, steps: [], runs: [] };
for (const name of modelNames) {
  const model = await prepare(name);
  for (const r of await stepTimes(model.dir)) {
    results.steps.push({ model: name, ...r });
    log(`${name.padEnd(5)} decodeBatch B=${String(r.batch).padStart(2)}: ${r.msPerStep.toFixed(1)} ms/step, ${r.tokensPerS.toFixed(1)} tokens/s`);
  }
  for (const maxBatch of [1, BATCHED]) {
    const server = await startServer(model.dir, maxBatch);
    try {
      // One request first: the server's first forward compiles and warms the kernels.
      await fetch(`${server.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'bench', prompt: model.prompt, max_tokens: 2 }) }).then((r) => r.text());
      for (const clients of clientCounts) {
        const r = { model: name, maxBatch, maxTokens: model.maxTokens, ...(await load(server, clients, model)) };
        results.runs.push(r);
        log(`${name.padEnd(5)} max-batch ${String(maxBatch).padStart(2)}  ${String(clients).padStart(2)} clients: ${r.requestsPerS.toFixed(2)} req/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, ${r.tokensPerS.toFixed(1)} tokens/s, ${r.errors} errors (${r.requests} requests)`);
      }
    } finally {
      const code = await server.stop();
      if (code !== 0) log(`tessera serve exited with ${code}`);
    }
  }
}

// Batching's gain: tokens/s with --max-batch 16 over --max-batch 1, at each client count.
log('\n| model | clients | req/s (1 / 16) | p50 ms (1 / 16) | p99 ms (1 / 16) | tokens/s (1 / 16) | gain | errors |');
log('|---|---|---|---|---|---|---|---|');
for (const name of modelNames) {
  for (const clients of clientCounts) {
    const [a, b] = [1, BATCHED].map((mb) => results.runs.find((r) => r.model === name && r.clients === clients && r.maxBatch === mb));
    log(`| ${name} | ${clients} | ${a.requestsPerS.toFixed(2)} / ${b.requestsPerS.toFixed(2)} | ${a.p50Ms} / ${b.p50Ms} | ${a.p99Ms} / ${b.p99Ms} | ${a.tokensPerS.toFixed(1)} / ${b.tokensPerS.toFixed(1)} | x${(b.tokensPerS / a.tokensPerS).toFixed(2)} | ${a.errors} / ${b.errors} |`);
  }
}
results.loadavgAfter = os.loadavg();
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
log(`\nwrote ${out}`);
const failed = results.runs.filter((r) => r.errors > 0);
if (failed.length > 0) {
  log(`errors below the queue limit in ${failed.length} run(s)`);
  process.exitCode = 1;
}
