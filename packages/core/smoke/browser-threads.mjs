// Browser check of the wasm backend's threads: headless Chromium loads a page twice from a
// local static server — once cross-origin isolated (COOP same-origin + COEP require-corp
// headers: SharedArrayBuffer, so a worker pool, with the page's main thread spinning
// instead of Atomics.wait) and once not (no SharedArrayBuffer: one thread, said in
// `features`) — and runs split kernels on 1 and 2 threads, which must agree bit for bit.
// Driven over the Chrome DevTools Protocol with Node's built-in WebSocket (scripts/chromium.mjs):
//   node --experimental-websocket packages/core/smoke/browser-threads.mjs [path/to/chromium]
// Needs `npm run build` in packages/core and a Chromium (`.ci/webgpu-setup.sh --chromium`).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, launchChromium, openPage } from '../../../scripts/chromium.mjs';

const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const chromium = process.argv[2] ?? CHROMIUM;

// The page's check: features, then gelu (2^18 elements) and matmul (256^3) on 1 and 2 threads.
const check = `
import { createWasmBackend } from '/packages/core/dist/index.js';
window.runCheck = async () => {
  const be = await createWasmBackend({ threads: 2 });
  const n = 1 << 18;
  const x = be.alloc(n * 4), y = be.alloc(n * 4);
  be.write(x, Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 4));
  const m = 256, a = be.alloc(m * m * 4), c = be.alloc(m * m * 4);
  be.write(a, Float32Array.from({ length: m * m }, (_, i) => Math.cos(i)));
  const run = async (t) => {
    await be.setNumThreads(t);
    const t0 = performance.now();
    be.unary({ op: 'gelu', x: { storage: x, offset: 0, strides: [1] }, out: { storage: y, offset: 0 }, shape: [n] });
    be.matmul({ a: { storage: a, offset: 0 }, b: { storage: a, offset: 0 }, out: { storage: c, offset: 0 }, m, n: m, k: m });
    const ms = performance.now() - t0;
    return { ms, bits: [...new Int32Array(be.readSync(y, 'f32').buffer), ...new Int32Array(be.readSync(c, 'f32').buffer)] };
  };
  const features = { ...be.features };
  const one = await run(1);
  const two = await run(2);
  const same = one.bits.length === two.bits.length && one.bits.every((v, i) => v === two.bits[i]);
  return { isolated: self.crossOriginIsolated, features, why: be.threadsUnavailable, callerBlocks: be.ctx.pool ? be.ctx.pool.callerBlocks : null, same, ms1: one.ms, ms2: two.ms };
};
window.checkReady = true;
`;
const page = `<!doctype html><meta charset="utf-8"><title>tessera threads</title><script type="module" src="/check.mjs"></script>`;
const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.map': 'application/json' };

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  // /isolated/... gets the cross-origin isolation headers, /plain/... does not.
  const [, mode, ...rest] = decodeURIComponent(url.pathname).split('/');
  const path = `/${rest.join('/')}`;
  const headers = mode === 'isolated' ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
  if (path === '/') return void res.writeHead(200, { ...headers, 'content-type': 'text/html' }).end(page.replace('/check.mjs', `/${mode}/check.mjs`));
  if (path === '/check.mjs') return void res.writeHead(200, { ...headers, 'content-type': 'text/javascript' }).end(check.replaceAll('/packages/', `/${mode}/packages/`));
  const file = normalize(join(root, path));
  try {
    if (!/^\/packages\/core\/dist\//.test(path) || !file.startsWith(root + sep)) throw new Error('not served');
    res.writeHead(200, { ...headers, 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://127.0.0.1:${server.address().port}`;

let failed = true;
let browser;
try {
  browser = await launchChromium({ executable: chromium });
  const results = {};
  for (const mode of ['isolated', 'plain']) {
    const page = await openPage(browser.port, `${base}/${mode}/`, { label: mode });
    await page.waitFor('window.checkReady === true', { timeoutMs: 10_000, what: `the ${mode} page` });
    results[mode] = await page.evaluate('window.runCheck()');
    console.log(`${mode}: ${JSON.stringify(results[mode])}`);
    await page.close();
  }
  const iso = results.isolated;
  const plain = results.plain;
  const ok =
    iso.isolated === true && iso.features.threads === true && iso.features.numThreads === 2 && iso.callerBlocks === false && iso.same &&
    plain.isolated === false && plain.features.threads === false && plain.features.numThreads === 1 && /SharedArrayBuffer/.test(plain.why) && plain.same;
  console.log(ok ? 'browser threads check: ok' : 'browser threads check: FAILED');
  failed = !ok;
} catch (e) {
  console.error(`browser threads check: ${e.message}`);
} finally {
  await browser?.close();
  server.close();
}
process.exitCode = failed ? 1 : 0;
