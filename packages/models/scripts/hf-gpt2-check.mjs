#!/usr/bin/env node
/**
 * Cross-checks Tessera's GPT-2 model directories against an independent
 * PyTorch reader that follows Hugging Face's GPT-2 conventions
 * (scripts/hf_gpt2_check.py: its own safetensors parser and
 * GPT2LMHeadModel forward, no `transformers`).
 *
 *  1. save: a tiny GPT-2 with random weights runs a fixed prompt; savePretrained
 *     writes its directory; the Python reader checks keys, shapes, dtype and
 *     metadata and recomputes the logits (float64).
 *  2. load: the Python script writes random HF-layout directories (what
 *     save_pretrained writes, and the older hub layout); GPT2.fromPretrained
 *     loads each and its logits are compared with the Python reference.
 *
 * Needs the built package (`npx turbo run build`) and python3 with torch
 * (`TESSERA_PYTHON` names another interpreter). Exits non-zero on any
 * difference above 1e-4 (`--tol`); `--keep` leaves the directories in place.
 *
 *   node packages/models/scripts/hf-gpt2-check.mjs [--tol 1e-4] [--keep]
 */

import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GPT2 } from '@tessera/models';
import { noGrad, ready, tensor } from '@tessera/tensor';

const here = dirname(fileURLToPath(import.meta.url));
const PY_SCRIPT = join(here, 'hf_gpt2_check.py');
const PYTHON = process.env.TESSERA_PYTHON || 'python3';

const argv = process.argv.slice(2);
const keep = argv.includes('--keep');
const tolAt = argv.indexOf('--tol');
const TOL = tolAt >= 0 ? Number(argv[tolAt + 1]) : 1e-4;
if (!(TOL > 0)) throw new Error(`--tol must be a positive number, got ${argv[tolAt + 1]}`);

const CONFIG = { n_layer: 2, n_head: 2, n_embd: 32, vocab_size: 97, n_positions: 16, embd_pdrop: 0, resid_pdrop: 0, attn_pdrop: 0 };
const SEED = 20240905;
// Printable ASCII (32..126) as ids 0..94: two rows of 16 tokens, so every position of wpe is used.
const PROMPT = ['The quick brown ', 'fox jumps over t'];

/** mulberry32: seeded uniforms in [0, 1). */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Replaces GPT-2's initialisation (N(0, 0.02) weights, zero biases, unit
 * LayerNorms: logits near 0, biases and LayerNorm parameters invisible) with
 * seeded uniforms large enough that every parameter shows in the logits.
 */
function randomizeWeights(model, seed) {
  const r = rng(seed);
  const u = (scale, mean = 0) => mean + scale * (2 * r() - 1);
  const dict = new Map();
  for (const [name, p] of model.namedParameters()) {
    const n = p.size;
    const data = new Float32Array(n);
    let f;
    if (/ln_\w+\.weight$/.test(name)) f = () => u(0.3, 1);
    else if (name.endsWith('.bias')) f = () => u(0.3);
    else if (name.endsWith('wte.weight')) f = () => u(1.7);
    else if (name.endsWith('wpe.weight')) f = () => u(0.8);
    else f = () => u(Math.sqrt(3 / p.shape[0])); // Conv1D [in, out]: unit-variance outputs
    for (let i = 0; i < n; i++) data[i] = f();
    dict.set(name, { shape: p.shape, data });
  }
  model.loadStateDict(dict);
}

function logitsOf(model, ids) {
  return noGrad(() => {
    const x = tensor(ids, undefined, 'i32');
    const y = model.forward(x);
    const out = { shape: [...y.shape], data: y.dataSync() };
    x.dispose();
    y.dispose();
    return out;
  });
}

function indent(text) {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

/** Tessera runs a fixed prompt and saves; returns the Python check job. */
async function prepareSave(root) {
  const model = new GPT2(CONFIG, { seed: SEED });
  randomizeWeights(model, SEED);
  model.eval();
  const ids = PROMPT.map((s) => [...s].map((c) => c.charCodeAt(0) - 32));
  const { shape, data } = logitsOf(model, ids);
  const dir = join(root, 'tessera-saved');
  await model.savePretrained(dir);
  model.dispose();
  const file = join(root, 'tessera-logits.json');
  await writeFile(file, JSON.stringify({ ids, shape, logits: Array.from(data) }));
  return { title: `save: Tessera savePretrained -> PyTorch HF-convention reader (${dir})`, job: ['check', dir, '--logits', file, '--tol', String(TOL)] };
}

/** The Python job that writes an HF-layout directory and its reference logits. */
function writeJob(root, layout, seed) {
  const dir = join(root, `torch-written-${layout}`);
  const refFile = join(root, `torch-logits-${layout}.json`);
  const extra = layout === 'legacy' ? ['--n-inner', '80', '--seq', '16'] : [];
  return { dir, refFile, title: `load: PyTorch HF-layout writer (${layout}) -> Tessera GPT2.fromPretrained (${dir})`, job: ['write', dir, '--out', refFile, '--seed', String(seed), '--layout', layout, ...extra] };
}

/** Tessera loads what the Python script wrote and compares logits with its reference. */
async function checkLoad({ dir, refFile }) {
  const ref = JSON.parse(await readFile(refFile, 'utf8'));
  let model;
  try {
    model = await GPT2.fromPretrained(dir);
  } catch (e) {
    console.log(`    FAIL: GPT2.fromPretrained rejected the directory: ${e.message}`);
    return { ok: false, maxDiff: NaN };
  }
  model.eval(); // the config has HF's dropout 0.1
  const { shape, data } = logitsOf(model, ref.ids);
  model.dispose();
  if (JSON.stringify(shape) !== JSON.stringify(ref.shape)) {
    console.log(`    FAIL: Tessera's logits have shape [${shape}], the reference [${ref.shape}]`);
    return { ok: false, maxDiff: NaN };
  }
  let maxDiff = 0;
  let at = 0;
  let maxRef = 0;
  for (let i = 0; i < data.length; i++) {
    const d = Math.abs(data[i] - ref.logits[i]);
    if (!(d <= maxDiff)) [maxDiff, at] = [d, i]; // NaN counts as the worst
    maxRef = Math.max(maxRef, Math.abs(ref.logits[i]));
  }
  const [, T, V] = shape;
  const where = `[${Math.floor(at / (T * V))}, ${Math.floor(at / V) % T}, ${at % V}]`;
  const ok = maxDiff <= TOL;
  console.log(`    Tessera logits [${shape}]: max |reference| ${maxRef.toPrecision(4)}, max abs difference ${maxDiff.toExponential(3)} at ${where} (tolerance ${TOL})`);
  console.log(`    ${ok ? 'OK' : 'FAIL'}: GPT2.fromPretrained ${ok ? 'computes' : 'does not compute'} the model the HF-layout files describe`);
  return { ok, maxDiff };
}

await ready();
const root = await mkdtemp(join(tmpdir(), 'tessera-hf-check-'));
let results;
try {
  const save = await prepareSave(root);
  const loads = { loadHf: writeJob(root, 'hf', 11), loadLegacy: writeJob(root, 'legacy', 12) };
  const jobs = [save, ...Object.values(loads)];
  // One Python process for all three jobs: importing torch costs more than the checks.
  const res = spawnSync(PYTHON, [PY_SCRIPT, 'batch', ...jobs.flatMap((j) => ['--', ...j.job])], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: '1' },
  });
  if (res.error) throw new Error(`could not run ${PYTHON}: ${res.error.message}`);
  const parts = `${res.stdout}`.split(/^JOB \d+ EXIT (\d+)\n/m); // [out0, code0, out1, code1, ...]
  const outcome = jobs.map((_, i) => {
    const code = parts[2 * i + 1] === undefined ? NaN : Number(parts[2 * i + 1]);
    const out = (parts[2 * i] ?? '').trimEnd();
    return { code, out: Number.isNaN(code) ? `${out ? `${out}\n` : ''}FAIL: the Python run ended before finishing this job (exit status ${res.status})` : out };
  });
  if (res.status !== 0 && res.stderr) console.log(`${PYTHON} ${PY_SCRIPT} stderr:\n${indent(res.stderr.trimEnd())}`);

  results = {};
  console.log(save.title);
  console.log(indent(outcome[0].out));
  const m = /max abs difference (\S+)/.exec(outcome[0].out);
  results.save = { ok: outcome[0].code === 0, maxDiff: m ? Number(m[1]) : NaN };
  for (const [i, [key, load]] of Object.entries(loads).entries()) {
    console.log(load.title);
    console.log(indent(outcome[i + 1].out));
    results[key] = outcome[i + 1].code === 0 ? await checkLoad(load) : { ok: false, maxDiff: NaN };
  }
} finally {
  if (!keep) await rm(root, { recursive: true, force: true });
}
const ok = Object.values(results).every((r) => r.ok);
console.log(`RESULT ${JSON.stringify({ ok, tol: TOL, maxDiff: Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.maxDiff])) })}`);
process.exitCode = ok ? 0 : 1;
