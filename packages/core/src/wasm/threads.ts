// Process-wide thread count of the wasm backends: the default for backends created later,
// applied to live ones too.
import { ArgumentError } from '../errors.js';
import { MAX_THREADS } from './pool.js';

/** What setNumThreads talks to: every live threaded backend. */
export interface ThreadedBackend {
  setNumThreads(n: number): Promise<void>;
}

/** Default thread count when nothing is set: the cores, at most this many. */
const DEFAULT_MAX = 16;

let requested: number | undefined;
let cores: number | undefined;
const live = new Set<WeakRef<ThreadedBackend>>();

/** Logical cores the runtime reports (os.availableParallelism in Node, navigator.hardwareConcurrency elsewhere). */
export async function availableCores(): Promise<number> {
  if (cores !== undefined) return cores;
  const nav = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator;
  let n = nav?.hardwareConcurrency;
  const proc = (globalThis as { process?: { versions?: Record<string, string> } }).process;
  if (!n && proc?.versions?.node) {
    try {
      const spec = ['node', 'os'].join(':');
      const os = (await import(/* @vite-ignore */ spec)) as { availableParallelism?: () => number; cpus: () => unknown[] };
      n = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
    } catch {
      n = 1;
    }
  }
  cores = Math.max(1, Math.floor(n ?? 1));
  return cores;
}

/** Threads a new backend uses when its options do not say: setNumThreads's value, else the cores (at most 16). */
export async function defaultThreads(): Promise<number> {
  return requested ?? Math.min(await availableCores(), DEFAULT_MAX);
}

/** Registers a backend so that later setNumThreads calls reach it (held weakly). */
export function track(b: ThreadedBackend): () => void {
  const ref = new WeakRef(b);
  live.add(ref);
  return () => void live.delete(ref);
}

/** Checks a thread count: an integer in [1, MAX_THREADS]. */
export function checkThreads(where: string, n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_THREADS) throw new ArgumentError(`${where}: thread count must be an integer in [1, ${MAX_THREADS}], got ${n}`);
  return n;
}

/**
 * Sets how many threads the wasm kernels use, for every wasm backend alive now and every one
 * created later (createWasmBackend's `threads` option still wins for that backend). Lowering
 * takes effect at once; raising starts workers, which join as they come up — await the
 * result to know they all have. Where threads are unavailable (no SharedArrayBuffer, a page
 * that is not cross-origin isolated, plain memory) backends stay at one thread.
 *
 * @example
 * ```ts
 * import { setNumThreads } from '@tessera/core';
 * await setNumThreads(1); // deterministic single-thread timing
 * ```
 */
export async function setNumThreads(n: number): Promise<void> {
  requested = checkThreads('setNumThreads', n);
  const waits: Promise<void>[] = [];
  for (const ref of live) {
    const b = ref.deref();
    if (b) waits.push(b.setNumThreads(n));
    else live.delete(ref);
  }
  await Promise.all(waits);
}

/** The thread count setNumThreads last set (undefined: the default, the core count). */
export function getNumThreads(): number | undefined {
  return requested;
}
