// Tessera against Tessera: the same measurements on two checkouts, in interleaved rounds, to
// show what a change did to speed. Each round runs one child process per checkout (the order
// alternates between rounds) that loads that checkout's built packages and measures, on one
// thread with the relaxed-SIMD build where the runtime has it:
//   - f32 matmul, square 512 and 1024: GFLOPS of the best of 15 calls;
//   - the GPT-2 124M forward of a 64-token prompt, eval() + prepackWeights(): best of 5, ms;
//   - GPT-2 124M greedy decoding with the KV cache after that prompt: 32 tokens, tokens/s;
//   - dispatch overhead: tidy(() => add(a, b)) on [8, 8] tensors, 20,000 times, µs per call;
//   - a training step of the small GPT-2 of threads.bench.mjs (4 layers, width 256, context
//     128, batch 8, vocabulary 4096, AdamW): best of 4 steps after 1 warm-up, tokens/s.
// Before timing, each child checks its forward's logits against a float64-free invariant
// (finite, same for two calls), and the parent checks that both checkouts computed the same
// logits checksum to 1e-4 relative, so a faster but wrong build is not reported.
//
//   node benchmarks/ab.mjs --base ../tessera-old [--rounds 3]
//
// Both checkouts must be built (`npm run build` in each). The report gives, per metric, the
// median of each side over the rounds, min..max, and the ratio of the medians.
import { spawnSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const RELAXED_FLAG = '--experimental-wasm-relaxed-simd';
const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};

if (argv[0] === '--child') {
  await child(resolve(argv[1]));
} else {
  parent();
}

function parent() {
  const base = arg('--base');
  if (!base) {
    console.error('usage: node benchmarks/ab.mjs --base DIR [--head DIR] [--rounds N]');
    process.exit(2);
  }
  const trees = { base: resolve(base), head: resolve(arg('--head', join(here, '..'))) };
  const rounds = Number(arg('--rounds', '3'));
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error(`--rounds must be a positive integer, got ${arg('--rounds')}`);
    process.exit(2);
  }
  const results = { base: [], head: [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ['base', 'head'] : ['head', 'base'];
    for (const side of order) {
      const res = spawnSync(process.execPath, [RELAXED_FLAG, fileURLToPath(import.meta.url), '--child', trees[side]], { encoding: 'utf8' });
      const line = /^AB (.*)$/m.exec(res.stdout ?? '');
      if (res.status !== 0 || !line) {
        console.error(`${side} (${trees[side]}) failed:\n${res.stdout}${res.stderr}`);
        process.exit(1);
      }
      results[side].push(JSON.parse(line[1]));
      process.stderr.write(`round ${r + 1}/${rounds} ${side} done\n`);
    }
  }
  const check = (s) => results[s][0].checksum;
  const rel = Math.abs(check('base') - check('head')) / Math.max(1e-30, Math.abs(check('base')));
  if (JSON.stringify(results.base[0].greedy) !== JSON.stringify(results.head[0].greedy)) {
    console.error(`the two checkouts decode different greedy tokens (${results.base[0].greedy} vs ${results.head[0].greedy}); no timing is reported`);
    process.exit(1);
  }
  if (!(rel <= 1e-4)) {
    console.error(`the two checkouts compute different GPT-2 logits (checksums ${check('base')} vs ${check('head')}); no timing is reported`);
    process.exit(1);
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const first = results.head[0];
  console.log(`\nTessera A/B, ${rounds} interleaved rounds, 1 thread, ${first.build}; Node ${process.versions.node}`);
  console.log(`base: ${trees.base}\nhead: ${trees.head}\n`);
  console.log('| metric | base median (min..max) | head median (min..max) | head / base |');
  console.log('|---|---:|---:|---:|');
  for (const [key, label, higherIsBetter] of [
    ['mm512', 'matmul 512 (GFLOPS)', true],
    ['mm1024', 'matmul 1024 (GFLOPS)', true],
    ['forwardMs', 'GPT-2 124M forward, 64 tokens (ms)', false],
    ['trainTokS', 'small GPT-2 training step (tokens/s)', true],
    ['decodeTokS', 'GPT-2 124M greedy decode, KV cache (tokens/s)', true],
    ['tidyAddUs', 'tidy(add) on [8, 8] (µs per call)', false],
  ]) {
    const b = results.base.map((x) => x[key]);
    const h = results.head.map((x) => x[key]);
    const fmt = (xs) => `${median(xs).toFixed(1)} (${Math.min(...xs).toFixed(1)}..${Math.max(...xs).toFixed(1)})`;
    const ratio = median(h) / median(b);
    console.log(`| ${label} | ${fmt(b)} | ${fmt(h)} | ${ratio.toFixed(3)}${higherIsBetter ? '' : ' (lower is better)'} |`);
  }
}

async function child(tree) {
  const load = (pkg) => import(pathToFileURL(join(tree, 'packages', pkg, 'dist', 'index.js')).href);
  const core = await load('core');
  const tensorPkg = await load('tensor');
  const models = await load('models');
  const optim = await load('optim');
  const be = await core.createWasmBackend({ threads: 1 });
  await tensorPkg.setBackend(be);
  const out = { build: be.features.relaxedSimd ? 'relaxed-SIMD' : 'SIMD128' };

  // f32 matmul, best of 15 calls after 2 warm-ups.
  for (const n of [512, 1024]) {
    const [a, b, c] = [be.alloc(4 * n * n), be.alloc(4 * n * n), be.alloc(4 * n * n)];
    const data = Float32Array.from({ length: n * n }, (_, i) => ((i * 2654435761) % 1000) / 1000 - 0.5);
    be.write(a, data);
    be.write(b, data);
    const p = { a: { storage: a, offset: 0 }, b: { storage: b, offset: 0 }, out: { storage: c, offset: 0 }, m: n, n, k: n };
    let best = Infinity;
    for (let i = 0; i < 17; i++) {
      const t0 = performance.now();
      be.matmul(p);
      be.readSync(c, 'f32', 0, 1);
      if (i >= 2) best = Math.min(best, performance.now() - t0);
    }
    out[`mm${n}`] = (2 * n ** 3) / (best / 1e3) / 1e9;
    [a, b, c].forEach((s) => be.free(s));
  }

  // GPT-2 124M forward of 64 tokens, prepacked.
  const model = new models.GPT2({}, { seed: 0 }).eval().prepackWeights();
  const ids = tensorPkg.tensor(Int32Array.from({ length: 64 }, (_, i) => (i * 7919) % 50257), [1, 64], 'i32');
  const logitsOf = () => tensorPkg.noGrad(() => model.forward(ids));
  const l0 = logitsOf();
  const v0 = l0.dataSync();
  l0.dispose();
  let checksum = 0;
  for (let i = 0; i < v0.length; i += 97) checksum += v0[i] * ((i % 13) - 6);
  if (!Number.isFinite(checksum)) throw new Error(`${tree}: GPT-2 logits are not finite`);
  out.checksum = checksum;
  let bestFwd = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const l = logitsOf();
    l.dataSync();
    bestFwd = Math.min(bestFwd, performance.now() - t0);
    l.dispose();
  }
  out.forwardMs = bestFwd;
  const prompt = Array.from({ length: 64 }, (_, i) => (i * 7919) % 50257);
  await model.generate(prompt, { maxNewTokens: 2, greedy: true, stopTokens: [] });
  const td = performance.now();
  const decoded = await model.generate(prompt, { maxNewTokens: 32, greedy: true, stopTokens: [] });
  // The prompt's forward is part of the call: subtract the measured forward time.
  out.decodeTokS = decoded.length / ((performance.now() - td - bestFwd) / 1e3);
  out.greedy = decoded.slice(0, 8);
  ids.dispose();
  model.dispose();

  // Small GPT-2 training step.
  const cfg = { vocab_size: 4096, n_positions: 128, n_embd: 256, n_layer: 4, n_head: 4, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 };
  const B = 8;
  const T = 128;
  const small = new models.GPT2(cfg, { seed: 0 });
  const opt = new optim.AdamW(small.flat.groups(0.1), { lr: 3e-4 });
  let bestStep = Infinity;
  for (let i = 0; i < 5; i++) {
    const batch = tensorPkg.tensor(Int32Array.from({ length: B * (T + 1) }, (_, j) => (j * 31 + i * 17) % cfg.vocab_size), [B, T + 1], 'i32');
    const t0 = performance.now();
    const loss = small.loss(batch.narrow(1, 0, T), batch.narrow(1, 1, T));
    loss.backward();
    const lv = loss.dataSync()[0];
    loss.dispose();
    opt.step();
    small.zeroGrad();
    if (i >= 1) bestStep = Math.min(bestStep, performance.now() - t0);
    batch.dispose();
    if (!Number.isFinite(lv)) throw new Error(`${tree}: training loss is not finite at step ${i}`);
  }
  out.trainTokS = (B * T) / (bestStep / 1e3);
  small.dispose();

  const a = tensorPkg.tensor(Float32Array.from({ length: 64 }, (_, i) => i / 64), [8, 8]);
  const b = tensorPkg.tensor(Float32Array.from({ length: 64 }, (_, i) => 1 - i / 64), [8, 8]);
  const calls = 20000;
  for (let i = 0; i < 2000; i++) tensorPkg.tidy(() => tensorPkg.add(a, b));
  const to = performance.now();
  for (let i = 0; i < calls; i++) tensorPkg.tidy(() => tensorPkg.add(a, b));
  out.tidyAddUs = ((performance.now() - to) * 1e3) / calls;
  a.dispose();
  b.dispose();
  console.log(`AB ${JSON.stringify(out)}`);
}
