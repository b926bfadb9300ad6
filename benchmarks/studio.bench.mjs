// The studio against Node: training tokens/s of the `small` preset on Moby Dick in the page (wasm
// worker pool, headless Chromium, cross-origin isolated) and in Node (the same
// @tessera/cli/train-core loop, the same threads), the time from "train" to the first trained
// step in both (the page's measured runs skip the step-0 validation, as Node's do), and the app's download (gzipped JS/CSS/HTML a visit fetches; the corpus apart).
//   node --experimental-websocket benchmarks/studio.bench.mjs [--steps 30] [--rounds 2] [--no-build] [--screenshot docs/images/studio.png]
// Writes benchmarks/results/studio.json and prints a Markdown table.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const STEPS = Number(arg('--steps', '30'));
const ROUNDS = Number(arg('--rounds', '2'));
const SEED = 1337;

if (process.argv.includes('--node-run')) {
  // One Node run (a child process, so that Node's wasm flags can differ between runs).
  const t0 = performance.now();
  const { ready } = await import('@tessera/tensor');
  const { TrainLoop, newModel, presetSettings, tokenizeCorpus } = await import('@tessera/cli/train-core');
  const { mobyDick } = await import('@tessera/cli');
  const be = await ready();
  const settings = presetSettings('small', { steps: STEPS, seed: SEED });
  const text = await mobyDick();
  const data = await tokenizeCorpus(text, 'Moby Dick', settings);
  const model = newModel(settings, data.tokenizer);
  const loop = new TrainLoop(model, data.split, settings);
  let active = 0;
  let tokens = 0;
  let firstStepMs = 0;
  for (let i = 0; i < STEPS; i++) {
    const s = performance.now();
    const r = await loop.trainStep();
    const e = performance.now();
    active += e - s;
    tokens += r.tokens;
    if (i === 0) firstStepMs = e - t0;
  }
  loop.dispose();
  model.dispose();
  console.log(JSON.stringify({ tokensPerSecond: tokens / (active / 1000), firstStepMs, build: be.features.relaxedSimd ? 'relaxed-SIMD' : 'SIMD128', threads: be.features.numThreads }));
  process.exit(0);
}

const { launchChromium, openPage } = await import('../scripts/chromium.mjs');
const { serveStudio } = await import('../apps/studio/test/serve.mjs');
const dist = join(root, 'apps', 'studio', 'dist');
if (!process.argv.includes('--no-build')) execFileSync('npx', ['turbo', 'run', 'build', '--filter=@tessera/studio...', '--output-logs=errors-only'], { cwd: root, stdio: 'inherit' });

const nodeRun = (flags) => JSON.parse(execFileSync(process.execPath, [...flags, fileURLToPath(import.meta.url), '--node-run', '--steps', String(STEPS)], { cwd: root, encoding: 'utf8' }).trim().split('\n').at(-1));

const server = await serveStudio(dist);
const browser = await launchChromium();
const runs = { nodeRelaxed: [], nodeSimd: [], page: [] };
let pageInfo;
try {
  /** One page run; `shot` (a path) adds a sample and a screenshot after a longer, validated run. */
  const pageRun = async (shot) => {
    const page = await openPage(browser.port, 'about:blank', { label: 'studio', quiet: true });
    try {
      await page.send('Emulation.setDeviceMetricsOverride', { width: 1100, height: 900, deviceScaleFactor: 1, mobile: false });
      await page.send('Page.navigate', { url: `${server.base}/isolated/?backend=wasm-threads` });
      pageInfo = await page.waitFor(`window.studio?.state === 'idle' && window.studio.backend`, { what: 'the backend' });
      // Measured runs validate only at the end, as the Node runs do not validate at all (the CLI's
      // step-0 validation would otherwise count in the time to the first step).
      const steps = shot ? 2 * STEPS : STEPS;
      const evalEvery = shot ? 10 : 0;
      await page.evaluate(`(() => { for (const [id, v] of Object.entries({ preset: 'small', steps: ${steps}, seed: ${SEED}, 'eval-every': ${evalEvery} })) document.getElementById(id).value = String(v); document.getElementById('train').click(); })()`);
      await page.waitFor(`window.studio.state === 'idle' && window.studio.train.length === ${steps}`, { timeoutMs: 300_000, what: `${steps} steps` });
      const r = await page.evaluate(`({ tokensPerSecond: window.studio.tokensPerSecond, firstStepMs: window.studio.firstStepMs })`);
      if (shot) {
        await page.evaluate(`(() => { for (const [id, v] of Object.entries({ prompt: 'The whale ', 'max-tokens': 160, temperature: 0.8, 'top-k': 40 })) document.getElementById(id).value = String(v); document.getElementById('generate').click(); })()`);
        await page.waitFor(`window.studio.generated`, { timeoutMs: 120_000, what: 'a sample' });
        await new Promise((ok) => setTimeout(ok, 500));
        mkdirSync(dirname(resolve(root, shot)), { recursive: true });
        writeFileSync(resolve(root, shot), await page.screenshot());
      }
      return r;
    } finally {
      await page.close();
    }
  };
  for (let round = 0; round < ROUNDS; round++) {
    runs.nodeRelaxed.push(nodeRun(['--experimental-wasm-relaxed-simd']));
    runs.page.push(await pageRun(null));
    runs.nodeSimd.push(nodeRun([]));
    console.log(`round ${round + 1}: page ${runs.page.at(-1).tokensPerSecond.toFixed(0)} tok/s, node relaxed ${runs.nodeRelaxed.at(-1).tokensPerSecond.toFixed(0)}, node simd128 ${runs.nodeSimd.at(-1).tokensPerSecond.toFixed(0)}`);
  }
  if (arg('--screenshot')) await pageRun(arg('--screenshot'));
} finally {
  await browser.close();
  await server.close();
}

// What the visit fetched (the corpus is data, not code), gzipped at level 9 as a static host would serve it.
const gz = (file) => gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
const fetched = [...new Set(server.served)].filter((f) => !f.endsWith('.txt'));
const allJs = readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.js'));
const download = {
  files: Object.fromEntries(fetched.map((f) => [f, { bytes: readFileSync(join(dist, f)).length, gzip: gz(f) }])),
  visitGzip: fetched.reduce((a, f) => a + gz(f), 0),
  allJsGzip: allJs.reduce((a, f) => a + gz(join('assets', f)), 0),
  corpusGzip: readdirSync(join(dist, 'assets')).filter((f) => f.endsWith('.txt')).reduce((a, f) => a + gz(join('assets', f)), 0),
};

const best = (list, key) => Math.max(...list.map((r) => r[key]));
const fastest = (list, key) => Math.min(...list.map((r) => r[key]));
const page = best(runs.page, 'tokensPerSecond');
const nodeR = best(runs.nodeRelaxed, 'tokensPerSecond');
const nodeS = best(runs.nodeSimd, 'tokensPerSecond');
const chromium = execFileSync(process.env.CHROMIUM ?? '/usr/bin/chromium', ['--version'], { encoding: 'utf8' }).trim();
const result = {
  date: new Date().toISOString(),
  machine: `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores`,
  node: process.version,
  chromium,
  steps: STEPS,
  rounds: ROUNDS,
  backend: pageInfo,
  runs,
  download,
};
mkdirSync(join(root, 'benchmarks', 'results'), { recursive: true });
writeFileSync(join(root, 'benchmarks', 'results', 'studio.json'), `${JSON.stringify(result, null, 2)}\n`);

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`\n${result.machine}; ${result.node}; ${chromium}; ${STEPS} steps of \`small\` (batch 32 x 64), best of ${ROUNDS}\n`);
console.log('| run | tokens/s | vs Node (same SIMD build) | first trained step |');
console.log('|---|---|---|---|');
console.log(`| page: ${pageInfo.label} | ${page.toFixed(0)} | ${((page / nodeR) * 100).toFixed(0)}% | ${(fastest(runs.page, 'firstStepMs') / 1000).toFixed(2)} s |`);
console.log(`| Node, ${runs.nodeRelaxed[0].build}, ${runs.nodeRelaxed[0].threads} threads | ${nodeR.toFixed(0)} | 100% | ${(fastest(runs.nodeRelaxed, 'firstStepMs') / 1000).toFixed(2)} s |`);
console.log(`| Node, ${runs.nodeSimd[0].build} (default flags), ${runs.nodeSimd[0].threads} threads | ${nodeS.toFixed(0)} | – | ${(fastest(runs.nodeSimd, 'firstStepMs') / 1000).toFixed(2)} s |`);
console.log(`\n| download (gzip -9) | size |\n|---|---|`);
for (const [f, s] of Object.entries(download.files)) console.log(`| ${f} | ${kb(s.gzip)} (${kb(s.bytes)} raw) |`);
console.log(`| **a wasm visit, all of the above** | **${kb(download.visitGzip)}** |`);
console.log(`| every JS chunk built (all four wasm builds, WebGPU, GPT-2 vocabulary) | ${kb(download.allJsGzip)} |`);
console.log(`| Moby Dick, fetched when chosen | ${kb(download.corpusGzip)} |`);
