// Browser smoke test: headless Chromium (WebGPU on SwiftShader where there is no GPU) runs
// smoke/check.mjs from a local static server, driven over the Chrome DevTools Protocol
// with Node's built-in WebSocket (scripts/chromium.mjs; no browser-automation package needed):
//   node --experimental-websocket packages/webgpu/smoke/browser.mjs [path/to/chromium]
// Needs `npm run build` and a Chromium (`.ci/webgpu-setup.sh --chromium` installs Debian's).
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM, launchChromium, openPage } from '../../../scripts/chromium.mjs';

const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const chromium = process.argv[2] ?? CHROMIUM;

const page = `<!doctype html><meta charset="utf-8"><title>tessera webgpu smoke</title>
<script type="importmap">{"imports": {
  "@tessera/core": "/packages/core/dist/index.js",
  "@tessera/tensor": "/packages/tensor/dist/index.js"
}}</script>
<script type="module">
  import { smoke } from '/packages/webgpu/smoke/check.mjs';
  window.runSmoke = () => smoke('chromium ' + (navigator.userAgent.match(/Chrome\\/[\\d.]+/) ?? [''])[0]);
  window.smokeReady = true;
</script>`;

const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.map': 'application/json', '.html': 'text/html' };
// Serves the page and the packages' built files only.
const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
  if (path === '/') {
    res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    return;
  }
  const file = normalize(join(root, path));
  const allowed = /^\/packages\/(core|tensor|webgpu)\/(dist|smoke)\//.test(path) && file.startsWith(root + sep);
  try {
    if (!allowed) throw new Error('not served');
    res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const url = `http://127.0.0.1:${server.address().port}/`;

let exitCode = 1;
let browser;
try {
  browser = await launchChromium({ executable: chromium, args: ['--enable-unsafe-webgpu'] });
  const page = await openPage(browser.port, url, { label: 'webgpu smoke' });
  await page.waitFor('window.smokeReady === true', { timeoutMs: 10_000, what: 'the smoke page' });
  exitCode = await page.evaluate('window.runSmoke()');
  await page.close();
} catch (e) {
  console.error(`browser smoke: ${e.message}`);
} finally {
  await browser?.close();
  server.close();
}
process.exitCode = exitCode;
