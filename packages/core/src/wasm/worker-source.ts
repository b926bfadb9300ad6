// The kernel worker's code, as a string so that every runtime and bundler starts it the
// same way (Node and Deno: `new Worker(src, { eval: true })` from worker_threads; Bun and
// browsers: a Blob URL) with no worker file to locate. It is plain ES2017 script (plus
// claimChunk's compiled text); the layout numbers come from src/wasm/pool.ts (LAYOUT),
// passed in with the rest of the start-up data.

/**
 * Claims the next chunk for thread `me` of `threads` (see src/wasm/pool.ts): the front of
 * its own queue, else the back of another thread's, by compare-and-swap on the queue word
 * tag << 16 | head << 8 | tail. Returns the chunk index, or -1 when every queue is empty or
 * the call is no longer the one tagged `tag`. Queue q holds chunks [q n / T, (q + 1) n / T).
 * Used verbatim by the workers and (as `claimChunk`) by the caller.
 */
export function claimChunk(i32: Int32Array, queues: number, me: number, threads: number, n: number, tag: number): number {
  for (;;) {
    const word = Atomics.load(i32, queues + me);
    if ((word & 0xffff0000) !== tag) return -1;
    const head = (word >>> 8) & 0xff;
    if (head >= (word & 0xff)) break;
    if (Atomics.compareExchange(i32, queues + me, word, word + 0x100) === word) return Math.floor((me * n) / threads) + head;
  }
  for (let k = 1; k < threads; k++) {
    const q = (me + k) % threads;
    for (;;) {
      const word = Atomics.load(i32, queues + q);
      if ((word & 0xffff0000) !== tag) return -1;
      const tail = word & 0xff;
      if (((word >>> 8) & 0xff) >= tail) break;
      if (Atomics.compareExchange(i32, queues + q, word, word - 1) === word) return Math.floor((q * n) / threads) + tail - 1;
    }
  }
  return -1;
}

/**
 * claimChunk's compiled text as worker source, bound to `claim`: one algorithm for both sides.
 * It must stay self-contained (parameters, Atomics and Math only) for that to work. Bound by
 * assignment rather than by renaming the declaration, because a minifying bundler renames
 * `claimChunk` itself.
 */
const CLAIM_SOURCE = `var claim = ${claimChunk.toString()};`;

/**
 * Runs on a worker: instantiates the module over the shared memory, says 'ready', then
 * serves calls until told to exit. A call is announced by a new value of the SEQ word;
 * the worker (if its thread number is below the call's thread count) claims chunks with
 * `claim` (its own queue first, then stealing), runs each (export FN with the chunk's
 * arguments and its own per-thread tail), counts DONE up, and wakes the caller at the last
 * one. A claim tagged with an older call fails, so a worker that wakes late can never run a
 * chunk of a call that is already over.
 */
const BODY = `
${CLAIM_SOURCE}
function tesseraKernelWorker(init, post) {
  var L = init.layout;
  var instance;
  try {
    instance = new WebAssembly.Instance(init.module, { env: { memory: init.memory } });
  } catch (e) {
    post({ ready: false, error: String(e && e.stack || e) });
    return;
  }
  var fns = init.names.map(function (n) { return instance.exports[n]; });
  var buf = init.memory.buffer;
  var i32 = new Int32Array(buf);
  var f64 = new Float64Array(buf);
  var u8 = new Uint8Array(buf);
  var ctrl = init.ctrl;
  var w = ctrl >> 2;
  var me = init.thread;
  var spin = init.spin;
  var args = [];
  var seen = 0;
  post({ ready: true });
  for (;;) {
    var s = Atomics.load(i32, w + L.SEQ);
    for (var k = 0; s === seen && k < spin; k++) s = Atomics.load(i32, w + L.SEQ);
    if (s === seen) {
      Atomics.wait(i32, w + L.SEQ, seen);
      continue;
    }
    seen = s;
    if (Atomics.load(i32, w + L.EXIT) !== 0) return;
    var tag = (s & 0xffff) << 16;
    var threads = Atomics.load(i32, w + L.THREADS);
    if (me >= threads) continue;
    var n = Atomics.load(i32, w + L.CHUNKS);
    for (;;) {
      var idx = claim(i32, w + L.QUEUES, me, threads, n, tag);
      if (idx < 0) break;
      var argc = i32[w + L.ARGC];
      var tailc = i32[w + L.TAILC];
      args.length = argc + tailc;
      var at = ((ctrl + L.TABLE) >> 3) + idx * L.MAX_ARGS;
      for (var a = 0; a < argc; a++) args[a] = f64[at + a];
      at = ((ctrl + L.TAILS) >> 3) + me * L.MAX_TAIL;
      for (var t = 0; t < tailc; t++) args[argc + t] = f64[at + t];
      try {
        fns[i32[w + L.FN]].apply(null, args);
      } catch (e) {
        if (Atomics.compareExchange(i32, w + L.ERROR, 0, idx + 1) === 0) {
          var msg = String(e && e.name ? e.name + ': ' + e.message : e);
          var len = 0;
          for (var ch = 0; ch < msg.length && len < L.MSG_MAX; ch++) u8[ctrl + L.MSG + len++] = msg.charCodeAt(ch) & 0x7f;
          i32[w + L.MSG_LEN] = len;
          Atomics.store(i32, w + L.ERROR_THREAD, me);
        }
      }
      if (Atomics.add(i32, w + L.DONE, 1) + 1 === n) Atomics.notify(i32, w + L.DONE);
    }
  }
}
`;

/**
 * Worker source for Node's (and Deno's) worker_threads (`eval: true`): init arrives as
 * workerData. import() rather than require(): an eval worker inherits the parent's
 * --input-type, and under --input-type=module there is no require.
 */
export const NODE_WORKER_SOURCE = `${BODY}
import('node:worker_threads').then(function (wt) {
  tesseraKernelWorker(wt.workerData, function (m) { wt.parentPort.postMessage(m); });
});
`;

/** Worker source for Web Workers (Bun, browsers): init arrives as the first message. */
export const WEB_WORKER_SOURCE = `${BODY}
self.onmessage = function (e) {
  self.onmessage = null;
  tesseraKernelWorker(e.data, function (m) { self.postMessage(m); });
};
`;
