// The studio in a real browser: builds the app, serves the built folder on a free loopback port
// (under /isolated/ with the COOP/COEP headers, under /plain/ without), and drives headless
// Chromium over the DevTools protocol (scripts/chromium.mjs) through the page's own controls:
//   1. wasm worker pool (isolated page): train 30 steps of `tiny` on Moby Dick, the loss falls and
//      equals `tessera train`'s for the same seed (1e-5), the main thread never blocks 100 ms,
//      generate 20 greedy tokens, keep the model in IndexedDB, reload, get the same tokens; then
//      open the CLI's checkpoint directory in the page and get `tessera generate --greedy`'s text,
//      then the same checkpoint quantized by `tessera quantize --bits 4` (its generate text and
//      sample), kept in IndexedDB and reopened quantized after a reload;
//      pause a long run, sample from the paused weights, resume, stop;
//   2. the same page without the headers: one thread, and the page says why; same losses;
//   3. WebGPU on Chromium's software adapter (SwiftShader), chosen by 'auto'.
// Screenshots and a JSON summary go to ci-logs/ at the repository root.
//   node --experimental-websocket apps/studio/test/browser.mjs [--no-build]
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium, openPage } from '../../../scripts/chromium.mjs';
import { serveStudio } from './serve.mjs';

const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const app = join(root, 'apps', 'studio');
const dist = join(app, 'dist');
const logs = join(root, 'ci-logs');
const cli = join(root, 'packages', 'cli', 'bin', 'tessera.js');
const SEED = 7;
const STEPS = 30;
const EVAL_EVERY = 10;
const PROMPT = 'The whale ';
const GREEDY_TOKENS = 20;
/** The page and the CLI run the same code on the same wasm kernels: the bound. */
const WASM_TOLERANCE = 1e-5;
/** WebGPU sums in other orders (tiled kernels, SwiftShader's f32 math): 5e-7 seen over 30 steps. */
const WEBGPU_TOLERANCE = 1e-4;
/**
 * The longest main-thread task allowed while training (ms of the thread's CPU time, from a trace:
 * on a machine shared with other jobs a task's wall time also counts the time the thread waited
 * for a core, which says nothing about the page; that wall time is reported too, with the load).
 */
const LONG_TASK_LIMIT = 100;

const failures = [];
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures.push(what);
};

if (!process.argv.includes('--no-build')) execFileSync('npx', ['turbo', 'run', 'build', '--filter=@tessera/studio...', '--output-logs=errors-only'], { cwd: root, stdio: 'inherit' });
mkdirSync(logs, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'tessera-studio-test-'));

// The CLI's run: the reference losses and a checkpoint directory for the page to open.
const cliRun = join(work, 'cli-run');
execFileSync(process.execPath, [cli, 'train', '--preset', 'tiny', '--steps', String(STEPS), '--seed', String(SEED), '--eval-every', String(EVAL_EVERY), '--eval-iters', '10', '--sample', '0', '--out', cliRun], { stdio: ['ignore', 'ignore', 'inherit'] });
const cliState = JSON.parse(readFileSync(join(cliRun, 'trainer_state.json'), 'utf8'));
const cliGenerate = (model, ...flags) => execFileSync(process.execPath, [cli, 'generate', '--model', model, '--max-tokens', String(GREEDY_TOKENS), '--prompt', PROMPT, ...flags], { encoding: 'utf8' }).replace(/\n$/, '');
const cliText = cliGenerate(cliRun, '--greedy');
const cliSample = cliGenerate(cliRun, '--temperature', '1', '--top-k', '0', '--top-p', '1', '--seed', '3');
// The same checkpoint quantized to int4 by `tessera quantize`, and what `tessera generate` makes of it.
const cliInt4 = join(work, 'cli-run-int4');
execFileSync(process.execPath, [cli, 'quantize', '--model', cliRun, '--bits', '4', '--out', cliInt4], { stdio: ['ignore', 'ignore', 'inherit'] });
const int4Text = cliGenerate(cliInt4, '--greedy');
const int4Sample = cliGenerate(cliInt4, '--temperature', '1', '--top-k', '0', '--top-p', '1', '--seed', '3');

const server = await serveStudio(dist);
const base = server.base;

const maxDiff = (a, b) => (a.length !== b.length ? Infinity : Math.max(...a.map(([s, l], i) => (s === b[i][0] ? Math.abs(l - b[i][1]) : Infinity))));

/** Sets a control's value as a user would (input + change events). */
const setControls = (page, values) =>
  page.evaluate(`(() => {
    for (const [id, v] of Object.entries(${JSON.stringify(values)})) {
      const el = document.getElementById(id);
      el.value = String(v);
      el.dispatchEvent(new Event('input', { bubbles: true }));
      el.dispatchEvent(new Event('change', { bubbles: true }));
    }
  })()`);

const LONG_TASKS = `window.__longTasks = []; new PerformanceObserver((l) => { for (const e of l.getEntries()) window.__longTasks.push({ start: e.startTime, ms: e.duration }); }).observe({ type: 'longtask', buffered: true });`;

/** Generates GREEDY_TOKENS tokens through the page (greedy unless `sampling` sets a temperature). */
async function greedy(page, label, sampling = { temperature: 0 }) {
  await setControls(page, { prompt: PROMPT, 'max-tokens': GREEDY_TOKENS, 'top-k': 0, 'top-p': 1, 'gen-seed': 1, ...sampling });
  await page.evaluate(`window.studio.generated = null; window.studio.errors = []; document.getElementById('generate').click()`);
  const r = await page.waitFor(`window.studio.errors.length > 0 ? { error: window.studio.errors.join('; ') } : window.studio.generated && { ...window.studio.generated, shown: document.getElementById('output').textContent }`, { timeoutMs: 120_000, what: `${label}: 20 generated tokens` });
  if (r.error) throw new Error(`${label}: generation failed: ${r.error}`);
  return r;
}

/** Trains, checks, generates, keeps, reloads, generates again; returns what it measured. */
async function scenario(port, { name, url, expectBackend, tolerance }) {
  const page = await openPage(port, 'about:blank', { label: name });
  try {
    await page.send('Emulation.setDeviceMetricsOverride', { width: 1100, height: 900, deviceScaleFactor: 1, mobile: false });
    await page.send('Page.addScriptToEvaluateOnNewDocument', { source: LONG_TASKS });
    await page.send('Page.navigate', { url });
    const backend = await page.waitFor(`window.studio?.state === 'idle' && window.studio.backend`, { what: `${name}: the backend` });
    const why = await page.evaluate(`document.getElementById('backend-why').textContent`);
    console.log(`${name}: ${JSON.stringify(backend)}`);
    expectBackend(backend, why);

    await setControls(page, { preset: 'tiny', steps: STEPS, seed: SEED, 'eval-every': EVAL_EVERY });
    const t0 = await page.evaluate(`performance.now()`);
    const stopTrace = await page.traceMainThread();
    await page.evaluate(`document.getElementById('train').click()`);
    await page.waitFor(`window.studio.state === 'training'`, { what: `${name}: training to start` });
    await page.waitFor(`window.studio.state === 'idle' && window.studio.train.length === ${STEPS}`, { timeoutMs: 300_000, what: `${name}: ${STEPS} steps` });
    const run = await page.evaluate(`({ train: window.studio.train, val: window.studio.val, shown: Number(document.getElementById('stat-loss').dataset.loss), step: document.getElementById('stat-step').textContent, rate: window.studio.tokensPerSecond, first: window.studio.firstStepMs, errors: window.studio.errors })`);
    const t1 = await page.evaluate(`performance.now()`);
    const tasks = await stopTrace();
    const longest = Math.max(0, ...tasks.map((t) => t.cpuMs));
    const longestWall = await page.evaluate(`Math.max(0, ...window.__longTasks.filter((t) => t.start >= ${t0} && t.start <= ${t1}).map((t) => t.ms))`);
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    check(run.errors.length === 0, `${name}: no errors (${run.errors.join('; ')})`);
    check(run.step === `${STEPS} / ${STEPS}` && run.shown === run.train.at(-1)[1], `${name}: the page shows step ${run.step} and loss ${run.shown}`);
    const first = run.train[0][1];
    const last = run.train.at(-1)[1];
    check(last < first - 0.3, `${name}: the loss falls (${first.toFixed(4)} -> ${last.toFixed(4)})`);
    const trainDiff = maxDiff(run.train, cliState.history.train);
    const valDiff = maxDiff(run.val, cliState.history.val);
    check(trainDiff <= tolerance && valDiff <= tolerance, `${name}: losses equal tessera train's (seed ${SEED}): max |diff| ${trainDiff.toExponential(2)} training, ${valDiff.toExponential(2)} validation (bound ${tolerance})`);
    check(tasks.length > 0 && longest < LONG_TASK_LIMIT, `${name}: longest main-thread task while training: ${longest.toFixed(1)} ms of CPU (< ${LONG_TASK_LIMIT}) over ${tasks.length} tasks; longest 'longtask' by wall clock ${longestWall.toFixed(0)} ms (load average ${load})`);

    const before = await greedy(page, name);
    check(before.ids.length === GREEDY_TOKENS && before.shown === PROMPT + before.text, `${name}: ${before.ids.length} greedy tokens streamed: ${JSON.stringify(before.text)}`);
    // Greedy text from a barely trained model is mostly spaces; a seeded sample at temperature 1
    // depends on every probability, so it checks the kept weights more closely.
    const SAMPLE = { temperature: 1, 'gen-seed': 3 };
    const sampled = await greedy(page, `${name} sampled`, SAMPLE);
    writeFileSync(join(logs, `studio-${name}.png`), await page.screenshot());
    await page.evaluate(`window.studio.persisted = 0; document.getElementById('persist').click()`);
    await page.waitFor(`window.studio.persisted === 1`, { what: `${name}: the model kept in IndexedDB` });
    await page.send('Page.reload', { ignoreCache: true });
    await page.waitFor(`window.studio?.state === 'idle' && window.studio.model?.source.startsWith('trained here')`, { what: `${name}: the kept model after a reload` });
    const after = await greedy(page, `${name} after reload`);
    check(JSON.stringify(after.ids) === JSON.stringify(before.ids), `${name}: after a reload the kept model gives the same greedy tokens`);
    const sampledAfter = await greedy(page, `${name} sampled after reload`, SAMPLE);
    check(JSON.stringify(sampledAfter.ids) === JSON.stringify(sampled.ids) && new Set(sampled.ids).size > 3, `${name}: and the same seeded sample: ${JSON.stringify(sampled.text)}`);
    return { name, backend, why, firstLoss: first, lastLoss: last, trainDiff, valDiff, longestTaskCpuMs: longest, longestTaskWallMs: longestWall, loadAverage: Number(load), tokensPerSecond: run.rate, firstStepMs: run.first, greedy: before.text, page };
  } catch (e) {
    await page.close();
    throw e;
  }
}

const results = [];
let wasm;
let gpu;
try {
  wasm = await launchChromium();
  const threads = await scenario(wasm.port, {
    name: 'wasm-threads',
    url: `${base}/isolated/?backend=wasm-threads`,
    tolerance: WASM_TOLERANCE,
    expectBackend: (b, why) => check(b.kind === 'wasm' && b.threads > 1 && /cross-origin isolated, so wasm runs on a worker pool/.test(why), `wasm-threads: ${b.threads} threads on the isolated page (${why})`),
  });
  // A directory trained by `tessera train`, opened in the page: the CLI's greedy text.
  const files = readdirSync(cliRun).filter((f) => /\.(json|safetensors)$/.test(f)).map((f) => join(cliRun, f));
  const { root: doc } = await threads.page.send('DOM.getDocument');
  const { nodeId } = await threads.page.send('DOM.querySelector', { nodeId: doc.nodeId, selector: '#open-files' });
  await threads.page.send('DOM.setFileInputFiles', { nodeId, files });
  await threads.page.waitFor(`window.studio.model && !window.studio.model.source.startsWith('trained here')`, { what: 'the CLI checkpoint to open' });
  const opened = await greedy(threads.page, 'CLI checkpoint');
  check(opened.shown === cliText, `a tessera train directory opens in the page and gives tessera generate --greedy's text: ${JSON.stringify(opened.shown)} vs ${JSON.stringify(cliText)}`);
  const openedSample = await greedy(threads.page, 'CLI checkpoint sampled', { temperature: 1, 'gen-seed': 3 });
  check(openedSample.shown === cliSample, `and tessera generate's seeded sample (temperature 1, seed 3): ${JSON.stringify(openedSample.shown)} vs ${JSON.stringify(cliSample)}`);
  // The int4 directory of `tessera quantize`, opened the same way: quantized in the page, tessera
  // generate's text and sample, and the page says it cannot be trained.
  const int4Files = readdirSync(cliInt4).filter((f) => /\.(json|safetensors)$/.test(f)).map((f) => join(cliInt4, f));
  await threads.page.send('DOM.setFileInputFiles', { nodeId, files: int4Files });
  const int4Model = await threads.page.waitFor(`window.studio.model?.quantized && window.studio.model`, { what: 'the int4 checkpoint to open' });
  const note = await threads.page.evaluate(`(() => { const n = document.getElementById('quantized-note'); return n.hidden ? null : n.textContent; })()`);
  check(/^int4, groups of 32: 5 weights/.test(int4Model.quantized) && /cannot be trained/.test(note ?? ''), `a tessera quantize --bits 4 directory opens quantized (${int4Model.quantized}) and the page says it cannot be trained: ${JSON.stringify(note)}`);
  const int4Opened = await greedy(threads.page, 'int4 checkpoint');
  check(int4Opened.shown === int4Text, `it gives tessera generate --greedy's text on that directory: ${JSON.stringify(int4Opened.shown)} vs ${JSON.stringify(int4Text)}`);
  const int4Sampled = await greedy(threads.page, 'int4 checkpoint sampled', { temperature: 1, 'gen-seed': 3 });
  check(int4Sampled.shown === int4Sample && int4Sample !== cliSample, `and its seeded sample, which differs from the f32 model's: ${JSON.stringify(int4Sampled.shown)} vs ${JSON.stringify(int4Sample)}`);
  // Kept in IndexedDB, it comes back quantized after a reload, with the same sample.
  await threads.page.evaluate(`window.studio.persisted = 0; document.getElementById('persist').click()`);
  await threads.page.waitFor(`window.studio.persisted === 1`, { what: 'the int4 model kept in IndexedDB' });
  await threads.page.send('Page.reload', { ignoreCache: true });
  const kept = await threads.page.waitFor(`window.studio?.state === 'idle' && window.studio.model?.quantized && window.studio.model`, { what: 'the kept int4 model after a reload' });
  const keptSample = await greedy(threads.page, 'kept int4 checkpoint sampled', { temperature: 1, 'gen-seed': 3 });
  check(kept.quantized === int4Model.quantized && keptSample.shown === int4Sample, `kept in this browser, it reopens quantized after a reload (${kept.quantized}) with the same sample`);
  // Pause, sample from the paused weights, resume, stop: a long run driven by the buttons.
  const p = threads.page;
  await setControls(p, { preset: 'tiny', steps: 100000, 'eval-every': 0 }); // the reload reset the form
  await p.evaluate(`document.getElementById('train').click()`);
  await p.waitFor(`window.studio.state === 'training' && window.studio.train.length >= 3`, { what: 'a long run to start' });
  await p.evaluate(`document.getElementById('pause').click()`);
  await p.waitFor(`window.studio.state === 'paused'`, { what: 'the pause' });
  const atPause = await p.evaluate(`window.studio.train.length`);
  const paused = await greedy(p, 'paused');
  const stillPaused = await p.evaluate(`({ n: window.studio.train.length, state: window.studio.state, button: document.getElementById('pause').textContent })`);
  check(paused.ids.length === GREEDY_TOKENS && stillPaused.n === atPause && stillPaused.state === 'paused' && stillPaused.button === 'Resume', `pause holds training at step ${atPause} and the paused weights generate (${stillPaused.button} offered)`);
  await p.evaluate(`document.getElementById('pause').click()`);
  await p.waitFor(`window.studio.state === 'training' && window.studio.train.length > ${atPause + 2}`, { what: 'training to resume' });
  await p.evaluate(`document.getElementById('stop').click()`);
  await p.waitFor(`window.studio.state === 'idle'`, { what: 'the stop' });
  const stopped = await p.evaluate(`({ n: window.studio.train.length, status: document.getElementById('train-status').textContent, model: window.studio.model.source })`);
  check(stopped.n < 100000 && stopped.status.startsWith(`Stopped at step ${stopped.n}`) && stopped.model.includes(`${stopped.n} steps`), `resume continues and stop ends the run at step ${stopped.n}, keeping its weights (${stopped.status})`);
  await threads.page.close();
  delete threads.page;
  results.push(threads);

  const plain = await scenario(wasm.port, {
    name: 'wasm-plain',
    url: `${base}/plain/?backend=wasm-threads`,
    tolerance: WASM_TOLERANCE,
    expectBackend: (b, why) => check(b.kind === 'wasm' && b.threads === 1 && /not cross-origin isolated/.test(why) && /Cross-Origin-Embedder-Policy: require-corp/.test(why), `wasm-plain: one thread without the headers, and the page says why (${why})`),
  });
  // A picked .txt file: decoded in the worker as `tessera train --data` decodes it, the same losses;
  // a binary file is refused naming it.
  const q = plain.page;
  const txt = join(work, 'ishmael.txt');
  writeFileSync(txt, 'Call me Ishmael. Some years ago - never mind how long precisely - having little or no money in my purse. '.repeat(30));
  const cliTxt = join(work, 'cli-txt');
  execFileSync(process.execPath, [cli, 'train', '--data', txt, '--preset', 'tiny', '--steps', '5', '--seed', String(SEED), '--eval-every', '0', '--sample', '0', '--out', cliTxt], { stdio: 'ignore' });
  const txtState = JSON.parse(readFileSync(join(cliTxt, 'trainer_state.json'), 'utf8'));
  const pick = async (file) => {
    const { root: doc } = await q.send('DOM.getDocument');
    const { nodeId } = await q.send('DOM.querySelector', { nodeId: doc.nodeId, selector: '#corpus-file' });
    await q.send('DOM.setFileInputFiles', { nodeId, files: [file] });
  };
  await q.evaluate(`document.querySelector('input[name="corpus"][value="file"]').click()`);
  await pick(txt);
  // The reload above reset the form to its defaults.
  await setControls(q, { preset: 'tiny', steps: 5, seed: SEED, 'eval-every': 0 });
  await q.evaluate(`document.getElementById('train').click()`);
  await q.waitFor(`window.studio.state === 'idle' && window.studio.train.length === 5`, { what: 'training on the picked file' });
  const fileRun = await q.evaluate(`({ train: window.studio.train, corpus: document.getElementById('corpus-status').textContent })`);
  const fileDiff = maxDiff(fileRun.train, txtState.history.train);
  check(fileDiff <= WASM_TOLERANCE && /^the file ishmael\.txt: /.test(fileRun.corpus), `a picked .txt file (${fileRun.corpus}) trains to tessera train --data's losses (max |diff| ${fileDiff.toExponential(2)})`);
  const bin = join(work, 'weights.bin');
  writeFileSync(bin, Buffer.from([0x61, 0x62, 0, 0x63, 0x64]));
  await pick(bin);
  await q.evaluate(`window.studio.errors = []; document.getElementById('train').click()`);
  const refused = await q.waitFor(`window.studio.errors.length > 0 && window.studio.state === 'idle' && document.getElementById('train-status').textContent`, { what: 'the binary file to be refused' });
  check(/^the file weights\.bin looks binary, not text/.test(refused), `a binary file is refused naming it: ${JSON.stringify(refused)}`);
  await plain.page.close();
  delete plain.page;
  results.push(plain);
  await wasm.close();
  wasm = null;

  // WebGPU: Chromium's flags for WebGPU without a GPU (SwiftShader), as packages/webgpu/smoke/browser.mjs uses.
  gpu = await launchChromium({ args: ['--enable-unsafe-webgpu'] });
  const webgpu = await scenario(gpu.port, {
    name: 'webgpu',
    url: `${base}/isolated/?backend=auto`,
    tolerance: WEBGPU_TOLERANCE,
    expectBackend: (b, why) => check(b.kind === 'webgpu' && /navigator.gpu gave an adapter/.test(why), `webgpu: 'auto' picks WebGPU on the software adapter (${b.label})`),
  });
  await webgpu.page.close();
  delete webgpu.page;
  results.push(webgpu);
} catch (e) {
  failures.push(e.message);
  console.error(`studio browser test: ${e.message}`);
} finally {
  await wasm?.close();
  await gpu?.close();
  await server.close();
  rmSync(work, { recursive: true, force: true });
}
writeFileSync(join(logs, 'studio-browser.json'), `${JSON.stringify({ cli: { train: cliState.history.train, val: cliState.history.val, greedy: cliText, int4Greedy: int4Text }, results, failures }, null, 2)}\n`);
console.log(failures.length === 0 ? `studio browser test: ok (${results.length} scenarios; screenshots in ci-logs/)` : `studio browser test: FAILED (${failures.length})`);
process.exitCode = failures.length === 0 ? 0 : 1;
