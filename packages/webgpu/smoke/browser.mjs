// Browser smoke test: headless Chromium (WebGPU on SwiftShader where there is no GPU) runs
// smoke/check.mjs from a local static server, driven over the Chrome DevTools Protocol
// with Node's built-in WebSocket (no browser-automation package needed):
//   node --experimental-websocket packages/webgpu/smoke/browser.mjs [path/to/chromium]
// Needs `npm run build` and a Chromium (`.ci/webgpu-setup.sh --chromium` installs Debian's).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const chromium = process.argv[2] ?? '/usr/bin/chromium';
if (typeof WebSocket === 'undefined') {
  console.error('browser smoke: run with `node --experimental-websocket` (Node 20) or Node >= 22');
  process.exit(2);
}

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

const profile = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
const browser = spawn(
  chromium,
  ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--no-first-run', '--remote-debugging-port=0', `--user-data-dir=${profile}`, url],
  // Its own process group, so that stopping it also stops its GPU and utility processes (which
  // otherwise outlive it and keep writing into the profile while it is removed).
  { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
);
let exitCode = 1;
try {
  // Chromium prints "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/..." on stderr.
  const port = await new Promise((ok, fail) => {
    let err = '';
    const timer = setTimeout(() => fail(new Error(`chromium did not start:\n${err}`)), 30_000);
    browser.stderr.on('data', (d) => {
      err += d;
      const m = err.match(/DevTools listening on ws:\/\/127\.0\.0\.1:(\d+)\//);
      if (m) {
        clearTimeout(timer);
        ok(Number(m[1]));
      }
    });
    browser.on('exit', (code) => fail(new Error(`chromium exited (${code}):\n${err}`)));
  });
  let target;
  for (let i = 0; i < 50 && !target; i++) {
    const list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    target = list.find((t) => t.type === 'page' && t.url === url);
    if (!target) await new Promise((ok) => setTimeout(ok, 100));
  }
  if (!target) throw new Error('the smoke page did not open');

  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((ok, fail) => {
    ws.onopen = ok;
    ws.onerror = () => fail(new Error('CDP connection failed'));
  });
  let nextId = 1;
  const pending = new Map();
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
    } else if (msg.method === 'Runtime.consoleAPICalled') {
      const text = msg.params.args.map((a) => a.value ?? a.description ?? '').join(' ');
      (msg.params.type === 'error' ? console.error : console.log)(text);
    } else if (msg.method === 'Runtime.exceptionThrown') {
      console.error(`page exception: ${msg.params.exceptionDetails.exception?.description ?? msg.params.exceptionDetails.text}`);
    }
  };
  const send = (method, params = {}) =>
    new Promise((ok) => {
      const id = nextId++;
      pending.set(id, ok);
      ws.send(JSON.stringify({ id, method, params }));
    });
  await send('Runtime.enable');
  const evaluate = async (expression) => {
    const r = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (r.result?.exceptionDetails) throw new Error(r.result.exceptionDetails.exception?.description ?? r.result.exceptionDetails.text);
    return r.result?.result?.value;
  };
  for (let i = 0; i < 100 && !(await evaluate('window.smokeReady === true')); i++) await new Promise((ok) => setTimeout(ok, 100));
  exitCode = await evaluate('window.runSmoke()');
  ws.close();
} catch (e) {
  console.error(`browser smoke: ${e.message}`);
} finally {
  const exited = browser.exitCode !== null ? Promise.resolve() : new Promise((ok) => browser.once('exit', ok));
  try {
    process.kill(-browser.pid, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
  await exited;
  server.close();
  rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
}
process.exitCode = exitCode;
