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
 *  3. transformers itself, when that Python imports it (else the line
 *     `transformers: not importable (skipped)`), for GPT2LMHeadModel and
 *     GPT2ForSequenceClassification (3 labels, a pad token; pooled at the last
 *     non-pad token):
 *     - transformersLoad / transformersClsLoad: from_pretrained(..,
 *       output_loading_info=True) of Tessera's saved directory, with no
 *       missing, unexpected or mismatched key, computes Tessera's logits;
 *     - transformersSave / transformersClsSave: a random transformers model's
 *       save_pretrained directory, loaded by GPT2.fromPretrained /
 *       GPT2ForSequenceClassification.fromPretrained, computes its logits.
 *
 * Needs the built package (`npx turbo run build`) and python3 with torch
 * (`TESSERA_PYTHON` names another interpreter). Exits non-zero on any
 * difference above 1e-4 (`--tol`); `--keep` leaves the directories in place.
 * The last line is `RESULT {"ok", "failed" (keys), "tol", "maxDiff": {save, loadHf, loadLegacy,
 * transformers...}, "transformers": {version, loadingInfo} or "not importable (skipped)"}`.
 *
 *   node packages/models/scripts/hf-gpt2-check.mjs [--tol 1e-4] [--keep]
 */

import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GPT2, GPT2ForSequenceClassification, loadGPT2Tokenizer, saveTokenizer, seededRandom } from '@tessera/models';
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
const toIds = (s) => [...s].map((c) => c.charCodeAt(0) - 32);
// The classifier: 3 labels, id 96 (unused by the prompt) as pad_token_id; a third row padded at the end.
const NUM_LABELS = 3;
const PAD = 96;
const CLS_IDS = [...PROMPT.map(toIds), [...toIds('lazy dog.'), ...Array(7).fill(PAD)]];
const SKIPPED = 3; // exit code of the Python transformers steps when `import transformers` fails

/**
 * Replaces GPT-2's initialisation (N(0, 0.02) weights, zero biases, unit
 * LayerNorms: logits near 0, biases and LayerNorm parameters invisible) with
 * seeded uniforms large enough that every parameter shows in the logits.
 */
function randomizeWeights(model, seed) {
  const r = seededRandom(seed);
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
    else if (name === 'score.weight') f = () => u(Math.sqrt(3 / p.shape[1])); // Linear [out, in]
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

/** Tessera runs ids through a model with seeded random weights, saves it and its logits; returns the paths. */
async function saveTessera(root, name, model, ids) {
  randomizeWeights(model, SEED);
  model.eval();
  const { shape, data } = logitsOf(model, ids);
  const dir = join(root, name);
  await model.savePretrained(dir);
  model.dispose();
  const file = join(root, `${name}-logits.json`);
  await writeFile(file, JSON.stringify({ ids, shape, logits: Array.from(data) }));
  return { dir, file };
}

/** The Python job that writes an HF-layout directory and its reference logits. */
function writeJob(root, layout, seed) {
  const dir = join(root, `torch-written-${layout}`);
  const refFile = join(root, `torch-logits-${layout}.json`);
  const extra = layout === 'legacy' ? ['--n-inner', '80', '--seq', '16'] : [];
  return { dir, refFile, Model: GPT2, title: `load: PyTorch HF-layout writer (${layout}) -> Tessera GPT2.fromPretrained (${dir})`, job: ['write', dir, '--out', refFile, '--seed', String(seed), '--layout', layout, ...extra] };
}

/** The Python job where transformers' own save_pretrained writes a random model and its logits. */
function transformersSaveJob(root, head, seed) {
  const dir = join(root, `transformers-saved-${head}`);
  const refFile = join(root, `transformers-logits-${head}.json`);
  const Model = head === 'lm' ? GPT2 : GPT2ForSequenceClassification;
  const size = ['--n-layer', '2', '--n-head', '2', '--n-embd', '32', '--n-positions', '16', '--vocab-size', '97', '--seq', '16', '--batch', head === 'lm' ? '2' : '3'];
  return {
    dir,
    refFile,
    Model,
    title: `load: transformers ${head === 'lm' ? 'GPT2LMHeadModel' : 'GPT2ForSequenceClassification'}.save_pretrained -> Tessera ${Model.name}.fromPretrained (${dir})`,
    job: ['transformers-save', dir, '--out', refFile, '--head', head, '--seed', String(seed), '--num-labels', String(NUM_LABELS), ...size],
  };
}

/** Tessera loads what the Python script wrote and compares logits ([B, T, V] or [B, numLabels]) with its reference. */
async function checkLoad({ dir, refFile, Model }) {
  const ref = JSON.parse(await readFile(refFile, 'utf8'));
  let model;
  try {
    model = await Model.fromPretrained(dir);
  } catch (e) {
    console.log(`    FAIL: ${Model.name}.fromPretrained rejected the directory: ${e.message}`);
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
  const where = shape.map((_, k) => Math.floor(at / shape.slice(k + 1).reduce((a, b) => a * b, 1)) % shape[k]);
  const ok = maxDiff <= TOL;
  console.log(`    Tessera logits [${shape}]: max |reference| ${maxRef.toPrecision(4)}, max abs difference ${maxDiff.toExponential(3)} at [${where.join(', ')}] (tolerance ${TOL})`);
  console.log(`    ${ok ? 'OK' : 'FAIL'}: ${Model.name}.fromPretrained ${ok ? 'computes' : 'does not compute'} the model the HF-layout files describe`);
  return { ok, maxDiff };
}

await ready();
const root = await mkdtemp(join(tmpdir(), 'tessera-hf-check-'));
let results;
let transformers = 'not importable (skipped)';
try {
  const lm = await saveTessera(root, 'tessera-saved', new GPT2(CONFIG, { seed: SEED }), PROMPT.map(toIds));
  const cls = await saveTessera(root, 'tessera-saved-cls', new GPT2ForSequenceClassification({ ...CONFIG, pad_token_id: PAD }, { numLabels: NUM_LABELS, seed: SEED }), CLS_IDS);
  // GPT-2's byte-level BPE as Tessera saves it (vocab.json + merges.txt), and Tessera's ids for texts that
  // exercise the pre-tokenizer: contractions, digits, runs of spaces and newlines, accents, CJK, emoji.
  const tokDir = join(root, 'tessera-tokenizer');
  const tokenizer = await loadGPT2Tokenizer();
  await mkdir(tokDir, { recursive: true });
  await saveTokenizer(tokDir, tokenizer);
  const texts = [
    "Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse, I thought I'd sail about.",
    "  leading spaces, trailing spaces   \n\n\tTabs and\r\nCRLF; don't, can't, it's, we've, they'll, I'm, you'd",
    'Numbers 1234567 3.14159 -42 1e-5 and 2026-11-29',
    'naïve café résumé Ærøskøbing Straße',
    '日本語のテキスト、中文文本，한국어 텍스트',
    'emoji 👍🏽 🧑‍🚀 🇫🇷 and symbols ∑∫√ ≠ ≤',
  ];
  const tokIds = join(root, 'tessera-tokenizer-ids.json');
  await writeFile(tokIds, JSON.stringify({ texts, ids: texts.map((t) => tokenizer.encode(t)) }));
  // Python-side checks of what Tessera saved: [key, title, job]; the max difference is parsed from their output.
  const checks = [
    ['save', `save: Tessera savePretrained -> PyTorch HF-convention reader (${lm.dir})`, ['check', lm.dir, '--logits', lm.file, '--tol', String(TOL)]],
    ['transformersLoad', `save: Tessera GPT2.savePretrained -> transformers GPT2LMHeadModel.from_pretrained (${lm.dir})`, ['transformers-load', lm.dir, '--logits', lm.file, '--head', 'lm', '--tol', String(TOL)]],
    ['transformersClsLoad', `save: Tessera GPT2ForSequenceClassification.savePretrained -> transformers GPT2ForSequenceClassification.from_pretrained (${cls.dir})`, ['transformers-load', cls.dir, '--logits', cls.file, '--head', 'cls', '--tol', String(TOL)]],
    ['transformersTokenizer', `save: Tessera's GPT-2 tokenizer files -> transformers GPT2TokenizerFast.from_pretrained (${tokDir})`, ['transformers-tokenizer', tokDir, '--ids', tokIds]],
  ].map(([key, title, job]) => ({ key, title, job }));
  // Python writes, Tessera loads.
  const loads = [
    ['loadHf', writeJob(root, 'hf', 11)],
    ['loadLegacy', writeJob(root, 'legacy', 12)],
    ['transformersSave', transformersSaveJob(root, 'lm', 13)],
    ['transformersClsSave', transformersSaveJob(root, 'cls', 14)],
  ].map(([key, load]) => ({ key, ...load }));
  const jobs = [...checks, ...loads];
  // One Python process for all jobs: importing torch (and transformers) costs more than the checks.
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
  const loadingInfo = {};
  let skipReason = '';
  for (const [i, job] of jobs.entries()) {
    const { code, out } = outcome[i];
    if (code === SKIPPED) {
      skipReason ||= /^SKIP: (.*)$/m.exec(out)?.[1] ?? '';
      continue;
    }
    console.log(job.title);
    console.log(indent(out));
    if (i < checks.length) {
      const m = /max abs difference (\S+)/.exec(out);
      results[job.key] = { ok: code === 0, maxDiff: m ? Number(m[1]) : NaN };
      const info = /^loading info: (.*)$/m.exec(out);
      if (info) loadingInfo[job.key === 'transformersLoad' ? 'lm' : 'cls'] = JSON.parse(info[1]);
    } else results[job.key] = code === 0 ? await checkLoad(job) : { ok: false, maxDiff: NaN };
    const version = /^transformers (\S+) /m.exec(out);
    if (version && typeof transformers === 'string') transformers = { version: version[1], loadingInfo };
  }
  if (typeof transformers === 'string') console.log(`transformers: not importable (skipped)${skipReason ? `: ${skipReason.replace(/^transformers not importable: /, '')}` : ''}`);
} finally {
  if (!keep) await rm(root, { recursive: true, force: true });
}
const ok = Object.values(results).every((r) => r.ok);
const failed = Object.keys(results).filter((k) => !results[k].ok);
console.log(`RESULT ${JSON.stringify({ ok, failed, tol: TOL, maxDiff: Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r.maxDiff])), transformers })}`);
process.exitCode = ok ? 0 : 1;
