// GPT-2 124M inference against every peer at its best, every prompt length, 1 and 2 threads.
//
//   node benchmarks/gpt2-peers.bench.mjs            full run: lengths 1 17 64 65 128 256 512 1024,
//                                                   threads 1 and 2, 5 rounds, 32 decode tokens
//   node benchmarks/gpt2-peers.bench.mjs --quick    validates the script: a 2-layer GPT-2 (124M's
//                                                   width and vocabulary), lengths 1 17 65, 2 rounds,
//                                                   4 decode tokens; its numbers measure nothing
//   options: --threads 1,2  --lengths 1,17,64  --rounds 5  --decode 32
//
// Contenders, the same random weights in each, one process per thread count (a runtime's
// thread count is fixed when it starts):
//   - Tessera, wasm, eval() + prepackWeights() (the documented inference path; generate() does
//     it by itself), its relaxed-SIMD (FMA) build and its SIMD128 build, each with a KV cache;
//   - onnxruntime-node (native CPU EP, MLAS) and onnxruntime-web (wasm EP) running Tessera's
//     ONNX export with past_key_values (exportOnnxBytes(model, { kvCache: true }), Optimum's
//     input and output names): prefill with an empty past, decode feeding present.* back;
//   - TensorFlow.js on its wasm backend (XNNPACK) with its own KV cache from tfjs ops, written
//     in the forms that reach XNNPACK: 2-D untransposed products per head (keys cached
//     transposed, [D, S], so q K^T is a plain product), a pre-transposed [C, V] LM head
//     (tfjs-wasm's batched and transposed matmuls fall to a scalar loop). tfjs-wasm has no
//     threads in Node: it runs one thread in both tables, and says so.
//
// Measured per length: the prompt forward (all T positions' logits [T, 50257]); and greedy
// decoding after a 64-token prompt (tokens/s over the tokens after the first). Rounds
// interleave the contenders (their order rotates), so load changes hit all of them; the table
// gives each contender's median over the rounds with min..max, and Tessera's ratio to a peer
// is the ratio of the two medians. Before any number is printed every contender's prompt
// logits are checked against Tessera's relaxed build at every length (max |diff| <= 1e-4) and
// every contender's greedy tokens against Tessera's (identical); a mismatch exits with an error.
// Build features: Tessera's from its backend; each peer's wasm binary is validated by a Node
// without relaxed-SIMD enabled (a binary that fails there and passes with the flag uses it).
import { spawnSync } from 'node:child_process';
import { readFileSync, mkdirSync, writeFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { medianStats as stats, ortContender, tesseraGpt2 } from './gpt2-contenders.mjs';
import { RELAXED_FLAG, relaxedFlags } from './relaxed-simd.mjs';
import { wasmPeakGflops } from './wasm-peak.mjs';

const SELF = fileURLToPath(import.meta.url);
const here = dirname(SELF);
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const list = (s) => s.split(',').map(Number);
const LENGTHS = list(opt('--lengths', quick ? '1,17,65' : '1,17,64,65,128,256,512,1024'));
const THREADS = list(opt('--threads', quick ? '1,2' : '1,2'));
const ROUNDS = Number(opt('--rounds', quick ? 2 : 5));
const DECODE = Number(opt('--decode', quick ? 4 : 32));
const DECODE_PROMPT = 64;
const CONFIG = quick ? { n_layer: 2 } : {};
const LOGIT_TOL = 1e-4;
const log = (...a) => console.error(...a);

/** A fixed pseudo-random prompt of ordinary token ids. */
const promptOf = (T) => Array.from({ length: T }, (_, i) => (i * 7919 + 13) % 50000);

if (argv.includes('--child')) await child(Number(opt('--child')));
else parent();

// =============================================================================================
// Parent: one child per thread count, then the tables.

function parent() {
  const results = [];
  for (const threads of THREADS) {
    const args = [...relaxedFlags, '--max-old-space-size=8192', SELF, '--child', String(threads), ...argv];
    const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
    if (r.status !== 0) {
      console.error(`gpt2-peers: the ${threads}-thread run failed (exit ${r.status}); no numbers are reported`);
      process.exit(1);
    }
    results.push(JSON.parse(r.stdout.trim().split('\n').pop()));
  }
  const features = peerWasmFeatures();
  const machine = { cpu: os.cpus()[0]?.model ?? 'unknown', logicalCores: os.cpus().length, node: process.version, v8: process.versions.v8, platform: `${os.platform()} ${os.arch()}` };
  const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : '-');
  const cell = (s) => `${f1(s.median)} (${f1(s.min)}..${f1(s.max)})`;
  console.log(`\nGPT-2 ${quick ? '2-layer (--quick: validates the script, measures nothing)' : '124M'} (random weights), ${machine.cpu}, ${machine.logicalCores} logical cores, Node ${machine.node}`);
  console.log(`median of ${ROUNDS} interleaved rounds (min..max); "tessera vs X": how many times faster Tessera's relaxed build is, the ratio of the two medians (X's ms / Tessera's ms; Tessera's tokens/s / X's)\n`);
  for (const res of results) {
    console.log(`### ${res.threads} thread(s)\n`);
    for (const c of res.contenders) console.log(`- ${c.name}: ${c.build}`);
    const names = res.contenders.map((c) => c.name);
    console.log(`\n| prompt tokens | ${names.join(' | ')} | ${names.slice(1).map((n) => `tessera vs ${n}`).join(' | ')} |`);
    console.log(`|---|${names.map(() => '---|').join('')}${names.slice(1).map(() => '---|').join('')}`);
    for (const row of res.forward) {
      const t = row.stats[0].median;
      console.log(`| ${row.T} (ms) | ${row.stats.map(cell).join(' | ')} | ${row.stats.slice(1).map((s) => `${(s.median / t).toFixed(2)}x`).join(' | ')} |`);
    }
    const d0 = res.decode[0].median;
    console.log(`| decode after ${DECODE_PROMPT} (tokens/s) | ${res.decode.map(cell).join(' | ')} | ${res.decode.slice(1).map((s) => `${(d0 / s.median).toFixed(2)}x`).join(' | ')} |`);
    const peak = res.peakGflops * res.threads;
    console.log(`\nTessera relaxed forward, GFLOPS (% of ${res.threads} x the one-thread relaxed-SIMD peak, ${f1(res.peakGflops)} GFLOPS): ${res.gflops.map(({ T, gflops }) => `${T}: ${f1(gflops)} (${((100 * gflops) / peak).toFixed(0)}%)`).join(', ')}\n`);
  }
  console.log('peer wasm binaries (relaxed-SIMD: needs the V8 flag on Node 20):');
  for (const f of features) console.log(`- ${f.file}: ${f.relaxed}`);
  const outDir = join(here, 'results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, quick ? 'gpt2-peers-quick.json' : 'gpt2-peers.json');
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), command: `node benchmarks/gpt2-peers.bench.mjs ${argv.join(' ')}`.trim(), machine, features, results }, null, 2)}\n`);
  log(`wrote ${file}`);
}

/** Each peer's shipped wasm binaries, validated with and without relaxed-SIMD enabled. */
function peerWasmFeatures() {
  const require = createRequire(import.meta.url);
  const files = [];
  for (const [pkg, sub] of [['onnxruntime-web', 'dist'], ['@tensorflow/tfjs-backend-wasm', 'dist']]) {
    let dir = dirname(require.resolve(pkg));
    while (!readdirSync(dir).includes('package.json')) dir = dirname(dir);
    const d = join(dir, sub);
    for (const f of readdirSync(d)) if (f.endsWith('.wasm')) files.push(join(d, f));
  }
  const check = (flags) => {
    const src = `const fs=require('fs');console.log(JSON.stringify(${JSON.stringify(files)}.map(f=>WebAssembly.validate(fs.readFileSync(f)))))`;
    const r = spawnSync(process.execPath, [...flags, '-e', src], { encoding: 'utf8' });
    return JSON.parse(r.stdout);
  };
  const plain = check([]);
  const flagged = check([RELAXED_FLAG]);
  return files.map((f, i) => ({
    file: f.slice(f.lastIndexOf('node_modules') + 'node_modules/'.length),
    relaxed: plain[i] ? 'no relaxed-SIMD (validates without the flag)' : flagged[i] ? 'uses relaxed-SIMD' : 'does not validate here',
  }));
}

// =============================================================================================
// Child: every contender for one thread count.

async function child(threads) {
  const { createWasmBackend } = await import('@tessera/core');
  const { GPT2, exportOnnxBytes } = await import('@tessera/models');
  const { setBackend } = await import('@tessera/tensor');

  // Tessera, both builds; the relaxed one's weights are the reference every other copies.
  const tessera = [];
  let source = null;
  for (const simd of ['relaxed', 'simd128']) {
    const be = await createWasmBackend({ threads, simd });
    if (be.features.numThreads !== threads) throw new Error(`tessera runs ${be.features.numThreads} threads, asked ${threads}: ${be.threadsUnavailable}`);
    await setBackend(be);
    const model = new GPT2(CONFIG, { seed: 0 });
    if (source) model.loadStateDict(new Map(source.namedParameters().map(([n, p]) => [n, { shape: p.shape, data: p.dataSync() }])));
    model.eval().prepackWeights();
    source ??= model;
    const name = simd === 'relaxed' ? 'tessera' : 'tessera-simd128';
    tessera.push({
      name,
      build: `wasm ${be.features.relaxedSimd ? 'relaxed-SIMD (FMA)' : 'SIMD128 (no FMA)'}, ${be.features.numThreads} thread(s), KV cache`,
      be,
      model,
      ...tesseraGpt2(model, { be }),
    });
  }
  const cfg = source.config;
  const weights = new Map(source.namedParameters().map(([n, p]) => [n, { data: Float32Array.from(p.dataSync()), shape: p.shape }]));
  const onnx = exportOnnxBytes(source, { opset: 17, dtype: 'f32', kvCache: true });

  const peers = [];
  peers.push(await ortContender('ort-node', threads, onnx, cfg));
  peers.push(await ortContender('ort-web', threads, onnx, cfg));
  peers.push(await tfjsContender(weights, cfg));
  const contenders = [...tessera, ...peers];
  log(`[${threads} thread(s)] contenders: ${contenders.map((c) => c.name).join(', ')}`);

  // Correctness first: prompt logits at every length, then greedy tokens.
  for (const T of LENGTHS) {
    const ids = promptOf(T);
    const want = await contenders[0].forward(ids);
    for (const c of contenders.slice(1)) {
      const got = await c.forward(ids);
      if (got.length !== want.length) throw new Error(`${c.name}: ${got.length} logits for ${T} tokens, want ${want.length}`);
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      if (!(worst <= LOGIT_TOL)) throw new Error(`${c.name}: prompt of ${T} tokens: logits differ from tessera's by up to ${worst} (> ${LOGIT_TOL})`);
      log(`  check ${T} tokens: ${c.name} max |diff| ${worst.toExponential(2)}`);
    }
  }
  const decodePrompt = promptOf(DECODE_PROMPT);
  const wantTokens = (await contenders[0].decode(decodePrompt, DECODE)).tokens;
  for (const c of contenders.slice(1)) {
    const { tokens } = await c.decode(decodePrompt, DECODE);
    if (tokens.join() !== wantTokens.join()) throw new Error(`${c.name}: greedy tokens ${tokens.join(' ')} differ from tessera's ${wantTokens.join(' ')}`);
  }
  log(`  greedy tokens identical in every contender: ${wantTokens.join(' ')}`);

  // Timing: interleaved rounds, rotating order.
  const rotate = (r) => contenders.map((_, i) => contenders[(i + r) % contenders.length]);
  const forward = [];
  for (const T of LENGTHS) {
    const ids = promptOf(T);
    const ms = new Map(contenders.map((c) => [c, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const c of rotate(r)) {
        const t0 = performance.now();
        await c.forward(ids);
        ms.get(c).push(performance.now() - t0);
      }
    }
    forward.push({ T, stats: contenders.map((c) => stats(ms.get(c))) });
    log(`  forward ${T}: ${contenders.map((c) => `${c.name} ${stats(ms.get(c)).median.toFixed(1)} ms`).join(', ')}`);
  }
  const rates = new Map(contenders.map((c) => [c, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of rotate(r)) {
      const { times } = await c.decode(decodePrompt, DECODE);
      rates.get(c).push((times.length - 1) / ((times[times.length - 1] - times[0]) / 1e3));
    }
  }
  const decode = contenders.map((c) => stats(rates.get(c)));
  log(`  decode: ${contenders.map((c, i) => `${c.name} ${decode[i].median.toFixed(1)} tokens/s`).join(', ')}`);

  const { n_layer: L, n_embd: C, vocab_size: V } = cfg;
  const flops = (T) => L * (24 * C * C * T + 4 * T * T * C) + 2 * T * C * V;
  const gflops = forward.map(({ T, stats: s }) => ({ T, gflops: flops(T) / (s[0].median / 1e3) / 1e9 }));
  const strip = (s) => ({ median: s.median, min: s.min, max: s.max, all: s.all });
  process.stdout.write(
    `${JSON.stringify({
      threads,
      contenders: contenders.map((c) => ({ name: c.name, build: c.build })),
      forward: forward.map(({ T, stats: s }) => ({ T, stats: s.map(strip) })),
      decode: decode.map(strip),
      decodePromptTokens: DECODE_PROMPT,
      decodeTokens: DECODE,
      gflops,
      peakGflops: wasmPeakGflops(tessera[0].be),
    })}\n`,
  );
  for (const c of tessera) c.model.dispose();
  for (const p of peers) await p.release();
}

// =============================================================================================
// TensorFlow.js (wasm backend) with its own KV cache.

async function tfjsContender(weights, cfg) {
  const tf = await import('@tensorflow/tfjs');
  const { setThreadsCount, getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
  setThreadsCount(2);
  await tf.setBackend('wasm');
  await tf.ready();
  if (tf.getBackend() !== 'wasm') throw new Error(`tfjs backend is ${tf.getBackend()}, expected wasm`);
  const P = new Map([...weights].map(([n, { data, shape }]) => [n, tf.tensor(data, shape)]));
  const W = (n) => P.get(n);
  // The tied head pre-transposed, [C, V]: a plain product (XNNPACK) instead of a transposed one.
  const headT = tf.transpose(W('transformer.wte.weight'));
  const { n_layer: L, n_head: H, n_embd: C, vocab_size: V } = cfg;
  const D = C / H;
  const ln = (x, w, b) =>
    tf.tidy(() => {
      const { mean, variance } = tf.moments(x, -1, true);
      return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, cfg.layer_norm_epsilon))), w), b);
    });
  const gelu = (x) => tf.tidy(() => tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(x, tf.mul(x, x)))))))));
  const linear = (x, n) => tf.add(tf.matMul(x, W(`${n}.weight`)), W(`${n}.bias`));

  /** Feeds ids after the cache (per layer and head: keys [D, S] transposed, values [S, D]); logits [T, V]. */
  function step(ids, cache) {
    return tf.tidy(() => {
      const T = ids.length;
      const past = cache.length;
      let x = tf.add(tf.gather(W('transformer.wte.weight'), tf.tensor1d(ids, 'int32')), tf.slice(W('transformer.wpe.weight'), [past, 0], [T, C]));
      // Causal mask [T, past + T]: row i sees keys up to past + i.
      const mask = T > 1 ? tf.mul(tf.cast(tf.greater(tf.range(0, past + T, 1, 'int32').reshape([1, past + T]), tf.range(past, past + T, 1, 'int32').reshape([T, 1])), 'float32'), -1e9) : null;
      // One tidy per layer, as a tfjs user writes a long forward: an outer tidy alone holds every
      // layer's intermediates (12 x 12 heads of [T, S] scores at T = 1024) until it ends, which
      // runs tfjs-wasm out of its wasm memory (abort) at 1024 tokens.
      for (let l = 0; l < L; l++) x = tf.tidy(() => {
        const pre = `transformer.h.${l}.`;
        const qkv = linear(ln(x, W(`${pre}ln_1.weight`), W(`${pre}ln_1.bias`)), `${pre}attn.c_attn`); // [T, 3C]
        const heads = [];
        for (let h = 0; h < H; h++) {
          const q = tf.slice(qkv, [0, h * D], [T, D]);
          const kT = tf.transpose(tf.slice(qkv, [0, C + h * D], [T, D])); // [D, T]
          const v = tf.slice(qkv, [0, 2 * C + h * D], [T, D]);
          const entry = cache.layers[l][h];
          const K = entry.k ? tf.concat([entry.k, kT], 1) : kT; // [D, S]
          const Vv = entry.v ? tf.concat([entry.v, v], 0) : v; // [S, D]
          cache.next[l][h] = { k: tf.keep(K), v: tf.keep(Vv) };
          let s = tf.mul(tf.matMul(q, K), 1 / Math.sqrt(D)); // [T, S]
          if (mask) s = tf.add(s, mask);
          heads.push(tf.matMul(tf.softmax(s), Vv)); // [T, D]
        }
        const y = tf.add(x, linear(tf.concat(heads, 1), `${pre}attn.c_proj`));
        return tf.add(y, linear(gelu(linear(ln(y, W(`${pre}ln_2.weight`), W(`${pre}ln_2.bias`)), `${pre}mlp.c_fc`)), `${pre}mlp.c_proj`));
      });
      return tf.matMul(ln(x, W('transformer.ln_f.weight'), W('transformer.ln_f.bias')), headT);
    });
  }
  const newCache = () => ({ length: 0, layers: Array.from({ length: L }, () => Array.from({ length: H }, () => ({ k: null, v: null }))), next: Array.from({ length: L }, () => new Array(H)) });
  /** Runs step and swaps in the grown cache (freeing the old one). */
  function advance(ids, cache) {
    const logits = step(ids, cache);
    for (let l = 0; l < L; l++) {
      for (let h = 0; h < H; h++) {
        cache.layers[l][h].k?.dispose();
        cache.layers[l][h].v?.dispose();
        cache.layers[l][h] = cache.next[l][h];
      }
    }
    cache.length += ids.length;
    return logits;
  }
  const freeCache = (cache) => cache.layers.flat().forEach((e) => (e.k?.dispose(), e.v?.dispose()));
  const threadsRun = getThreadsCount();
  return {
    name: 'tfjs-wasm',
    build: `tfjs ${tf.version.tfjs} wasm (XNNPACK), SIMD ${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? 'on' : 'off'}, threads ${tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT') ? 'available' : 'unavailable in Node'} (runs ${threadsRun}), KV cache from tfjs ops`,
    async forward(ids) {
      const cache = newCache();
      const logits = advance(ids, cache);
      const out = logits.dataSync();
      logits.dispose();
      freeCache(cache);
      return out;
    },
    async decode(ids, n) {
      const cache = newCache();
      const tokens = [];
      const times = [];
      let logits = advance(ids, cache);
      for (let i = 0; i < n; i++) {
        const T = logits.shape[0];
        const next = tf.tidy(() => tf.argMax(tf.slice(logits, [T - 1, 0], [1, V]).reshape([V])));
        const id = next.dataSync()[0];
        next.dispose();
        logits.dispose();
        tokens.push(id);
        times.push(performance.now());
        if (i === n - 1) {
          logits = null;
          break;
        }
        logits = advance([id], cache);
      }
      freeCache(cache);
      return { tokens, times };
    },
    release: async () => {
      for (const t of P.values()) t.dispose();
      headT.dispose();
    },
  };
}
