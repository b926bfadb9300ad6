// Headless Chromium driven over the Chrome DevTools Protocol with Node's built-in WebSocket (no
// browser-automation package): start it on a free loopback port, open pages, evaluate, wait,
// capture screenshots, and stop it with every helper process it started.
// Node 20 needs `--experimental-websocket`; Node >= 22 has WebSocket built in.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The Chromium binary: $CHROMIUM, else Debian's (installed by `.ci/webgpu-setup.sh --chromium`). */
export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/**
 * Starts headless Chromium with a fresh profile. `args` are extra flags (e.g. WebGPU's).
 * Resolves to { port, close }; `close()` kills its whole process group and removes the profile.
 */
export async function launchChromium({ args = [], executable = CHROMIUM } = {}) {
  if (typeof WebSocket === 'undefined') throw new Error('run with `node --experimental-websocket` (Node 20) or Node >= 22');
  const profile = mkdtempSync(join(tmpdir(), 'tessera-chromium-'));
  const browser = spawn(executable, ['--headless=new', '--no-sandbox', '--no-first-run', '--remote-debugging-port=0', `--user-data-dir=${profile}`, ...args, 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    // Its own process group, so that stopping it also stops its GPU and utility processes (which
    // otherwise outlive it and keep writing into the profile while it is removed).
    detached: true,
  });
  const close = async () => {
    const exited = browser.exitCode !== null || browser.signalCode !== null ? Promise.resolve() : new Promise((ok) => browser.once('exit', ok));
    try {
      process.kill(-browser.pid, 'SIGKILL');
    } catch {
      // The group is already gone.
    }
    await exited;
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  };
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
      browser.on('error', (e) => fail(new Error(`cannot start ${executable}: ${e.message}`)));
      browser.on('exit', (code) => fail(new Error(`chromium exited (${code}):\n${err}`)));
    });
    return { port, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * Opens `url` in a new tab of the browser on `port` and connects to it. Console messages and
 * page exceptions are printed (prefixed with `label`). Returns { send, on, evaluate, waitFor,
 * traceMainThread, screenshot, close }.
 */
export async function openPage(port, url, { label = 'page', quiet = false } = {}) {
  const target = await (await fetch(`http://127.0.0.1:${port}/json/new?${url}`, { method: 'PUT' })).json();
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((ok, fail) => {
    ws.onopen = ok;
    ws.onerror = () => fail(new Error('CDP connection failed'));
  });
  let nextId = 1;
  const pending = new Map();
  const listeners = new Map();
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)(msg);
      pending.delete(msg.id);
      return;
    }
    for (const fn of listeners.get(msg.method) ?? []) fn(msg.params);
    if (msg.method === 'Runtime.consoleAPICalled' && !quiet) {
      const text = msg.params.args.map((a) => a.value ?? a.description ?? '').join(' ');
      (msg.params.type === 'error' ? console.error : console.log)(`[${label}] ${text}`);
    } else if (msg.method === 'Runtime.exceptionThrown') {
      console.error(`[${label}] page exception: ${msg.params.exceptionDetails.exception?.description ?? msg.params.exceptionDetails.text}`);
    }
  };
  const send = (method, params = {}) =>
    new Promise((ok, fail) => {
      const id = nextId++;
      pending.set(id, (msg) => (msg.error ? fail(new Error(`${method}: ${msg.error.message}`)) : ok(msg.result)));
      ws.send(JSON.stringify({ id, method, params }));
    });
  await send('Runtime.enable');
  await send('Page.enable');
  const evaluate = async (expression) => {
    const r = await send('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true });
    if (r.exceptionDetails) throw new Error(`${expression.slice(0, 80)}: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result?.value;
  };
  /** Polls `expression` until it is truthy; returns its value, or throws after `timeoutMs` saying what it waited for. */
  const waitFor = async (expression, { timeoutMs = 60_000, what = expression, every = 100 } = {}) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      let value;
      try {
        value = await evaluate(expression);
      } catch {
        // The page is navigating; try again.
      }
      if (value) return value;
      if (Date.now() > until) throw new Error(`[${label}] timed out after ${timeoutMs} ms waiting for ${what}`);
      await new Promise((ok) => setTimeout(ok, every));
    }
  };
  /** Calls `fn(params)` for every protocol event `method` (e.g. 'Tracing.dataCollected'). */
  const on = (method, fn) => listeners.set(method, [...(listeners.get(method) ?? []), fn]);
  /**
   * Starts a trace of the renderer's top-level tasks; the returned function stops it and resolves
   * to the tasks of every renderer main thread: { start, wallMs, cpuMs } (cpuMs is the thread's
   * CPU time, which excludes time the thread waited for a core on a busy machine).
   */
  const traceMainThread = async () => {
    const events = [];
    on('Tracing.dataCollected', (p) => events.push(...p.value));
    await send('Tracing.start', { traceConfig: { includedCategories: ['toplevel', '__metadata'] }, transferMode: 'ReportEvents' });
    return async () => {
      const done = new Promise((ok) => on('Tracing.tracingComplete', ok));
      await send('Tracing.end');
      await done;
      const mains = new Set(events.filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
      return events
        .filter((e) => e.ph === 'X' && mains.has(`${e.pid}:${e.tid}`) && /RunTask$/.test(e.name))
        .map((e) => ({ start: e.ts / 1000, wallMs: e.dur / 1000, cpuMs: (e.tdur ?? e.dur) / 1000 }));
    };
  };
  const screenshot = async () => Buffer.from((await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true })).data, 'base64');
  const close = async () => {
    ws.close();
    await fetch(`http://127.0.0.1:${port}/json/close/${target.id}`).catch(() => {});
  };
  return { send, on, evaluate, waitFor, traceMainThread, screenshot, close };
}
