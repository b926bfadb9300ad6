// GPT-2 124M decode and prompt forwards: Tessera f32 / int8 / int4 (quantize(model, { bits }))
// against ONNX Runtime running Tessera's f32 ONNX export and the same export quantized by ONNX
// Runtime's own dynamic int8 quantization (scripts/ort_quantize_dynamic.py: quantize_dynamic,
// weight_type QInt8, per-tensor weight scales, uint8 activations quantized at run time), in
// onnxruntime-node (native CPU EP) and onnxruntime-web (wasm EP, in Node), 1 and 2 threads.
//
//   node benchmarks/ort-dynamic-int8.bench.mjs            GPT-2 124M, threads 1 and 2, 5 rounds, 16 decoded tokens
//   node benchmarks/ort-dynamic-int8.bench.mjs --quick    validates the script: 2 layers at 124M's width and
//                                                         vocabulary, 2 rounds, 8 decoded tokens; measures nothing
//   options: --threads 1,2  --rounds 5  --decode 16  --prompts 64,256  --layers N  --per-channel (ORT per-channel weights)
//
// The quantizing runs in Python: $TESSERA_PYTHON, else the repository's .venv-hf, else python3, which
// must import onnxruntime.quantization (pip install onnxruntime onnx); without it the ORT int8 rows
// are skipped, and the run says why.
//
// One model (seed 0, the seed of quant.bench.mjs's rows): the parent process builds it, exports it
// (exportOnnxBytes(model, { kvCache: true }), f32) and quantizes the export once; then one child
// process per thread count (onnxruntime-web fixes its thread count with its first session) builds
// the same model for Tessera's rows and loads both ONNX files into both runtimes.
//
// Protocol, the same for every contender: greedy decoding of --decode tokens after a 64-token
// prompt with the KV cache, tokens/s over the tokens after the first (the prefill excluded), and the
// forward of 64- and 256-token prompts (all positions' logits). Rounds interleave the contenders
// (the order rotates each round) so load changes hit all of them; reported: median over rounds,
// min..max, and the ratio of medians to the same runtime's f32 (above 1: the quantized model is faster).
//
// Correctness before any number, on the 64- and 256-token prompts against Tessera's f32 logits:
//   - ORT f32 (node and web): max |diff| <= 1e-4 (gpt2-peers' tolerance: f32 rounding only);
//   - ORT dynamic int8: max |diff| <= INT8_RANGE_TOL of the range (max - min) of the f32 logits,
//     and the argmax equal at >= INT8_TOP1 of the positions. Dynamic quantization rounds every
//     activation tensor to uint8 with one scale and every weight to int8 with one scale per
//     tensor, so the logits move by a few percent of their range, not by f32 rounding;
//     random weights make near-uniform logits whose top two often differ by less than that, so
//     top-1 agreement is asserted on a majority, not on every position. Both measured values print.
//     Measured (64-token prompt): 2.3-2.6% of the range and 88-94% top-1 at 2 layers, 2.5-2.6% and
//     91-92% at 12 (the 124M model), node and web alike; the bound, 5%, leaves twice that.
//   - Tessera int8 / int4: finite logits; their distance from f32 prints (their kernels' accuracy is
//     checked by quant.bench.mjs and the models tests).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { medianStats as stats, ortContender, tesseraGpt2 } from './gpt2-contenders.mjs';
import { relaxedFlags } from './relaxed-simd.mjs';

const SELF = fileURLToPath(import.meta.url);
const HERE = dirname(SELF);
const ROOT = join(HERE, '..');
const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const opt = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const list = (name, fallback) => opt(name, fallback).split(',').map(Number);
const THREADS = list('--threads', '1,2');
const ROUNDS = Number(opt('--rounds', quick ? '2' : '5'));
const DECODE = Number(opt('--decode', quick ? '8' : '16'));
const PROMPTS = list('--prompts', '64,256');
const DECODE_PROMPT = 64;
const LAYERS = opt('--layers', quick ? '2' : undefined);
const CONFIG = LAYERS === undefined ? {} : { n_layer: Number(LAYERS) };
const PER_CHANNEL = argv.includes('--per-channel');
const F32_TOL = 1e-4;
const INT8_RANGE_TOL = 0.05;
const INT8_TOP1 = 0.5;
const positive = (xs) => xs.every((x) => Number.isInteger(x) && x >= 1);
if (!positive(THREADS)) throw new Error(`--threads must list positive integers, got ${opt('--threads')}`);
if (!positive([ROUNDS, DECODE, ...PROMPTS])) throw new Error(`--rounds, --decode and --prompts must be positive integers, got ${ROUNDS}, ${DECODE}, ${PROMPTS}`);
if (DECODE < 2) throw new Error(`--decode must be at least 2 (tokens/s is measured over the tokens after the first), got ${DECODE}`);
if (LAYERS !== undefined && !positive([CONFIG.n_layer])) throw new Error(`--layers must be a positive integer, got ${LAYERS}`);
const log = (...a) => console.error(...a);

/** A fixed pseudo-random prompt of ordinary token ids (quant.bench.mjs's). */
const promptOf = (T) => Array.from({ length: T }, (_, i) => (i * 7919 + 13) % 50000);

if (argv.includes('--child')) await child(Number(opt('--child')), opt('--dir'));
else await parent();

// =============================================================================================
// Parent: the export and ORT's quantization once, one child per thread count, the table.

/** The Python that runs the quantizer: $TESSERA_PYTHON, the repository's .venv-hf, python3. */
function findPython() {
  const venv = join(ROOT, '.venv-hf', 'bin', 'python');
  return process.env.TESSERA_PYTHON || (existsSync(venv) ? venv : 'python3');
}

async function parent() {
  const { GPT2, exportOnnxBytes } = await import('@tessera/models');
  const { ready } = await import('@tessera/tensor');
  await ready();
  const dir = mkdtempSync(join(os.tmpdir(), 'tessera-ort-int8-'));
  try {
    const model = new GPT2(CONFIG, { seed: 0 }).eval();
    const cfg = model.config;
    writeFileSync(join(dir, 'f32.onnx'), exportOnnxBytes(model, { kvCache: true }));
    model.dispose();
    const python = findPython();
    const args = [join(ROOT, 'scripts', 'ort_quantize_dynamic.py'), join(dir, 'f32.onnx'), join(dir, 'int8.onnx'), ...(PER_CHANNEL ? ['--per-channel'] : [])];
    const t0 = performance.now();
    const q = spawnSync(python, args, { encoding: 'utf8' });
    let quantizer;
    if (q.status === 0) {
      quantizer = q.stdout.trim();
      log(`${quantizer}\n(quantized in ${((performance.now() - t0) / 1e3).toFixed(1)} s)`);
    } else {
      const why = (q.error?.message ?? q.stderr.trim().split('\n').pop()) || `exit ${q.status}`;
      rmSync(join(dir, 'int8.onnx'), { force: true }); // a half-written file must not be timed
      log(`ORT dynamic int8 rows skipped: ${python} ${args.join(' ')} failed: ${why}`);
      quantizer = `skipped: ${why}`;
    }
    const results = [];
    for (const threads of THREADS) {
      const r = spawnSync(process.execPath, [...relaxedFlags, '--max-old-space-size=8192', SELF, ...argv, '--child', String(threads), '--dir', dir], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 1 << 26,
      });
      if (r.status !== 0) {
        console.error(`ort-dynamic-int8: the ${threads}-thread run failed (exit ${r.status}); no numbers are reported`);
        process.exit(1);
      }
      results.push(JSON.parse(r.stdout.trim().split('\n').pop()));
    }
    report(cfg, quantizer, results);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function report(cfg, quantizer, results) {
  const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} logical cores, Node ${process.version}`;
  const f = (s, d) => `${s.median.toFixed(d)} (${s.min.toFixed(d)}..${s.max.toFixed(d)})`;
  const title = quick ? `GPT-2 ${cfg.n_layer}-layer at 124M's width (--quick: validates the script, measures nothing)` : `GPT-2 ${cfg.n_layer === 12 ? '124M' : `${cfg.n_layer}-layer`} (random weights, seed 0)`;
  console.log(`\n### ${title}: Tessera vs ONNX Runtime's dynamic int8, ${machine}`);
  console.log(`\nmedian (min..max) of ${ROUNDS} interleaved rounds; decode: ${DECODE} greedy tokens after a ${DECODE_PROMPT}-token prompt with the KV cache; "x f32": ratio of medians to the same runtime's f32 (above 1: faster)`);
  console.log(`\nORT quantizer: ${quantizer.replaceAll('\n', '\n  ')}\n`);
  for (const res of results) {
    console.log(`#### ${res.threads} thread(s)\n`);
    for (const c of res.contenders) console.log(`- ${c.name}: ${c.build}${c.mib ? `; ${c.mib.toFixed(1)} MiB` : ''}`);
    console.log('\nCorrectness (prompt logits against Tessera f32):');
    for (const c of res.checks) console.log(`- ${c}`);
    const heads = PROMPTS.map((p) => `${p}-token prompt ms | x f32`);
    console.log(`\n| threads | contender | decode tokens/s | x f32 | ${heads.join(' | ')} |`);
    console.log(`|---|---|---:|---:|${PROMPTS.map(() => '---:|---:|').join('')}`);
    for (const c of res.contenders) {
      const base = res.contenders.find((b) => b.runtime === c.runtime && b.weights === 'f32');
      const ratio = (x) => `${x.toFixed(2)}x`;
      const cells = PROMPTS.map((p) => `${f(c.forward[p], 1)} | ${ratio(base.forward[p].median / c.forward[p].median)}`);
      console.log(`| ${res.threads} | ${c.name} | ${f(c.decode, 2)} | ${ratio(c.decode.median / base.decode.median)} | ${cells.join(' | ')} |`);
    }
    console.log('');
  }
  const outDir = join(HERE, 'results');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, quick ? 'ort-dynamic-int8-quick.json' : 'ort-dynamic-int8.json');
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), command: `node benchmarks/ort-dynamic-int8.bench.mjs ${argv.join(' ')}`.trim(), machine, quantizer, results }, null, 2)}\n`);
  log(`wrote ${file}`);
}

// =============================================================================================
// Child: every contender at one thread count.

/** max |got - want|, want's range (max - min), and the share of positions whose argmax agrees. */
function compareLogits(got, want, V) {
  let worst = 0;
  let lo = Infinity;
  let hi = -Infinity;
  let finite = true;
  for (let i = 0; i < want.length; i++) {
    if (!Number.isFinite(got[i])) finite = false;
    worst = Math.max(worst, Math.abs(got[i] - want[i]));
    lo = Math.min(lo, want[i]);
    hi = Math.max(hi, want[i]);
  }
  const argmax = (v, r) => {
    let best = 0;
    for (let j = 1; j < V; j++) if (v[r * V + j] > v[r * V + best]) best = j;
    return best;
  };
  const rows = want.length / V;
  let same = 0;
  for (let r = 0; r < rows; r++) if (argmax(got, r) === argmax(want, r)) same++;
  return { finite, worst, range: hi - lo, top1: same / rows };
}

async function child(threads, dir) {
  const { createWasmBackend } = await import('@tessera/core');
  const { GPT2, quantize, quantizedBytes, quantizedWeights } = await import('@tessera/models');
  const { setBackend } = await import('@tessera/tensor');

  const be = await createWasmBackend({ threads });
  if (be.features.numThreads !== threads) throw new Error(`tessera runs ${be.features.numThreads} threads, asked ${threads}: ${be.threadsUnavailable}`);
  await setBackend(be);
  const buildOf = `wasm ${be.features.relaxedSimd ? 'relaxed-SIMD (FMA)' : 'SIMD128'}, ${threads} thread(s), KV cache`;
  const tesseraContender = (weights, model, mib, a8 = false) => ({
    name: `tessera ${weights}`,
    runtime: 'tessera',
    weights,
    mib,
    build: `${buildOf}${weights === 'f32' ? ', weights prepacked' : `, quantize(model, { bits: ${weights.slice(3, 4)}${a8 ? ", activations: 'int8'" : ''} }) groups of ${quantizedWeights(model).values().next().value.weight.groupSize}, ${a8 ? 'int8 activations on decode steps' : 'f32 activations'}`}`,
    ...tesseraGpt2(model),
    release: async () => model.dispose(),
  });
  const f32 = new GPT2(CONFIG, { seed: 0 }).eval().prepackWeights();
  const cfg = f32.config;
  const contenders = [tesseraContender('f32', f32, 0)];
  for (const bits of [8, 4]) {
    for (const a8 of [false, true]) {
      const q = await quantize(new GPT2(CONFIG, { seed: 0 }).eval(), { bits, activations: a8 ? 'int8' : 'f32' });
      contenders.push(tesseraContender(`int${bits}${a8 ? ' a8' : ''}`, q, quantizedBytes(q).quantized / 2 ** 20, a8));
    }
  }
  const files = [['f32', 'f32.onnx'], ['dynamic int8', 'int8.onnx']].filter(([, file]) => existsSync(join(dir, file)));
  for (const lib of ['ort-node', 'ort-web']) {
    for (const [weights, file] of files) {
      const bytes = readFileSync(join(dir, file));
      const c = await ortContender(lib, threads, bytes, cfg, { name: `${lib} ${weights}` });
      contenders.push({ ...c, runtime: lib, weights, mib: bytes.length / 2 ** 20 });
    }
  }
  log(`[${threads} thread(s)] contenders: ${contenders.map((c) => c.name).join(', ')}`);

  // Correctness first.
  const checks = [];
  for (const T of PROMPTS) {
    const ids = promptOf(T);
    const want = await contenders[0].forward(ids);
    for (const c of contenders.slice(1)) {
      const got = await c.forward(ids);
      if (got.length !== want.length) throw new Error(`${c.name}: ${got.length} logits for ${T} tokens, want ${want.length}`);
      const m = compareLogits(got, want, cfg.vocab_size);
      const line = `${c.name}, ${T} tokens: max |diff| ${m.worst.toExponential(2)} (${((100 * m.worst) / m.range).toFixed(2)}% of the f32 logits' range ${m.range.toFixed(3)}), top-1 agreement ${(100 * m.top1).toFixed(1)}%`;
      if (!m.finite) throw new Error(`${c.name}: non-finite logits for the ${T}-token prompt`);
      if (c.runtime !== 'tessera' && c.weights === 'f32' && !(m.worst <= F32_TOL)) throw new Error(`${line}: over the f32 tolerance ${F32_TOL}`);
      if (c.weights === 'dynamic int8' && !(m.worst <= INT8_RANGE_TOL * m.range && m.top1 >= INT8_TOP1)) {
        throw new Error(`${line}: over the dynamic int8 tolerance (max |diff| <= ${100 * INT8_RANGE_TOL}% of the range, top-1 agreement >= ${100 * INT8_TOP1}%)`);
      }
      checks.push(line);
      log(`  check ${line}`);
    }
  }

  // Timing: interleaved rounds, rotating order.
  const rates = new Map(contenders.map((c) => [c, []]));
  const ms = new Map(contenders.map((c) => [c, Object.fromEntries(PROMPTS.map((p) => [p, []]))]));
  const decodePrompt = promptOf(DECODE_PROMPT);
  for (const c of contenders) await c.decode(decodePrompt, 2); // warm-up: first runs prepack / allocate
  for (let r = 0; r < ROUNDS; r++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + r) % contenders.length];
      const { times } = await c.decode(decodePrompt, DECODE);
      rates.get(c).push((times.length - 1) / ((times[times.length - 1] - times[0]) / 1e3));
      for (const p of PROMPTS) {
        const t0 = performance.now();
        await c.forward(promptOf(p));
        ms.get(c)[p].push(performance.now() - t0);
      }
    }
    log(`  round ${r + 1}/${ROUNDS}: decode ${contenders.map((c) => `${c.name} ${rates.get(c)[r].toFixed(2)}`).join(', ')} tokens/s`);
  }
  process.stdout.write(
    `${JSON.stringify({
      threads,
      checks,
      contenders: contenders.map((c) => ({
        name: c.name,
        runtime: c.runtime,
        weights: c.weights,
        build: c.build,
        mib: c.mib,
        decode: stats(rates.get(c)),
        forward: Object.fromEntries(PROMPTS.map((p) => [p, stats(ms.get(c)[p])])),
      })),
    })}\n`,
  );
  for (const c of contenders) await c.release();
}
