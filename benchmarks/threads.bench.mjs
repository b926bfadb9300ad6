// Threads: Tessera's wasm kernels on 1 and 2 threads against its peers, side by side in one
// run, every figure also given as a ratio against a peer measured in the same run:
//   - f32 matmul at 512 and 1024 (Tessera, onnxruntime-web's wasm execution provider (MLAS),
//     TensorFlow.js's wasm backend (XNNPACK), and onnxruntime-node's native CPU execution
//     provider as the ceiling: native code, not a wasm peer);
//   - GPT-2 training throughput (Tessera, and the same model in TensorFlow.js on wasm);
//   - GPT-2 124M forward over a 64-token prompt, full logits read back (Tessera 1/2 threads,
//     tfjs-wasm 1 thread, ORT-web 1/2 threads, ORT-node 1/2 threads), the same random
//     weights in every library (Tessera's seeded initialisation, exported to ONNX by
//     @tessera/models' exportOnnxBytes for ORT and copied into tfjs tensors); target:
//     Tessera on 2 threads >= 3x tfjs-wasm.
//
//   node threads.bench.mjs                 3 rounds of matmul, 2 of training, 2 of forward; writes results/threads.json
//   node threads.bench.mjs --quick         1 round each, shorter timings
//   node threads.bench.mjs --only matmul   (or --only gpt2, --only forward)
//
// A library's thread count is fixed when its runtime starts (ort.env.wasm.numThreads,
// setThreadsCount, ORT-node's intraOpNumThreads per session, Tessera's pool), so every
// (library, threads) pair runs in a child process of its own (one 124M model per child in
// the forward section); the parent runs the children round-robin, in a rotated order each
// round, and keeps each pair's best round (the machine may be shared: the load average is
// printed per round). Every library's results are checked against Tessera's (a matmul's
// first row, a strided sample of the logits). A peer that cannot load here (onnxruntime-node
// without a binding for the platform) is reported with the reason and its column skipped.
// Node 20 validates relaxed-SIMD only behind --experimental-wasm-relaxed-simd: children get
// that V8 flag there, so Tessera uses its relaxed-SIMD (FMA) build. The peers' wasm builds
// do not: ORT-web's and tfjs-wasm's binaries validate without the flag, so they have no
// relaxed-SIMD (gpt2-peers.bench.mjs checks this and has a Tessera SIMD128 column).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gpt2Feeds, gpt2Model, matMulModel } from './onnx-graph.mjs';
import { relaxedFlags } from './relaxed-simd.mjs';
import { wasmPeakGflops } from './wasm-peak.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const childAt = argv.indexOf('--child');
const onlyAt = argv.indexOf('--only');
const only = onlyAt >= 0 ? argv[onlyAt + 1] : null;

/** Seeded uniform values in [-0.5, 0.5). */
function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/** The GPT-2 of the training benchmark; dropout off so every library does the same math. */
const GPT2_CONFIG = { vocab_size: 4096, n_positions: 128, n_embd: 256, n_layer: 4, n_head: 4, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 };
const BATCH = 8;
const SEQ = 128;
/** Token ids of training step i: [BATCH, SEQ + 1], the same for every library. */
function batchTokens(i) {
  const rand = lcg(1000 + i);
  return Int32Array.from({ length: BATCH * (SEQ + 1) }, () => Math.floor((rand() + 0.5) * GPT2_CONFIG.vocab_size));
}

// =============================================================================================
// Peers.

/** A peer library that cannot run here: the child reports it, the parent skips its column. */
class PeerUnavailableError extends Error {
  name = 'PeerUnavailableError';
}

/** Version of an installed package (its package.json, found above its resolved entry point). */
function packageVersion(name) {
  const require = createRequire(import.meta.url);
  for (let dir = dirname(require.resolve(name)); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
      if (pkg.name === name) return pkg.version;
    } catch {
      // no package.json at this level
    }
  }
  return 'unknown';
}

/**
 * ONNX Runtime for a (library, threads) pair: onnxruntime-web's wasm execution provider
 * (thread count fixed when its wasm module starts) or onnxruntime-node's native CPU
 * execution provider (intra-op pool of `threads`, no inter-op parallelism). For
 * onnxruntime-node, a one-element MatMul is run first, so a binding that does not load
 * throws PeerUnavailableError with the reason before any timing starts.
 */
async function ortRuntime(lib, threads) {
  if (lib === 'ort-web') {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = threads;
    return { ort, options: { executionProviders: ['wasm'], graphOptimizationLevel: 'all' }, info: { version: packageVersion('onnxruntime-web'), threads, ep: 'wasm' } };
  }
  const options = { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
  let ort;
  try {
    ort = await import('onnxruntime-node');
    const probe = await ort.InferenceSession.create(matMulModel(1, 1, 1, Float32Array.of(2)), options);
    const y = (await probe.run({ A: new ort.Tensor('float32', Float32Array.of(3), [1, 1]) })).Y.data[0];
    await probe.release();
    if (y !== 6) throw new Error(`probe MatMul 3 x 2 gave ${y}`);
  } catch (e) {
    throw new PeerUnavailableError(`onnxruntime-node (${process.platform}-${process.arch}) cannot run: ${e?.message ?? e}`);
  }
  return { ort, options, info: { version: packageVersion('onnxruntime-node'), threads, ep: 'cpu (native)' } };
}

// =============================================================================================
// Children: one (library, threads) pair each; print one JSON line on stdout.

/**
 * Floating-point operations of a GPT-2 forward over `batch` sequences of `T` tokens as the
 * kernels run it: per layer and token 2 x 12 C^2 in the four weight products, per layer and
 * sequence 2 x 2 T^2 C in attention's two products (full T x T, mask applied after), and the
 * LM head's 2 T C V. A training step runs each product three times (forward, and the two
 * gradients of the backward): 3x.
 */
function gpt2Flops({ n_layer: L, n_embd: C, vocab_size: V }, T, batch) {
  return batch * (L * (24 * C * C * T + 4 * T * T * C) + 2 * T * C * V);
}

/**
 * TensorFlow.js on its wasm backend, asked for `threads`. tfjs-wasm runs its threaded build
 * only where it detects browser-style worker support: in Node it falls back to one thread
 * whatever is asked, and `threadsRun` says what it runs.
 */
async function tfjsWasm(threads) {
  const tf = await import('@tensorflow/tfjs');
  const { setThreadsCount, getThreadsCount } = await import('@tensorflow/tfjs-backend-wasm');
  setThreadsCount(threads);
  await tf.setBackend('wasm');
  await tf.ready();
  return { tf, threadsRun: getThreadsCount() };
}

async function matmulChild({ lib, threads, sizes, ms }) {
  const inputs = (n) => {
    const rand = lcg(n);
    return [Float32Array.from({ length: n * n }, rand), Float32Array.from({ length: n * n }, rand)];
  };
  let runner;
  const info = {};
  if (lib === 'tessera') {
    const { createWasmBackend } = await import('@tessera/core');
    const be = await createWasmBackend({ threads });
    info.build = be.features.relaxedSimd ? 'relaxed-SIMD' : 'SIMD128';
    info.threads = be.features.numThreads;
    if (be.features.numThreads !== threads) throw new Error(`tessera runs ${be.features.numThreads} threads, asked ${threads}: ${be.threadsUnavailable}`);
    info.peakGflops = wasmPeakGflops(be);
    runner = (n, A, B) => {
      const [a, b, out] = [be.alloc(n * n * 4), be.alloc(n * n * 4), be.alloc(n * n * 4)];
      be.write(a, A);
      be.write(b, B);
      const p = { a: { storage: a, offset: 0 }, b: { storage: b, offset: 0 }, out: { storage: out, offset: 0 }, m: n, n, k: n };
      return {
        run: async () => {
          be.matmul(p);
          be.readSync(out, 'f32', 0, 1);
        },
        result: () => be.readSync(out, 'f32', 0, 64),
      };
    };
  } else if (lib === 'ort-web' || lib === 'ort-node') {
    const { ort, options, info: ortInfo } = await ortRuntime(lib, threads);
    Object.assign(info, ortInfo);
    runner = async (n, A, B) => {
      // B is an initializer (a weight, as in a real model; ORT may pre-pack it), A the input.
      const sess = await ort.InferenceSession.create(matMulModel(n, n, n, B), options);
      const feeds = { A: new ort.Tensor('float32', A, [n, n]) };
      let last;
      return {
        run: async () => {
          last = (await sess.run(feeds)).Y;
        },
        result: () => last.data.slice(0, 64),
      };
    };
  } else {
    const { tf, threadsRun } = await tfjsWasm(threads);
    info.threads = threadsRun;
    info.multithreadSupport = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    runner = (n, A, B) => {
      const a = tf.tensor2d(A, [n, n]);
      const b = tf.tensor2d(B, [n, n]);
      return {
        run: async () => {
          const c = tf.matMul(a, b);
          const s = tf.slice(c, [0, 0], [1, 1]);
          s.dataSync();
          s.dispose();
          c.dispose();
        },
        result: () => {
          const c = tf.matMul(a, b);
          const v = tf.slice(c, [0, 0], [1, 64]);
          const out = v.dataSync();
          v.dispose();
          c.dispose();
          return out;
        },
      };
    };
  }
  const rows = [];
  for (const n of sizes) {
    const [A, B] = inputs(n);
    const task = await runner(n, A, B);
    await task.run();
    await task.run();
    const times = [];
    for (const t0 = performance.now(); times.length < 5 || performance.now() - t0 < ms; ) {
      const s = performance.now();
      await task.run();
      times.push(performance.now() - s);
    }
    times.sort((x, y) => x - y);
    rows.push({ n, bestMs: times[0], medianMs: times[times.length >> 1], calls: times.length, sample: Array.from(task.result()) });
  }
  return { lib, threads, info, rows };
}

async function gpt2Child({ lib, threads, steps }) {
  const T = SEQ;
  const times = [];
  const losses = [];
  let info = {};
  if (lib === 'tessera') {
    const { createWasmBackend } = await import('@tessera/core');
    const { setBackend, tensor } = await import('@tessera/tensor');
    const { GPT2 } = await import('@tessera/models');
    const { AdamW } = await import('@tessera/optim');
    const be = await createWasmBackend({ threads });
    await setBackend(be);
    info = { build: be.features.relaxedSimd ? 'relaxed-SIMD' : 'SIMD128', threads: be.features.numThreads, peakGflops: wasmPeakGflops(be) };
    const model = new GPT2(GPT2_CONFIG, { seed: 0 });
    info.parameters = model.numParameters();
    const opt = new AdamW(model.flat.groups(0.1), { lr: 3e-4 });
    for (let i = 0; i < steps + 2; i++) {
      const t0 = performance.now();
      const batch = tensor(batchTokens(i), [BATCH, T + 1], 'i32');
      const loss = model.loss(batch.narrow(1, 0, T), batch.narrow(1, 1, T));
      loss.backward();
      const l = loss.itemSync();
      loss.dispose();
      batch.dispose();
      opt.step();
      model.zeroGrad();
      if (i >= 2) times.push(performance.now() - t0);
      losses.push(l);
    }
  } else {
    const { tf, threadsRun } = await tfjsWasm(threads);
    info = { threads: threadsRun };
    const step = tfjsGpt2(tf);
    info.parameters = step.parameters;
    for (let i = 0; i < steps + 2; i++) {
      const t0 = performance.now();
      const l = step.train(batchTokens(i));
      if (i >= 2) times.push(performance.now() - t0);
      losses.push(l);
    }
  }
  const sorted = [...times].sort((x, y) => x - y);
  const tokens = BATCH * T;
  return { lib, threads, info, stepMs: times, losses, bestTokensPerSec: tokens / (sorted[0] / 1e3), medianTokensPerSec: tokens / (sorted[sorted.length >> 1] / 1e3) };
}

/**
 * The same GPT-2 in TensorFlow.js ops (pre-LN blocks, tanh GELU, tied LM head, causal
 * attention, mean next-token cross-entropy), trained with tfjs's Adam plus the decoupled
 * weight decay of AdamW applied by hand to the same parameter groups. tfjs-wasm has no
 * UnsortedSegmentSum kernel, so the embedding lookup's gradient is one-hot^T @ dY (a
 * [V, B*T] @ [B*T, C] matmul tfjs would not need with a scatter-add).
 */
function tfjsGpt2(tf) {
  const { vocab_size: V, n_positions: P, n_embd: C, n_layer: L, n_head: H } = GPT2_CONFIG;
  const D = C / H;
  const rand = lcg(7);
  const normal = (shape, std) => tf.variable(tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b) }, () => rand() * std * Math.sqrt(12)), shape));
  const zeros = (shape) => tf.variable(tf.zeros(shape));
  const ones = (shape) => tf.variable(tf.ones(shape));
  const wte = normal([V, C], 0.02);
  const wpe = normal([P, C], 0.01);
  const layers = Array.from({ length: L }, () => ({
    ln1g: ones([C]), ln1b: zeros([C]), attnW: normal([C, 3 * C], 0.02), attnB: zeros([3 * C]), projW: normal([C, C], 0.02 / Math.sqrt(2 * L)), projB: zeros([C]),
    ln2g: ones([C]), ln2b: zeros([C]), fcW: normal([C, 4 * C], 0.02), fcB: zeros([4 * C]), fc2W: normal([4 * C, C], 0.02 / Math.sqrt(2 * L)), fc2B: zeros([C]),
  }));
  const lnfg = ones([C]);
  const lnfb = zeros([C]);
  const decayed = [wte, wpe, ...layers.flatMap((l) => [l.attnW, l.projW, l.fcW, l.fc2W])];
  const all = [wte, wpe, lnfg, lnfb, ...layers.flatMap((l) => Object.values(l))];
  const lr = 3e-4;
  const wd = 0.1;
  const opt = tf.train.adam(lr, 0.9, 0.999, 1e-8);
  const T = SEQ;
  const N = BATCH * T;
  const mask = tf.tidy(() => {
    const r = tf.range(0, T, 1, 'int32').reshape([T, 1]);
    const c = tf.range(0, T, 1, 'int32').reshape([1, T]);
    return tf.mul(tf.cast(tf.greater(c, r), 'float32'), -1e9);
  });
  // tfjs-wasm's matMul with a transpose flag is 15-20x slower than on a transposed copy
  // (measured here: [1024, 768] @ [256, 768]^T 298 ms vs 20 ms), and tfjs's own matMul
  // gradient uses those flags; so every product goes through mm, whose gradient transposes
  // explicitly, and q k^T / x wte^T take explicit transposes too.
  const tT = (t) => tf.transpose(t, t.rank === 2 ? [1, 0] : [0, 1, 3, 2]);
  const mm = tf.customGrad((a, b, save) => {
    save([a, b]);
    return { value: tf.matMul(a, b), gradFunc: (dy, [sa, sb]) => [tf.matMul(dy, tT(sb)), tf.matMul(tT(sa), dy)] };
  });
  const embed = tf.customGrad((ids, table, save) => {
    save([ids]);
    return { value: tf.gather(table, ids), gradFunc: (dy, [saved]) => [tf.zerosLike(saved), tf.matMul(tT(tf.oneHot(saved, V)), dy)] };
  });
  const ln = (x, g, b) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
  };
  const gelu = (x) => tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(x, tf.mul(x, x))))))));
  const heads = (t) => tf.transpose(tf.reshape(t, [BATCH, T, H, D]), [0, 2, 1, 3]); // [B, H, T, D]
  const lossOf = (ids, targets) => {
    let x = tf.add(tf.reshape(embed(ids, wte), [BATCH, T, C]), tf.slice(wpe, [0, 0], [T, C]));
    x = tf.reshape(x, [N, C]);
    for (const l of layers) {
      const qkv = tf.add(mm(ln(x, l.ln1g, l.ln1b), l.attnW), l.attnB);
      const [q, k, v] = tf.split(qkv, 3, 1).map(heads);
      const att = tf.softmax(tf.add(tf.mul(mm(q, tT(k)), 1 / Math.sqrt(D)), mask));
      const y = tf.reshape(tf.transpose(mm(att, v), [0, 2, 1, 3]), [N, C]);
      x = tf.add(x, tf.add(mm(y, l.projW), l.projB));
      const m = gelu(tf.add(mm(ln(x, l.ln2g, l.ln2b), l.fcW), l.fcB));
      x = tf.add(x, tf.add(mm(m, l.fc2W), l.fc2B));
    }
    const logits = mm(ln(x, lnfg, lnfb), tT(wte)); // [N, V]
    return tf.losses.softmaxCrossEntropy(tf.oneHot(targets, V), logits);
  };
  return {
    parameters: all.reduce((s, v) => s + v.size, 0),
    train(tokens) {
      const ids = [];
      const targets = [];
      for (let b = 0; b < BATCH; b++) {
        for (let t = 0; t < T; t++) {
          ids.push(tokens[b * (T + 1) + t]);
          targets.push(tokens[b * (T + 1) + t + 1]);
        }
      }
      const idT = tf.tensor1d(ids, 'int32');
      const tgT = tf.tensor1d(targets, 'int32');
      // AdamW's decoupled decay (p *= 1 - lr wd) on the decayed group, then Adam.
      tf.tidy(() => decayed.forEach((p) => p.assign(tf.mul(p, 1 - lr * wd))));
      const loss = opt.minimize(() => lossOf(idT, tgT), true, all);
      const l = loss.dataSync()[0];
      loss.dispose();
      idT.dispose();
      tgT.dispose();
      return l;
    },
  };
}

// ---- GPT-2 124M forward over a 64-token prompt, full logits read back.

const PROMPT = 64;
/** A fixed pseudo-random prompt of ordinary token ids (the one of gpt2.bench.mjs). */
const FORWARD_PROMPT = Array.from({ length: PROMPT }, (_, i) => (i * 7919 + 13) % 50000);
/** Every SAMPLE_STRIDE-th logit of [1, 64, 50257] goes back to the parent for the cross-check (~32k values). */
const SAMPLE_STRIDE = 101;

/**
 * Every child builds GPT-2 124M with Tessera's seeded initialisation (the same weights in
 * every process), then hands those weights to its library: Tessera runs the model itself;
 * ORT gets the model's ONNX export (exportOnnxBytes), whose initializers are copied from
 * the parameters as the model bytes are written; tfjs gets tensors of the same values.
 */
async function forwardChild({ lib, threads, reps }) {
  const { createWasmBackend } = await import('@tessera/core');
  const { noGrad, setBackend, tensor } = await import('@tessera/tensor');
  const { GPT2 } = await import('@tessera/models');
  // Only Tessera's own run uses its thread pool; elsewhere it just initialises the weights.
  const be = await createWasmBackend({ threads: lib === 'tessera' ? threads : 1 });
  await setBackend(be);
  let t0 = performance.now();
  const model = new GPT2({}, { seed: 0 }).eval();
  const cfg = model.config;
  const info = { setup: { initMs: performance.now() - t0 }, parameters: model.numParameters(), vocab: cfg.vocab_size, config: { n_layer: cfg.n_layer, n_embd: cfg.n_embd, vocab_size: cfg.vocab_size } };
  let forward;
  if (lib === 'tessera') {
    info.build = be.features.relaxedSimd ? 'relaxed-SIMD' : 'SIMD128';
    info.threads = be.features.numThreads;
    if (be.features.numThreads !== threads) throw new Error(`tessera runs ${be.features.numThreads} threads, asked ${threads}: ${be.threadsUnavailable}`);
    info.peakGflops = wasmPeakGflops(be);
    // Inference setup, as tfjs-wasm (XNNPACK caches packed weights per tensor) and ORT
    // (pre-packed initializers) do theirs: the weight matrices packed once for the GEMM.
    model.prepackWeights();
    forward = () =>
      noGrad(() => {
        const ids = tensor([FORWARD_PROMPT], undefined, 'i32');
        const logits = model.forward(ids);
        const out = logits.dataSync();
        logits.dispose();
        ids.dispose();
        return out;
      });
  } else if (lib === 'ort-web' || lib === 'ort-node') {
    const { ort, options, info: ortInfo } = await ortRuntime(lib, threads);
    Object.assign(info, ortInfo);
    t0 = performance.now();
    let bytes = gpt2Model(model);
    info.setup.onnxBytes = bytes.length;
    info.setup.graphMs = performance.now() - t0;
    model.dispose();
    t0 = performance.now();
    const sess = await ort.InferenceSession.create(bytes, options);
    bytes = null;
    info.setup.sessionMs = performance.now() - t0;
    const feeds = gpt2Feeds(ort, FORWARD_PROMPT);
    forward = async () => (await sess.run(feeds)).logits.data;
  } else {
    const { tf, threadsRun } = await tfjsWasm(threads);
    info.threads = threadsRun;
    info.version = tf.version.tfjs;
    t0 = performance.now();
    const net = tfjsGpt2Forward(tf, cfg, model.namedParameters());
    info.setup.copyMs = performance.now() - t0;
    model.dispose();
    forward = () => {
      const logits = net(FORWARD_PROMPT);
      const out = logits.dataSync();
      logits.dispose();
      return out;
    };
  }
  const first = await forward(); // warm-up (ORT's first run also allocates its arena)
  if (first.length !== PROMPT * cfg.vocab_size) throw new Error(`${lib}: ${first.length} logits, expected ${PROMPT} x ${cfg.vocab_size}`);
  const ms = [];
  for (let i = 0; i < reps; i++) {
    const s = performance.now();
    await forward();
    ms.push(performance.now() - s);
  }
  const sample = [];
  for (let i = 0; i < first.length; i += SAMPLE_STRIDE) sample.push(first[i]);
  return { lib, threads, info, ms, sample };
}

/**
 * GPT-2 forward in TensorFlow.js ops (the network of gpt2.bench.mjs), weights copied from
 * Tessera's named parameters; returns ids -> logits [T, V]. The tied LM head gets a
 * pre-transposed copy of wte: tfjs-wasm's matMul with transposeB is an order of magnitude
 * slower.
 */
function tfjsGpt2Forward(tf, cfg, namedParameters) {
  const { n_embd: C, n_head: H, n_layer: L, layer_norm_epsilon: eps } = cfg;
  const D = C / H;
  const params = new Map(namedParameters.map(([name, p]) => [name, tf.tensor(p.dataSync(), p.shape)]));
  params.set('lm_head.weight.T', tf.transpose(params.get('transformer.wte.weight')));
  const P = (name) => params.get(name);
  const ln = (x, prefix) => {
    const { mean, variance } = tf.moments(x, -1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), P(`${prefix}.weight`)), P(`${prefix}.bias`));
  };
  const linear = (x, prefix) => tf.add(tf.matMul(x, P(`${prefix}.weight`)), P(`${prefix}.bias`));
  const gelu = (x) => tf.mul(tf.mul(0.5, x), tf.add(1, tf.tanh(tf.mul(Math.sqrt(2 / Math.PI), tf.add(x, tf.mul(0.044715, tf.mul(x, tf.mul(x, x))))))));
  return (ids) =>
    tf.tidy(() => {
      const T = ids.length;
      let x = tf.add(tf.gather(P('transformer.wte.weight'), tf.tensor1d(ids, 'int32')), tf.slice(P('transformer.wpe.weight'), [0, 0], [T, C]));
      const rows = tf.range(0, T, 1, 'int32').reshape([T, 1]);
      const cols = tf.range(0, T, 1, 'int32').reshape([1, T]);
      const mask = tf.mul(tf.cast(tf.greater(cols, rows), 'float32'), -1e9); // [T, T] causal
      for (let l = 0; l < L; l++) {
        const p = `transformer.h.${l}`;
        const qkv = linear(ln(x, `${p}.ln_1`), `${p}.attn.c_attn`); // [T, 3C]
        const [q, k, v] = tf.split(qkv, 3, 1).map((t) => tf.transpose(tf.reshape(t, [T, H, D]), [1, 0, 2])); // [H, T, D]
        const att = tf.softmax(tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(D)), mask));
        const y = tf.reshape(tf.transpose(tf.matMul(att, v), [1, 0, 2]), [T, C]);
        x = tf.add(x, linear(y, `${p}.attn.c_proj`));
        x = tf.add(x, linear(gelu(linear(ln(x, `${p}.ln_2`), `${p}.mlp.c_fc`)), `${p}.mlp.c_proj`));
      }
      return tf.matMul(ln(x, 'transformer.ln_f'), P('lm_head.weight.T'));
    });
}

if (childAt >= 0) {
  const spec = JSON.parse(argv[childAt + 1]);
  const run = { matmul: matmulChild, gpt2: gpt2Child, forward: forwardChild }[spec.kind];
  let out;
  try {
    out = await run(spec);
  } catch (e) {
    if (!(e instanceof PeerUnavailableError)) throw e;
    out = { lib: spec.lib, threads: spec.threads, unavailable: e.message };
  }
  // Exit once the line is flushed: a pipe may take a large line (the forward section's logits
  // sample) in several writes, and worker threads would keep the process alive otherwise.
  await new Promise((resolve) => process.stdout.write(`${JSON.stringify(out)}\n`, resolve));
  process.exit(0);
}

// =============================================================================================
// Parent.

const log = (...a) => console.log(...a);
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');

function child(spec) {
  const r = spawnSync(process.execPath, [...relaxedFlags, fileURLToPath(import.meta.url), '--child', JSON.stringify(spec)], { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 600_000 });
  if (r.status !== 0) throw new Error(`child ${JSON.stringify(spec)} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** Runs every spec once per round, in a rotated order, and groups the results by spec. */
function rounds(specs, count, what) {
  const results = specs.map(() => []);
  for (let r = 0; r < count; r++) {
    log(`${what}: round ${r + 1}/${count}, load average ${load()}`);
    for (let i = 0; i < specs.length; i++) {
      const at = (i + r) % specs.length;
      results[at].push(child(specs[at]));
    }
  }
  return results;
}

const SECTIONS = ['matmul', 'gpt2', 'forward'];
if (only !== null && !SECTIONS.includes(only)) throw new Error(`--only ${only}: expected one of ${SECTIONS.join(', ')}`);
const runs = (section) => only === null || only === section;

const report = { date: new Date().toISOString(), node: process.version, cpu: os.cpus()[0].model, cores: os.availableParallelism(), loadBefore: os.loadavg() };
const fmt = (v, d = 1) => (v === undefined || Number.isNaN(v) ? 'n/a' : v.toFixed(d));
/** Speed ratio "a / b" of two rates (higher is faster for a), 'n/a' where either is missing. */
const ratio = (a, b) => (a === undefined || b === undefined ? 'n/a' : `${(a / b).toFixed(2)}x`);

/** Drops the specs whose library could not run here (saying why); returns the others' indices. */
function available(specs, res) {
  const ok = [];
  specs.forEach((s, i) => {
    const gone = res[i].find((r) => r.unavailable);
    if (gone) log(`${s.lib} (${s.threads} thread${s.threads > 1 ? 's' : ''}) skipped: ${gone.unavailable}`);
    else ok.push(i);
  });
  return ok;
}

if (runs('matmul')) {
  const sizes = [512, 1024];
  const ms = quick ? 400 : 1500;
  const libs = ['tessera', 'ort-web', 'tfjs', 'ort-node'];
  const specs = libs.flatMap((lib) => [1, 2].map((threads) => ({ kind: 'matmul', lib, threads, sizes, ms })));
  const res = rounds(specs, quick ? 1 : 3, 'matmul');
  // Best round per (lib, threads, n); every library must compute the same product.
  const table = {};
  for (const i of available(specs, res)) {
    const s = specs[i];
    for (const n of sizes) {
      const rows = res[i].map((r) => r.rows.find((x) => x.n === n));
      const best = Math.min(...rows.map((r) => r.bestMs));
      const medians = rows.map((r) => r.medianMs).sort((x, y) => x - y);
      table[`${s.lib}/${s.threads}/${n}`] = { bestMs: best, medianMs: medians[medians.length >> 1], gflops: (2 * n ** 3) / best / 1e6, sample: rows[0].sample, info: res[i][0].info };
    }
  }
  for (const n of sizes) {
    const ref = table[`tessera/1/${n}`].sample;
    for (const key of Object.keys(table).filter((k) => k.endsWith(`/${n}`))) {
      const diff = Math.max(...table[key].sample.map((v, j) => Math.abs(v - ref[j])));
      if (!(diff <= 1e-4 * Math.sqrt(n))) throw new Error(`${key} disagrees with tessera/1: max |diff| ${diff}`);
    }
  }
  // The probe's best sample over every Tessera child (1- and 2-thread runs alike probe one thread).
  const peak = Math.max(...specs.flatMap((sp, i) => (sp.lib === 'tessera' ? res[i].map((r) => r.info.peakGflops) : [])));
  const t = (lib, th, n) => table[`${lib}/${th}/${n}`];
  const g = (lib, th, n) => t(lib, th, n)?.gflops;
  log(`\nf32 matmul C = A @ B (square), GFLOPS = 2n^3 / best call; Tessera ${t('tessera', 1, 512).info.build}, one-thread wasm SIMD peak ${peak.toFixed(1)} GFLOPS (matmul_peak_probe)`);
  log(`ORT-web ${t('ort-web', 1, 512).info.version} (wasm EP); ORT-node ${t('ort-node', 1, 512)?.info.version ?? 'unavailable'} (native CPU EP: the ceiling, not a wasm peer)`);
  log(`tfjs-wasm threads available in this runtime: ${t('tfjs', 2, 512).info.threads} (multithread support: ${t('tfjs', 2, 512).info.multithreadSupport})\n`);
  log('| n | threads | tessera GFLOPS (% of peak) | ORT-web GFLOPS | tfjs-wasm GFLOPS | ORT-node GFLOPS (native ceiling) | tessera / ORT-web | tessera / tfjs | tessera / ORT-node |');
  log('|---|---|---|---|---|---|---|---|---|');
  for (const n of sizes) {
    for (const th of [1, 2]) {
      const ts = t('tessera', th, n);
      const f = t('tfjs', th, n);
      const tfjsReal = f.info.threads === th;
      log(
        `| ${n} | ${th} | ${fmt(ts.gflops)} (${fmt((100 * ts.gflops) / (peak * th), 0)}%) | ${fmt(g('ort-web', th, n))} | ${tfjsReal ? fmt(f.gflops) : `${fmt(f.gflops)} (runs ${f.info.threads})`} | ${fmt(g('ort-node', th, n))} | ` +
          `${ratio(ts.gflops, g('ort-web', th, n))} | ${ratio(ts.gflops, f.gflops)} | ${ratio(ts.gflops, g('ort-node', th, n))} |`,
      );
    }
  }
  for (const n of sizes) {
    const scale = (lib) => (g(lib, 1, n) === undefined ? 'n/a' : `x${fmt(g(lib, 2, n) / g(lib, 1, n), 2)}`);
    log(`scaling 1 -> 2 threads at ${n}: tessera ${scale('tessera')}, ORT-web ${scale('ort-web')}, ORT-node ${scale('ort-node')}`);
  }
  const matmulTargets = sizes.map((n) => {
    const [one, two] = [g('tessera', 1, n), g('tessera', 2, n)];
    return { n, oneThread: one, twoThreads: two, met: one >= 42 && two >= 80 };
  });
  for (const r of matmulTargets) log(`Target at ${r.n}: tessera 1 thread >= 42 GFLOPS (${fmt(r.oneThread)}), 2 threads >= 80 GFLOPS (${fmt(r.twoThreads)}): ${r.met ? 'met' : 'NOT met'}`);
  report.matmul = { peakGflopsOneThread: peak, table, targets: matmulTargets };
}

if (runs('gpt2')) {
  const steps = quick ? 3 : 6;
  const specs = [
    { kind: 'gpt2', lib: 'tessera', threads: 1, steps },
    { kind: 'gpt2', lib: 'tessera', threads: 2, steps },
    // tfjs-wasm takes seconds per step: fewer steps.
    { kind: 'gpt2', lib: 'tfjs', threads: 1, steps: Math.min(steps, 3) },
  ];
  const res = rounds(specs, quick ? 1 : 2, 'gpt2 training');
  const summary = specs.map((s, i) => {
    const best = Math.max(...res[i].map((r) => r.bestTokensPerSec));
    const medians = res[i].map((r) => r.medianTokensPerSec).sort((x, y) => x - y);
    return { ...s, bestTokensPerSec: best, medianTokensPerSec: medians[medians.length >> 1], info: res[i][0].info, losses: res[i][0].losses };
  });
  // Same data, same initial loss scale: a sanity check that each library trains the model it claims.
  for (const s of summary) if (!(s.losses[0] > 7 && s.losses[0] < 9.5)) throw new Error(`${s.lib}: first loss ${s.losses[0]}, expected ~ln(4096) = 8.3`);
  const tessOne = summary[0].bestTokensPerSec;
  log(`\nGPT-2 training, ${GPT2_CONFIG.n_layer} layers x ${GPT2_CONFIG.n_head} heads, ${GPT2_CONFIG.n_embd} wide, context ${SEQ}, batch ${BATCH}, vocab ${GPT2_CONFIG.vocab_size} (${summary[0].info.parameters} parameters), AdamW, dropout 0`);
  log('tokens/s = batch x context / step time (forward, backward, optimizer step, loss read back); best step, median step\n');
  // Achieved GFLOPS of the best step: 3 x the forward's products (gpt2Flops) per BATCH x SEQ tokens.
  const flopsPerToken = (3 * gpt2Flops(GPT2_CONFIG, SEQ, BATCH)) / (BATCH * SEQ);
  const peak = Math.max(...summary.filter((s) => s.lib === 'tessera').map((s) => s.info.peakGflops));
  const tfjsOne = summary.find((s) => s.lib === 'tfjs').bestTokensPerSec;
  log(`achieved GFLOPS = ${(flopsPerToken / 1e6).toFixed(1)} MFLOP per token (products only) x tokens/s; % of the one-thread wasm SIMD peak (${fmt(peak)} GFLOPS) x threads\n`);
  log('| library | threads | tokens/s (best) | tokens/s (median) | vs tessera 1 thread | vs tfjs-wasm | GFLOPS (% of peak) | losses (first steps) |');
  log('|---|---|---|---|---|---|---|---|');
  for (const s of summary) {
    const gflops = (s.bestTokensPerSec * flopsPerToken) / 1e9;
    const ofPeak = s.lib === 'tessera' ? ` (${fmt((100 * gflops) / (peak * s.info.threads), 0)}%)` : '';
    log(`| ${s.lib === 'tessera' ? `tessera (${s.info.build})` : 'tfjs-wasm'} | ${s.info.threads} | ${fmt(s.bestTokensPerSec, 0)} | ${fmt(s.medianTokensPerSec, 0)} | ${fmt(s.bestTokensPerSec / tessOne, 2)}x | ${fmt(s.bestTokensPerSec / tfjsOne, 1)}x | ${fmt(gflops)}${ofPeak} | ${s.losses.slice(0, 3).map((l) => l.toFixed(3)).join(', ')} |`);
  }
  const two = summary.find((s) => s.lib === 'tessera' && s.threads === 2).bestTokensPerSec;
  log(`\nTarget: tessera on 2 threads >= 1,500 tokens/s: ${two >= 1500 ? 'met' : 'NOT met'} (${fmt(two, 0)})`);
  report.gpt2 = { config: GPT2_CONFIG, batch: BATCH, seq: SEQ, flopsPerToken, peakGflopsOneThread: peak, summary, targets: { tessera2ThreadsAtLeast1500: two >= 1500 } };
}

if (runs('forward')) {
  const reps = quick ? 3 : 5;
  const specs = [
    { lib: 'tessera', threads: 1 },
    { lib: 'tessera', threads: 2 },
    // tfjs-wasm has no threads in Node (see the matmul section): one thread only.
    { lib: 'tfjs', threads: 1 },
    { lib: 'ort-web', threads: 1 },
    { lib: 'ort-web', threads: 2 },
    { lib: 'ort-node', threads: 1 },
    { lib: 'ort-node', threads: 2 },
  ].map((s) => ({ kind: 'forward', ...s, reps }));
  const res = rounds(specs, quick ? 1 : 2, 'gpt2 forward');
  const rows = {};
  for (const i of available(specs, res)) {
    const all = res[i].flatMap((r) => r.ms).sort((x, y) => x - y);
    rows[`${specs[i].lib}/${specs[i].threads}`] = { ...specs[i], bestMs: all[0], medianMs: all[all.length >> 1], info: res[i][0].info, sample: res[i][0].sample };
  }
  const ref = rows['tessera/1'];
  if (!ref) throw new Error('gpt2 forward: no tessera/1 result to check the peers against');
  // Every library runs the same weights on the same prompt: compare a strided sample of the logits.
  const checks = [];
  for (const [key, r] of Object.entries(rows)) {
    if (r.sample.length !== ref.sample.length) throw new Error(`gpt2 forward: ${key} returned ${r.sample.length} sampled logits, tessera/1 ${ref.sample.length}`);
    r.maxAbsDiff = r.sample.reduce((m, v, j) => Math.max(m, Math.abs(v - ref.sample[j])), 0);
    checks.push(`${key} ${r.maxAbsDiff.toExponential(1)}`);
  }
  const scale = ref.sample.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  log(`\ncross-check, ${ref.sample.length} logits (1 in ${SAMPLE_STRIDE} of [1, ${PROMPT}, ${ref.info.vocab}]), max |x - tessera/1| (max |logit| ${scale.toFixed(2)}): ${checks.join(', ')}`);
  for (const [key, r] of Object.entries(rows)) if (!(r.maxAbsDiff <= 1e-3)) throw new Error(`gpt2 forward: ${key} logits differ from tessera/1 by up to ${r.maxAbsDiff} (limit 1e-3)`);

  const ms = (lib, th) => rows[`${lib}/${th}`]?.bestMs;
  const tfjs1 = ms('tfjs', 1);
  const name = { tessera: `tessera (${ref.info.build})`, tfjs: `tfjs-wasm ${rows['tfjs/1']?.info.version ?? ''}`, 'ort-web': `ORT-web ${rows['ort-web/1']?.info.version ?? ''} (wasm EP)`, 'ort-node': `ORT-node ${rows['ort-node/1']?.info.version ?? ''} (native CPU EP, ceiling)` };
  log(`\nGPT-2 124M (random weights, the same in every library), forward over a ${PROMPT}-token prompt, full logits [${PROMPT}, ${ref.info.vocab}] read back; best of ${quick ? 1 : 2} round(s) x ${reps} calls after a warm-up call`);
  log('speed ratios: the other library\'s ms / this row\'s ms (above 1x: this row is faster)\n');
  const forwardFlops = gpt2Flops(ref.info.config, PROMPT, 1);
  const peak = Math.max(rows['tessera/1'].info.peakGflops, rows['tessera/2']?.info.peakGflops ?? 0);
  log(`achieved GFLOPS = ${(forwardFlops / 1e9).toFixed(2)} GFLOP (the products) / best time; for Tessera also the % of the one-thread wasm SIMD peak (${fmt(peak)} GFLOPS) x threads\n`);
  log('| library | threads | ms (best) | ms (median) | GFLOPS | vs tfjs-wasm, 1 thread | vs ORT-web, same threads | vs ORT-node, same threads |');
  log('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const s of specs) {
    const r = rows[`${s.lib}/${s.threads}`];
    if (!r) {
      log(`| ${s.lib} | ${s.threads} | unavailable | | | | | |`);
      continue;
    }
    const gflops = forwardFlops / (r.bestMs / 1e3) / 1e9;
    const ofPeak = s.lib === 'tessera' ? ` (${fmt((100 * gflops) / (peak * s.threads), 0)}%)` : '';
    log(`| ${name[s.lib]} | ${r.info.threads ?? s.threads} | ${fmt(r.bestMs)} | ${fmt(r.medianMs)} | ${fmt(gflops)}${ofPeak} | ${ratio(tfjs1, r.bestMs)} | ${ratio(ms('ort-web', s.threads), r.bestMs)} | ${ratio(ms('ort-node', s.threads), r.bestMs)} |`);
  }
  const target = tfjs1 / ms('tessera', 2);
  log(`\nTarget: tessera on 2 threads >= 3x tfjs-wasm (1 thread): ${target >= 3 ? 'met' : 'NOT met'} (${fmt(target, 2)}x). ORT-node is native code (MLAS kernels for the host's own vector extensions): the ceiling, not a wasm peer.`);
  report.forward = { prompt: PROMPT, reps, rows: Object.fromEntries(Object.entries(rows).map(([k, { sample, ...r }]) => [k, r])), targets: { tessera2ThreadsAtLeast3xTfjs: target >= 3, ratio: target } };
}

report.loadAfter = os.loadavg();
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'threads.json'), JSON.stringify(report, null, 2));
log(`\nload average before ${report.loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${load()}; wrote results/threads.json`);
