// Worker pool over the backend's shared linear memory. Each worker instantiates the same
// compiled module with the same memory (the module has no data segments and no mutable
// globals, so a second instance writes nothing at start-up and shares no state but the
// memory) and serves calls announced through a control block in that memory.
//
// A call is an export and a list of chunks (argument lists), plus per-thread "tail"
// arguments appended to every chunk a thread runs (its own scratch). The chunks are dealt
// into one queue per thread (contiguous ranges, so thread t works on the same part of a
// tensor from one kernel to the next and finds it in its own cache); a thread runs its own
// queue from the front, then steals from the back of the others':
//   caller: write fn, chunk table, tails; fill the queue words (tag = seq & 0xffff, head,
//           tail); SEQ = seq (Atomics.store) and notify the workers the call may use; claim
//           and run chunks itself like a worker; then wait until DONE == chunks (spin
//           briefly, then Atomics.wait; a browser main thread, where Atomics.wait throws,
//           spins only).
//   worker: spin briefly on SEQ, then Atomics.wait; on a new call, claim chunks (compare-
//           and-swap on queue words whose tag matches), run them, DONE += 1 and notify the
//           caller at the last.
// A worker that is slow to wake (a busy machine) has its chunks stolen by the caller: a
// split call then costs about what one thread costs, never a scheduler time slice. The
// seq-cst Atomics order the caller's plain writes of the call before any claim, and every
// chunk's writes before the caller returns. A chunk that throws (a trap) is caught on its
// thread and reported by the caller as a KernelError once every chunk has finished, so a
// failed call leaves no worker writing to memory and the pool ready for the next call.
import { KernelError, UnsupportedError } from '../errors.js';
import type { WasmExports } from '../generated/wasm-exports.js';
import type { KernelFn } from './context.js';
import { NODE_WORKER_SOURCE, WEB_WORKER_SOURCE, claimChunk } from './worker-source.js';

/** Arguments one chunk may pass (float64 each; i32 parameters take ToInt32 of them). */
export const MAX_ARGS = 24;
/** Per-thread tail arguments. */
export const MAX_TAIL = 4;
/** Chunks one call may have (at least MAX_THREADS: matmul runs one part per thread; a queue holds at most 255). */
export const MAX_CHUNKS = 128;
/** Most threads one backend runs (the caller + MAX_THREADS - 1 workers). */
export const MAX_THREADS = 64;

/**
 * Control block layout: i32 word indices (SEQ .. EXIT, QUEUES: one word per thread), byte
 * offsets (MSG, TABLE, TAILS) and limits.
 */
const LAYOUT = {
  SEQ: 0, DONE: 2, CHUNKS: 3, FN: 4, ARGC: 5, TAILC: 6, THREADS: 7, ERROR: 8, ERROR_THREAD: 9, MSG_LEN: 10, EXIT: 11,
  QUEUES: 16,
  MSG: 64 + MAX_THREADS * 4, MSG_MAX: 256, TABLE: 320 + MAX_THREADS * 4, TAILS: 320 + MAX_THREADS * 4 + MAX_CHUNKS * MAX_ARGS * 8,
  MAX_ARGS, MAX_TAIL,
};
/** Bytes the control block reserves in linear memory (at the start of the heap). */
export const CONTROL_BYTES = LAYOUT.TAILS + MAX_THREADS * MAX_TAIL * 8;

/**
 * Polls of SEQ a worker makes before blocking, and of DONE the caller makes before
 * blocking. Back-to-back kernels (a training step issues hundreds, microseconds apart) then
 * find the worker awake instead of paying a futex wake-up; the caller's polls cover the
 * usual short wait for the last chunk. 20k polls last ~100-170 us. Measured by
 * `node benchmarks/threads-crossover.mjs` (2 threads, an empty chunk each): 2.0 us per call
 * back to back, 1.2 / 1.8 / 4.1 us after 10 / 50 / 200 us of idle caller, 68.5 us after
 * 1 ms (the worker blocked: a wake-up).
 */
export const WORKER_SPIN = 20000;
export const CALLER_SPIN = 20000;

/** A spawned worker on whatever thread API the runtime offers. */
interface WorkerHandle {
  terminate(): void;
}

/** What a worker needs to start: module, memory and where its slot is. */
interface WorkerInit {
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  ctrl: number;
  /** Thread number (1.., the caller is 0). */
  thread: number;
  names: string[];
  spin: number;
  layout: typeof LAYOUT;
}

type NodeWorkerCtor = new (src: string, opts: { eval: true; workerData: unknown }) => {
  on(ev: string, fn: (v: unknown) => void): void;
  off(ev: string, fn: (v: unknown) => void): void;
  unref(): void;
  terminate(): Promise<number>;
};

/** How this runtime starts threads: Node's worker_threads, Web Workers, or not at all. */
export type ThreadApi = { kind: 'node'; Worker: NodeWorkerCtor } | { kind: 'web' } | { kind: 'none'; why: string };

let nodeWorkerCtor: NodeWorkerCtor | undefined;

/** Finds the thread API (async: Node's worker_threads is imported on first use). */
export async function detectThreadApi(): Promise<ThreadApi> {
  const g = globalThis as { process?: { versions?: Record<string, string> }; Deno?: unknown; crossOriginIsolated?: boolean };
  if (typeof SharedArrayBuffer === 'undefined') {
    return { kind: 'none', why: 'SharedArrayBuffer is not available (a browser page must be cross-origin isolated: COOP same-origin + COEP require-corp)' };
  }
  if (g.crossOriginIsolated === false) return { kind: 'none', why: 'the page is not cross-origin isolated' };
  // Node, and Deno through its node:worker_threads (whose workers can be unref'ed, so an
  // idle pool does not keep the process alive; Deno's Web Workers cannot).
  const isNode = g.process?.versions?.node !== undefined && g.process.versions.bun === undefined;
  if (isNode || g.Deno !== undefined) {
    if (!nodeWorkerCtor) {
      // A computed specifier keeps bundlers from resolving a Node built-in for the browser.
      const spec = ['node', 'worker_threads'].join(':');
      const wt = (await import(/* @vite-ignore */ spec)) as { Worker: NodeWorkerCtor };
      nodeWorkerCtor = wt.Worker;
    }
    return { kind: 'node', Worker: nodeWorkerCtor };
  }
  if (typeof Worker === 'function' && typeof Blob === 'function' && typeof URL.createObjectURL === 'function') return { kind: 'web' };
  return { kind: 'none', why: 'this runtime has no Worker' };
}

/** True when this thread may block in Atomics.wait (false on a browser's main thread). */
function canBlock(i32: Int32Array, index: number): boolean {
  try {
    Atomics.wait(i32, index, Atomics.load(i32, index) + 1, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts one worker and resolves once its instance is ready (rejects if it failed). */
function spawn(api: ThreadApi, init: WorkerInit): Promise<WorkerHandle> {
  return new Promise((resolve, reject) => {
    if (api.kind === 'node') {
      const w = new api.Worker(NODE_WORKER_SOURCE, { eval: true, workerData: init });
      const onMessage = (m: unknown) => {
        const msg = m as { ready: boolean; error?: string };
        w.off('message', onMessage);
        w.off('error', onError);
        // Referenced while starting (so a pending start keeps the process alive), then
        // unreferenced: the pool must never keep a process alive on its own.
        if (msg.ready) {
          w.unref();
          resolve({ terminate: () => void w.terminate() });
        } else reject(new UnsupportedError(`kernel worker failed to start: ${msg.error}`));
      };
      const onError = (e: unknown) => reject(new UnsupportedError(`kernel worker failed to start: ${String(e)}`));
      w.on('message', onMessage);
      w.on('error', onError);
    } else if (api.kind === 'web') {
      const url = URL.createObjectURL(new Blob([WEB_WORKER_SOURCE], { type: 'text/javascript' }));
      // A module worker: the kind every runtime with Web Workers accepts.
      const w = new Worker(url, { type: 'module' });
      // Bun lets a worker stop keeping the process alive (not in the DOM types).
      const unref = (w as unknown as { unref?: () => void }).unref;
      w.onmessage = (e: MessageEvent) => {
        const msg = e.data as { ready: boolean; error?: string };
        w.onmessage = null;
        w.onerror = null;
        URL.revokeObjectURL(url);
        if (msg.ready) {
          if (typeof unref === 'function') unref.call(w);
          resolve({ terminate: () => w.terminate() });
        } else reject(new UnsupportedError(`kernel worker failed to start: ${msg.error}`));
      };
      w.onerror = (e: ErrorEvent) => {
        URL.revokeObjectURL(url);
        reject(new UnsupportedError(`kernel worker failed to start: ${e.message}`));
      };
      w.postMessage(init);
    } else {
      reject(new UnsupportedError(`threads are not available: ${api.why}`));
    }
  });
}

/**
 * Workers that run kernel exports on chunks of a problem. `run` is synchronous: it returns
 * when every chunk has finished.
 */
export class ThreadPool {
  private readonly workers: WorkerHandle[] = [];
  private readonly names: string[];
  private readonly index = new Map<string, number>();
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly u8: Uint8Array;
  private readonly blocking: boolean;
  private readonly w: number;
  private seq = 0;
  private growing: Promise<void> = Promise.resolve();
  private disposed = false;
  /** What the caller's own chunk threw in the current call (a worker's error is a message in the block). */
  private callerError: unknown;

  private constructor(
    private readonly api: ThreadApi,
    private readonly module: WebAssembly.Module,
    private readonly memory: WebAssembly.Memory,
    private readonly exports: WasmExports,
    /** Byte address of the control block (CONTROL_BYTES reserved there, 64-byte aligned). */
    readonly ctrl: number,
  ) {
    this.names = Object.keys(exports).filter((n) => typeof (exports as unknown as Record<string, unknown>)[n] === 'function');
    this.names.forEach((n, i) => this.index.set(n, i));
    // The control block sits below every allocation, so views made now always cover it.
    this.i32 = new Int32Array(memory.buffer, 0, (ctrl + CONTROL_BYTES) >> 2);
    this.f64 = new Float64Array(memory.buffer, 0, (ctrl + CONTROL_BYTES) >> 3);
    this.u8 = new Uint8Array(memory.buffer, 0, ctrl + CONTROL_BYTES);
    this.w = ctrl >> 2;
    this.u8.fill(0, ctrl, ctrl + CONTROL_BYTES);
    this.blocking = canBlock(this.i32, this.w + LAYOUT.DONE);
  }

  /** A pool with `workers` workers (threads = workers + the caller). */
  static async create(
    api: ThreadApi,
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    exports: WasmExports,
    ctrl: number,
    workers: number,
  ): Promise<ThreadPool> {
    const pool = new ThreadPool(api, module, memory, exports, ctrl);
    await pool.grow(workers);
    return pool;
  }

  /** Workers started and ready. */
  get size(): number {
    return this.workers.length;
  }

  /** True where the calling thread blocks in Atomics.wait; false where it spins (browser main thread). */
  get callerBlocks(): boolean {
    return this.blocking;
  }

  /** Starts workers until there are `workers` of them (never more than MAX_THREADS - 1). */
  grow(workers: number): Promise<void> {
    const target = Math.min(workers, MAX_THREADS - 1);
    // A failed start rejects this call but not later ones.
    this.growing = this.growing.catch(() => undefined).then(async () => {
      while (!this.disposed && this.workers.length < target) {
        const thread = this.workers.length + 1;
        const init = { module: this.module, memory: this.memory, ctrl: this.ctrl, thread, names: this.names, spin: WORKER_SPIN, layout: LAYOUT };
        const worker = await spawn(this.api, init);
        if (this.disposed) {
          worker.terminate();
          return;
        }
        this.workers.push(worker);
      }
    });
    return this.growing;
  }

  /**
   * Runs export `name` once per chunk on up to `threads` threads (the caller included) and
   * returns when all chunks are done; thread t appends tail(t) to the arguments of every
   * chunk it runs. Throws a KernelError naming the export, chunk and thread if a chunk threw
   * (after every chunk finished).
   */
  run(name: string, chunks: readonly (readonly number[])[], threads: number, tail?: (t: number) => readonly number[]): void {
    const fn = this.index.get(name);
    if (fn === undefined) throw new KernelError(`no kernel export named '${name}'`);
    const n = chunks.length;
    if (n > MAX_CHUNKS) throw new KernelError(`${name}: ${n} chunks, at most ${MAX_CHUNKS}`);
    threads = Math.max(1, Math.min(threads, this.workers.length + 1));
    const { i32, f64, w } = this;
    const L = LAYOUT;
    // The previous call is over: DONE reached its count, so every queue is empty and no
    // claim can succeed until this call fills them again (tagged with its own seq).
    const argc = chunks[0]?.length ?? 0;
    let tailc = 0;
    const tails: (readonly number[])[] = [];
    if (tail) {
      for (let t = 0; t < threads; t++) tails.push(tail(t));
      tailc = tails[0].length;
      if (tailc > MAX_TAIL) throw new KernelError(`${name}: ${tailc} per-thread arguments, at most ${MAX_TAIL}`);
    }
    if (argc + tailc > MAX_ARGS) throw new KernelError(`${name}: ${argc + tailc} arguments, at most ${MAX_ARGS}`);
    const table = (this.ctrl + L.TABLE) >> 3;
    chunks.forEach((args, c) => {
      if (args.length !== argc) throw new KernelError(`${name}: chunk ${c} has ${args.length} arguments, chunk 0 has ${argc}`);
      for (let a = 0; a < argc; a++) f64[table + c * MAX_ARGS + a] = args[a];
    });
    const tailAt = (this.ctrl + L.TAILS) >> 3;
    tails.forEach((args, t) => {
      for (let a = 0; a < tailc; a++) f64[tailAt + t * MAX_TAIL + a] = args[a];
    });
    if (n === 1) threads = 1;
    i32[w + L.FN] = fn;
    i32[w + L.ARGC] = argc;
    i32[w + L.TAILC] = tailc;
    i32[w + L.ERROR] = 0;
    i32[w + L.ERROR_THREAD] = 0;
    Atomics.store(i32, w + L.DONE, 0);
    Atomics.store(i32, w + L.THREADS, threads);
    Atomics.store(i32, w + L.CHUNKS, n);
    // Queue t: chunks [t n / T, (t + 1) n / T), head 0, tail = its size.
    this.seq = (this.seq + 1) | 0;
    const tag = (this.seq & 0xffff) << 16;
    for (let t = 0; t < threads; t++) Atomics.store(i32, w + L.QUEUES + t, tag | (Math.floor(((t + 1) * n) / threads) - Math.floor((t * n) / threads)));
    // Announced even when the caller runs it alone, so that SEQ and the queue tags never
    // drift apart (a worker's tag always comes from the SEQ it saw).
    Atomics.store(i32, w + L.SEQ, this.seq);
    if (threads > 1) Atomics.notify(i32, w + L.SEQ, threads - 1);
    // The caller claims chunks like any worker, as thread 0.
    const own = tails[0] ?? [];
    const call = (this.exports as unknown as Record<string, KernelFn>)[name];
    for (;;) {
      const idx = claimChunk(i32, w + L.QUEUES, 0, threads, n, tag);
      if (idx < 0) break;
      try {
        call(...chunks[idx], ...own);
      } catch (e) {
        if (Atomics.compareExchange(i32, w + L.ERROR, 0, idx + 1) === 0) this.callerError = e;
      }
      Atomics.add(i32, w + L.DONE, 1);
    }
    this.join(n);
    const err = i32[w + L.ERROR];
    if (err !== 0) {
      const thread = i32[w + L.ERROR_THREAD];
      const what = thread === 0 ? `the calling thread: ${describe(this.callerError)}` : `worker thread ${thread}: ${String.fromCharCode(...this.u8.subarray(this.ctrl + L.MSG, this.ctrl + L.MSG + i32[w + L.MSG_LEN]))}`;
      this.callerError = undefined;
      throw new KernelError(`${name} failed (chunk ${err - 1} of ${n}) on ${what}`);
    }
  }

  /** Waits until the workers' chunks of the current call are done (DONE == n). */
  private join(n: number): void {
    const i32 = this.i32;
    const at = this.w + LAYOUT.DONE;
    let d = Atomics.load(i32, at);
    for (let k = 0; d !== n && k < CALLER_SPIN; k++) d = Atomics.load(i32, at);
    if (!this.blocking) {
      while (d !== n) d = Atomics.load(i32, at);
      return;
    }
    while (d !== n) {
      Atomics.wait(i32, at, d);
      d = Atomics.load(i32, at);
    }
  }

  /** Tells every worker to exit and terminates it; the pool runs nothing afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const i32 = this.i32;
    Atomics.store(i32, this.w + LAYOUT.EXIT, 1);
    this.seq = (this.seq + 1) | 0;
    Atomics.store(i32, this.w + LAYOUT.SEQ, this.seq);
    Atomics.notify(i32, this.w + LAYOUT.SEQ);
    for (const worker of this.workers) worker.terminate();
    this.workers.length = 0;
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
