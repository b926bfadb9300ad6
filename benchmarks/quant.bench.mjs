// Weight-only quantized inference on the wasm backend: the `qmatmul` kernel (int8 and int4,
// per-group f32 scales) against the f32 matmul the same model would run, and GPT-2 124M
// (random weights) decoding with the KV cache and prompt forwards, f32 against
// quantize(model, { bits: 8 }) and { bits: 4 }, each also with { activations: 'int8' } ("a8").
//
//   node benchmarks/quant.bench.mjs                    both sections, 1 and 2 threads
//   node benchmarks/quant.bench.mjs --section kernels  GPT-2 124M product shapes only
//   node benchmarks/quant.bench.mjs --section model    decode tokens/s and prompt forwards only
//   options: --threads 1,2  --rounds 5  --rows 1,64  --weights c_fc,lm_head (label substrings)
//            --quick (rows 1 and 64, 3 rounds, 8 decoded tokens)
//
// Kernels: x[m, k] @ W^T for GPT-2 124M's weights (768x2304 qkv, 768x768 attention out,
// 768x3072 MLP up, 3072x768 MLP down, 768x50257 LM head) at decode (m = 1) and prompt
// (m = 17, 64, 65, 256) shapes, on the SIMD128 build and the relaxed-SIMD build (where the
// runtime validates it), 1 and 2 threads, with f32 activations (the default) and with int8
// activations ("a8": QMatmulParams.activations = 'int8'). The f32 contender is what the f32 model runs:
// matmul with the weight prepacked (model.prepackWeights()). Before any number, every
// quantized contender's output is checked against an f32 matmul of its dequantized weights
// on the same backend (within 1e-5 of the sum of |terms|, the kernel tests' tolerance).
//
// Timing: rounds interleave the contenders (the order rotates each round) so a busy machine
// slows all of them alike; each contender's time per call in a round is the mean of enough
// back-to-back calls to take ~40 ms. Reported: the median over rounds, min..max, and the
// ratio of the medians (f32 / quantized: above 1 means the quantized product is faster).
//
// Model: one f32 GPT-2 124M (weights prepacked) and four quantized copies of the same
// weights (int8 and int4, group 32; each with f32 activations and with activations 'int8',
// which the wasm backend takes for products of at most 2 rows: the decode steps, while
// prompts keep f32 activations), greedy decoding of 16 tokens after an 8-token prompt
// (tokens/s after the first token, which includes the prefill) and the forward of 64- and
// 256-token prompts, interleaved the same way. The quantized decodes are checked to produce
// finite logits before timing (random weights give near-uniform logits, so greedy tokens
// may differ between f32 and quantized; the kernels' accuracy is the kernel check above).
import os from 'node:os';
import { reexecForRelaxedSimd } from './relaxed-simd.mjs';

reexecForRelaxedSimd();

const { createWasmBackend, dequantizeMatrix, quantizeActivations, quantizeMatrix, relaxedSimdSupported } = await import('@tessera/core');

const argv = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const quick = argv.includes('--quick');
const section = arg('--section', 'all');
const THREADS = arg('--threads', '1,2').split(',').map(Number);
const ROUNDS = Number(arg('--rounds', quick ? '3' : '5'));
const ROUND_MS = 40;
if (!['all', 'kernels', 'model'].includes(section)) throw new Error(`--section must be all, kernels or model, got ${section}`);
if (!THREADS.every((t) => Number.isInteger(t) && t >= 1)) throw new Error(`--threads must list positive integers, got ${arg('--threads')}`);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds must be a positive integer, got ${arg('--rounds')}`);

const log = (...a) => console.error(...a);
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const stats = (a) => ({ median: median(a), min: Math.min(...a), max: Math.max(...a), all: a });
const fmtMs = (s) => `${s.median.toFixed(3)} (${s.min.toFixed(3)}..${s.max.toFixed(3)})`;

function lcg(seed) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}

/**
 * Interleaved rounds over `tasks` ({ name, run }): per round each task runs `iters[name]`
 * times back to back (calibrated to ~ROUND_MS), in an order rotated every round. Returns
 * name -> stats of ms per call.
 */
function interleave(tasks, rounds) {
  const iters = {};
  for (const t of tasks) {
    t.run();
    const t0 = performance.now();
    t.run();
    iters[t.name] = Math.max(1, Math.min(200, Math.round(ROUND_MS / Math.max(performance.now() - t0, 1e-3))));
  }
  const per = Object.fromEntries(tasks.map((t) => [t.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < tasks.length; i++) {
      const t = tasks[(i + r) % tasks.length];
      const n = iters[t.name];
      const t0 = performance.now();
      for (let it = 0; it < n; it++) t.run();
      per[t.name].push((performance.now() - t0) / n);
    }
  }
  return Object.fromEntries(Object.entries(per).map(([k, v]) => [k, stats(v)]));
}

const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} logical cores, Node ${process.version}`;
const builds = ['simd128', ...(relaxedSimdSupported() ? ['relaxed'] : [])];
log(`${machine}; builds: ${builds.join(', ')}; threads: ${THREADS.join(', ')}; rounds: ${ROUNDS}${quick ? ' (--quick)' : ''}`);

// ---------------------------------------------------------------------------------------------
// Kernels

/** GPT-2 124M products: [k, n] (input, output) of the weight; the LM head multiplies by wte^T. */
const WEIGHTS = [
  { label: 'attn.c_attn 768x2304', k: 768, n: 2304 },
  { label: 'attn.c_proj 768x768', k: 768, n: 768 },
  { label: 'mlp.c_fc 768x3072', k: 768, n: 3072 },
  { label: 'mlp.c_proj 3072x768', k: 3072, n: 768 },
  { label: 'lm_head 768x50257', k: 768, n: 50257, head: true },
];
const ROWS = arg('--rows') ? arg('--rows').split(',').map(Number) : quick ? [1, 64] : [1, 17, 64, 65, 256];
const WEIGHT_FILTER = arg('--weights')?.split(',');
/** The LM head at decode and at a 64-token prompt only (256 rows would take seconds a call). */
const headRows = (m) => m === 1 || m === 64;
/** Quantized contenders per shape; the group sweep runs on one shape. */
const FORMATS = [
  { bits: 8, groupSize: 32 },
  { bits: 4, groupSize: 32 },
];
/** Contenders per format: f32 activations (the default) and int8 activations ("a8"). */
const ACTIVATIONS = ['f32', 'int8'];
const contenderName = (qt, activations) => `${qt.name}${activations === 'int8' ? ' a8' : ''}`;
const SWEEP = { label: 'mlp.c_fc 768x3072', groups: [32, 64, 128], rows: [1, 64] };

async function kernelSection() {
  const rows = [];
  for (const simd of builds) {
    for (const threads of THREADS) {
      const be = await createWasmBackend({ simd, threads });
      if (be.features.numThreads !== threads) throw new Error(`asked for ${threads} threads, the backend has ${be.features.numThreads}`);
      log(`\n[${simd}, ${threads} thread(s)] relaxedSimd=${be.features.relaxedSimd} threads=${be.features.numThreads}`);
      const put = (a) => {
        const s = be.alloc(Math.max(a.length, 1) * 4);
        be.write(s, a);
        return { storage: s, offset: 0 };
      };
      const free = (...ds) => ds.forEach((d) => be.free(d.storage));
      for (const w of WEIGHTS) {
        if (WEIGHT_FILTER && !WEIGHT_FILTER.some((f) => w.label.includes(f))) continue;
        const { k, n } = w;
        const rand = lcg(k * 31 + n);
        // The layer's f32 weight: Conv1D's [k, n] (x @ W), or the head's [n, k] (x @ W^T).
        const W = Float32Array.from({ length: n * k }, rand);
        const Wd = put(W);
        const transB = !!w.head;
        const Wp = put(new Float32Array(be.prepackedMatmulBElements(k, n)));
        be.prepackMatmulB({ b: Wd, out: Wp, k, n, transB });
        const sweep = w.label === SWEEP.label;
        const formats = [...FORMATS, ...(sweep ? SWEEP.groups.filter((g) => g !== 32).map((groupSize) => ({ bits: 4, groupSize })) : [])];
        const quants = formats.map((f) => {
          const qm = quantizeMatrix(W, n, k, { ...f, layout: w.head ? 'nk' : 'kn' });
          return { ...f, name: `int${f.bits} g${f.groupSize}`, qm, q: put(qm.q), s: put(qm.scales) };
        });
        for (const m of ROWS) {
          if (w.head && !headRows(m)) continue;
          const x = Float32Array.from({ length: m * k }, lcg(m * 7 + k));
          const X = put(x);
          const O = put(new Float32Array(m * n));
          const use = quants.filter((qt) => qt.groupSize === 32 || (sweep && SWEEP.rows.includes(m)));
          // Correctness first: each quantized product against an f32 matmul of its dequantized
          // weights (int8 activations: of its dequantized weights by its dequantized
          // activations xq * sx, since the activations' rounding is the point of that mode).
          for (const qt of use) {
            const wd = dequantizeMatrix(qt.qm);
            const WD = put(wd);
            const WA = put(wd.map(Math.abs));
            for (const activations of ACTIVATIONS) {
              let xin = x;
              if (activations === 'int8') {
                const xa = quantizeActivations(x, m, k, qt.groupSize);
                xin = Float32Array.from(xa.xq, (v, l) => v * xa.scales[Math.floor(l / qt.groupSize)]);
              }
              const XI = put(xin);
              const XA = put(xin.map(Math.abs));
              const R = put(new Float32Array(m * n));
              const MAG = put(new Float32Array(m * n));
              be.matmul({ a: XI, b: WD, out: R, m, n, k, transB: true });
              be.matmul({ a: XA, b: WA, out: MAG, m, n, k, transB: true });
              be.qmatmul({ x: X, q: qt.q, scales: qt.s, out: O, m, n, k, bits: qt.bits, groupSize: qt.groupSize, activations });
              const [got, want, mag] = [be.readSync(O.storage, 'f32'), be.readSync(R.storage, 'f32'), be.readSync(MAG.storage, 'f32')];
              for (let i = 0; i < got.length; i++) {
                if (!(Math.abs(got[i] - want[i]) <= 1e-5 * mag[i] + 1e-7)) {
                  throw new Error(`${simd} ${threads}t ${w.label} m=${m} ${contenderName(qt, activations)}: out[${i}] = ${got[i]}, f32 matmul ${want[i]} (|terms| ${mag[i]})`);
                }
              }
              free(XI, XA, R, MAG);
            }
            free(WD, WA);
          }
          const tasks = [
            { name: 'f32', run: () => be.matmul({ a: X, b: Wd, bPacked: Wp, out: O, m, n, k, transB }) },
            ...use.flatMap((qt) =>
              ACTIVATIONS.filter((a) => a === 'f32' || qt.groupSize === 32).map((activations) => ({
                name: contenderName(qt, activations),
                run: () => be.qmatmul({ x: X, q: qt.q, scales: qt.s, out: O, m, n, k, bits: qt.bits, groupSize: qt.groupSize, activations }),
              })),
            ),
          ];
          const res = interleave(tasks, ROUNDS);
          const row = { build: simd, threads, weight: w.label, m, n, k, res };
          rows.push(row);
          log(`${w.label} m=${m}: ${tasks.map((t) => `${t.name} ${res[t.name].median.toFixed(3)} ms${t.name === 'f32' ? '' : ` (${(res.f32.median / res[t.name].median).toFixed(2)}x)`}`).join(', ')}`);
          free(X, O);
        }
        free(Wd, Wp, ...quants.flatMap((qt) => [qt.q, qt.s]));
      }
      be.dispose();
    }
  }
  const names = ['int8 g32', 'int8 g32 a8', 'int4 g32', 'int4 g32 a8', 'int4 g64', 'int4 g128'];
  console.log(`\n### qmatmul vs f32 matmul (prepacked), ms per call: median (min..max) of ${ROUNDS} interleaved rounds; ratio = f32 median / quantized median\n`);
  console.log('| build | threads | weight | m | f32 ms | ' + names.map((nm) => `${nm} ms | ${nm} ratio`).join(' | ') + ' |');
  console.log(`|${'---|'.repeat(5 + names.length * 2)}`);
  for (const r of rows) {
    const cells = names.map((nm) => (r.res[nm] ? `${fmtMs(r.res[nm])} | ${(r.res.f32.median / r.res[nm].median).toFixed(2)}x` : ' | '));
    console.log(`| ${r.build} | ${r.threads} | ${r.weight} | ${r.m} | ${fmtMs(r.res.f32)} | ${cells.join(' | ')} |`);
  }
}

// ---------------------------------------------------------------------------------------------
// Model

async function modelSection() {
  const { GPT2, quantize, quantizedBytes, quantizedWeights } = await import('@tessera/models');
  const { noGrad, setBackend, tensor } = await import('@tessera/tensor');
  const NEW = quick ? 8 : 16;
  const PROMPTS = [64, 256];
  const be = await setBackend('wasm');
  log(`\n[model] ${be.name}: relaxedSimd=${be.features.relaxedSimd}`);
  let t0 = performance.now();
  const models = { f32: new GPT2({}, { seed: 0 }).eval().prepackWeights() };
  models.int8 = await quantize(new GPT2({}, { seed: 0 }).eval(), { bits: 8 });
  models.int4 = await quantize(new GPT2({}, { seed: 0 }).eval(), { bits: 4 });
  models['int8 a8'] = await quantize(new GPT2({}, { seed: 0 }).eval(), { bits: 8, activations: 'int8' });
  models['int4 a8'] = await quantize(new GPT2({}, { seed: 0 }).eval(), { bits: 4, activations: 'int8' });
  log(`models built and quantized in ${((performance.now() - t0) / 1e3).toFixed(1)} s`);
  const bytes = { int8: quantizedBytes(models.int8), int4: quantizedBytes(models.int4) };
  const prompt = (len) => Array.from({ length: len }, (_, i) => (i * 7919 + 13) % 50000);

  const forward = (model, len) =>
    noGrad(() => {
      const ids = tensor([prompt(len)], undefined, 'i32');
      const logits = model.forward(ids);
      const v = logits.dataSync();
      logits.dispose();
      ids.dispose();
      return v;
    });
  // Finite logits from every model before any timing.
  for (const [name, model] of Object.entries(models)) {
    const v = forward(model, 8);
    if (!v.every(Number.isFinite)) throw new Error(`${name}: non-finite logits`);
  }
  const decodeRate = async (model) => {
    const times = [];
    await model.generate(prompt(8), { maxNewTokens: NEW, greedy: true, stopTokens: [], onToken: () => void times.push(performance.now()) });
    return (times.length - 1) / ((times[times.length - 1] - times[0]) / 1e3);
  };
  const out = [];
  for (const threads of THREADS) {
    await be.setNumThreads(threads);
    if (be.features.numThreads !== threads) throw new Error(`asked for ${threads} threads, the backend has ${be.features.numThreads}`);
    const names = Object.keys(models);
    const dec = Object.fromEntries(names.map((nm) => [nm, []]));
    const fwd = Object.fromEntries(PROMPTS.flatMap((p) => names.map((nm) => [`${nm}@${p}`, []])));
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < names.length; i++) {
        const nm = names[(i + r) % names.length];
        dec[nm].push(await decodeRate(models[nm]));
        for (const p of PROMPTS) {
          t0 = performance.now();
          forward(models[nm], p);
          fwd[`${nm}@${p}`].push(performance.now() - t0);
        }
      }
      log(`[model, ${threads} thread(s)] round ${r + 1}/${ROUNDS}: decode ${names.map((nm) => `${nm} ${dec[nm][r].toFixed(2)}`).join(', ')} tokens/s`);
    }
    out.push({ threads, decode: Object.fromEntries(names.map((nm) => [nm, stats(dec[nm])])), forward: Object.fromEntries(Object.entries(fwd).map(([k, v]) => [k, stats(v)])) });
  }
  const f2 = (s) => `${s.median.toFixed(2)} (${s.min.toFixed(2)}..${s.max.toFixed(2)})`;
  const f0 = (s) => `${s.median.toFixed(0)} (${s.min.toFixed(0)}..${s.max.toFixed(0)})`;
  console.log(`\n### GPT-2 124M (random weights), ${be.features.relaxedSimd ? 'relaxed-SIMD' : 'SIMD128'} build, median (min..max) of ${ROUNDS} interleaved rounds\n`);
  const group = (m) => quantizedWeights(m).values().next().value.weight.groupSize;
  console.log(`quantized weights (each bits' default group): int8 g${group(models.int8)} ${(bytes.int8.quantized / 1e6).toFixed(1)} MB, int4 g${group(models.int4)} ${(bytes.int4.quantized / 1e6).toFixed(1)} MB (the same weights in f32: ${(bytes.int8.f32 / 1e6).toFixed(1)} MB)\n`);
  const QUANT = ['int8', 'int8 a8', 'int4', 'int4 a8'];
  console.log(`| threads | metric | f32 | ${QUANT.map((nm) => `${nm} | ${nm} / f32`).join(' | ')} |`);
  console.log(`|${'---|'.repeat(3 + QUANT.length * 2)}`);
  for (const r of out) {
    const d = r.decode;
    console.log(`| ${r.threads} | decode tokens/s (KV cache, ${NEW} tokens) | ${f2(d.f32)} | ${QUANT.map((nm) => `${f2(d[nm])} | ${(d[nm].median / d.f32.median).toFixed(2)}x`).join(' | ')} |`);
    for (const p of PROMPTS) {
      const f = r.forward[`f32@${p}`];
      console.log(`| ${r.threads} | forward, ${p}-token prompt (ms; ratio f32 / quantized) | ${f0(f)} | ${QUANT.map((nm) => `${f0(r.forward[`${nm}@${p}`])} | ${(f.median / r.forward[`${nm}@${p}`].median).toFixed(2)}x`).join(' | ')} |`);
    }
  }
  console.log('\nTargets (issue 14): decode int8 >= 1.8x f32, int4 >= 2.5x f32; prompt forward (64, 256 tokens) int8 no slower than f32 (a8: the same models with activations \'int8\').');
  for (const r of out) {
    const d = r.decode;
    const ok = (c) => (c ? 'met' : 'NOT met');
    for (const a of ['', ' a8']) {
      const p = PROMPTS.map((len) => `${len}-token prompt ${ok(r.forward[`f32@${len}`].median / r.forward[`int8${a}@${len}`].median >= 1)}`).join(', ');
      console.log(`${r.threads} thread(s)${a}: decode int8 ${ok(d[`int8${a}`].median / d.f32.median >= 1.8)}, int4 ${ok(d[`int4${a}`].median / d.f32.median >= 2.5)}; ${p}.`);
    }
  }
}

console.log(`Quantized matmul benchmark: ${machine}; wasm builds ${builds.join(', ')}${quick ? ' (--quick)' : ''}`);
if (section !== 'model') await kernelSection();
if (section !== 'kernels') await modelSection();
