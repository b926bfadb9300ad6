import type * as B from '../backend.js';
import type { AllKernels, ArrayFor, Backend, DType, Features, KernelPolicy, Storage } from '../backend.js';
import { ArgumentError, UnsupportedError } from '../errors.js';
import { bindKernels, kernelsOf, type FullKernelTable } from '../kernel-table.js';
import { QMATMUL_INT8_ROWS } from '../quant.js';
import * as val from '../validate.js';
import { ALIGN, Allocator, MAX_WASM_BYTES, PAGE } from './allocator.js';
import { WasmContext, WasmStorage } from './context.js';
import { CONTROL_BYTES, ThreadPool, detectThreadApi, type ThreadApi } from './pool.js';
import { checkThreads, defaultThreads, track } from './threads.js';
import * as attn from './kernels/attention.js';
import * as ew from './kernels/elementwise.js';
import * as mm from './kernels/matmul.js';
import * as norm from './kernels/norm.js';
import * as opt from './kernels/optim.js';
import * as qmm from './kernels/qmatmul.js';
import * as qemb from './kernels/qembedding.js';
import * as red from './kernels/reduce.js';
import * as sel from './kernels/select.js';
import type { WasmExports } from '../generated/wasm-exports.js';

/** Options for `createWasmBackend`. */
export interface WasmBackendOptions {
  /** 'auto' (default) picks relaxed-SIMD when the runtime validates it. */
  simd?: 'auto' | 'simd128' | 'relaxed';
  /** Use a shared memory (needed for threads). Default: when SharedArrayBuffer exists. */
  shared?: boolean;
  /** Initial memory in bytes (default 16 MiB). */
  initialBytes?: number;
  /**
   * Threads kernels may use, the caller included (default: setNumThreads's value, else the
   * available cores, at most 16). Needs shared memory and a Worker API; without them the
   * backend runs on one thread and says so in `features` (threads false, numThreads 1).
   */
  threads?: number;
}

/**
 * The four builds, each a generated module of its own (scripts/build-wasm.mjs) loaded only
 * when a backend needs it: a bundle that never creates a wasm backend (reference or WebGPU
 * only) carries none of the ~100 KB of base64, and one that does carries the others as
 * separate chunks it never fetches.
 */
const BUILDS = {
  'simd-shared': () => import('../generated/wasm-simd-shared.js'),
  'relaxed-shared': () => import('../generated/wasm-relaxed-shared.js'),
  'simd-plain': () => import('../generated/wasm-simd-plain.js'),
  'relaxed-plain': () => import('../generated/wasm-relaxed-plain.js'),
} as const;

/** The bytes of one build. */
export async function loadWasmBuild(relaxed: boolean, shared: boolean): Promise<Uint8Array> {
  const { BYTES } = await BUILDS[`${relaxed ? 'relaxed' : 'simd'}-${shared ? 'shared' : 'plain'}`]();
  return decode(BYTES);
}

function decode(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function canShare(): boolean {
  if (typeof SharedArrayBuffer === 'undefined') return false;
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    return true;
  } catch {
    return false;
  }
}

/**
 * The smallest module that uses a relaxed-SIMD instruction: () -> v128 computing
 * i8x16.relaxed_swizzle(i8x16.splat(1), i8x16.splat(2)). A runtime validates it exactly when
 * it validates relaxed-SIMD, so the check needs none of the real builds.
 */
const RELAXED_SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
  0x0a, 0x0f, 0x01, 0x0d, 0x00, // code section: one body of 13 bytes, no locals
  0x41, 0x01, 0xfd, 0x0f, // i32.const 1, i8x16.splat
  0x41, 0x02, 0xfd, 0x0f, // i32.const 2, i8x16.splat
  0xfd, 0x80, 0x02, // i8x16.relaxed_swizzle (0xfd 0x100)
  0x0b, // end
]);

/** True when this runtime validates relaxed-SIMD (so createWasmBackend can use that build). */
export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(RELAXED_SIMD_PROBE as BufferSource);
}

/** Loads the best wasm build this runtime accepts and returns a ready backend. */
export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const shared = options.shared ?? canShare();
  if (shared && !canShare()) throw new UnsupportedError('createWasmBackend: shared memory was requested but this runtime has no SharedArrayBuffer (a browser page must be cross-origin isolated)');
  const want = options.simd ?? 'auto';
  if (want !== 'auto' && want !== 'simd128' && want !== 'relaxed') {
    throw new ArgumentError(`createWasmBackend: simd must be 'auto', 'simd128' or 'relaxed', got '${String(want)}'`);
  }
  const relaxedOk = relaxedSimdSupported();
  if (want === 'relaxed' && !relaxedOk) {
    throw new UnsupportedError('createWasmBackend: relaxed-SIMD was requested but this runtime does not validate it (Node 20 needs --experimental-wasm-relaxed-simd)');
  }
  const relaxed = want === 'relaxed' || (want === 'auto' && relaxedOk);
  const bytes = await loadWasmBuild(relaxed, shared);
  if (!WebAssembly.validate(bytes as BufferSource)) {
    throw new UnsupportedError('createWasmBackend: this runtime does not support WebAssembly SIMD128');
  }
  const initialPages = Math.max(1, Math.ceil((options.initialBytes ?? 16 * 1024 * 1024) / PAGE));
  const memory = new WebAssembly.Memory({ initial: initialPages, maximum: 65536, shared });
  const module = await WebAssembly.compile(bytes as BufferSource);
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const exports = instance.exports as unknown as WasmExports;
  const threads = options.threads === undefined ? await defaultThreads() : checkThreads('createWasmBackend', options.threads);
  // Threads need a shared memory and a Worker API; otherwise one thread, reported in features.
  const api: ThreadApi = shared
    ? await detectThreadApi()
    : options.shared === false
      ? { kind: 'none', why: 'the memory is not shared (shared: false)' }
      : { kind: 'none', why: 'SharedArrayBuffer is not available (a browser page must be cross-origin isolated: COOP same-origin + COEP require-corp)' };
  const ctrl = api.kind === 'none' ? 0 : exports.heap_base();
  const backend = new WasmBackend(exports, memory, { relaxed, shared, heapBase: ctrl ? ctrl + CONTROL_BYTES : exports.heap_base() });
  if (api.kind === 'none') backend.threadsUnavailable = api.why;
  else {
    backend.attachPool(await ThreadPool.create(api, module, memory, exports, ctrl, 0));
    await backend.setNumThreads(threads);
  }
  return backend;
}

/**
 * matmul's wasm form: the shared validator has checked A, B and out; a prepacked B is this
 * backend's own layout, so its size (prepackedElements(k, n)) and overlap with out are
 * checked here before the kernel reads it.
 */
function matmul(ctx: WasmContext, p: B.MatmulParams): void {
  if (p.bPacked) {
    const count = mm.prepackedElements(ctx, p.k, p.n);
    val.checkDense('wasm', p.bPacked, count, 'matmul bPacked');
    val.checkNoOverlap(p.out, (p.batch ?? 1) * p.m * p.n, p.bPacked, count, 'matmul (bPacked)');
  }
  mm.matmul(ctx, p);
}

/** The wasm kernels: host code per family (src/wasm/kernels/) over the module's exports. */
const KERNELS: FullKernelTable<WasmContext> = { ...kernelsOf(ew, red, norm, sel, attn, opt, qmm, qemb), matmul };

/** The kernel methods `bindKernels` installs from KERNELS (every kernel, fused ones included). */
export interface WasmBackend extends AllKernels {}

/** WebAssembly SIMD backend: one linear memory, TS-side allocator, AssemblyScript kernels. */
export class WasmBackend implements Backend {
  readonly name = 'wasm';
  readonly maxBytes = MAX_WASM_BYTES;
  readonly features: Features;
  /** int8 activations pay in qmatmul up to QMATMUL_INT8_ROWS rows (see there). */
  readonly kernelPolicy: Partial<KernelPolicy> = { qmatmulInt8Rows: QMATMUL_INT8_ROWS };
  /** Kernel context (exports, memory views, scratch); public for kernel families and tests. */
  readonly ctx: WasmContext;
  readonly memory: WebAssembly.Memory;
  private nextId = 1;
  private live = new Set<WasmStorage>();
  private untrack: (() => void) | null = null;
  private wantThreads = 1;
  /** Why this backend cannot run more threads (null when it can): no shared memory, no Worker API, a worker that failed to start. */
  threadsUnavailable: string | null = null;

  /**
   * Use createWasmBackend. `heapBase`: first byte the allocator may hand out (past the
   * module's static data and, with threads, the pool's control block); default heap_base().
   */
  constructor(exports: WasmExports, memory: WebAssembly.Memory, mode: { relaxed: boolean; shared: boolean; heapBase?: number }) {
    this.memory = memory;
    const allocator = new Allocator(
      { byteLength: () => memory.buffer.byteLength, grow: (pages) => void memory.grow(pages) },
      Math.ceil((mode.heapBase ?? exports.heap_base()) / ALIGN) * ALIGN,
    );
    this.ctx = new WasmContext(exports, memory, allocator);
    this.features = { simd: true, relaxedSimd: mode.relaxed, threads: false, numThreads: 1, f16: false, syncRead: true };
    bindKernels(this, this.ctx, KERNELS);
  }

  /** Gives the backend its worker pool (createWasmBackend does this). */
  attachPool(pool: ThreadPool): void {
    this.ctx.pool = pool;
    this.untrack = track(this);
  }

  /**
   * Sets the threads this backend's kernels use, the caller included. Lowering takes effect
   * at once; raising starts workers and takes effect as they come up (the promise resolves
   * when all have). Without a pool (plain memory, no Worker API) it stays at one thread.
   */
  async setNumThreads(n: number): Promise<void> {
    this.wantThreads = checkThreads('setNumThreads', n);
    const pool = this.ctx.pool;
    if (!pool) return;
    this.useThreads(Math.min(n, pool.size + 1));
    if (pool.size + 1 < n) {
      try {
        await pool.grow(n - 1);
      } catch (e) {
        // No more workers (the runtime refused one): keep the ones running.
        this.threadsUnavailable = e instanceof Error ? e.message : String(e);
      }
      // A later call may have asked for fewer meanwhile: its count wins.
      if (this.ctx.pool === pool) this.useThreads(Math.min(this.wantThreads, pool.size + 1));
    }
  }

  private useThreads(n: number): void {
    this.ctx.threads = n;
    this.features.threads = n > 1;
    this.features.numThreads = n;
  }

  /**
   * Terminates the worker pool. The backend stays usable, on the calling thread only
   * (storage and memory are untouched; free them as usual).
   */
  dispose(): void {
    this.ctx.pool?.dispose();
    this.ctx.pool = null;
    this.threadsUnavailable = 'the worker pool was disposed';
    this.useThreads(1);
    this.untrack?.();
    this.untrack = null;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  alloc(bytes: number): Storage {
    const rounded = Math.ceil(bytes / 4) * 4;
    const ptr = this.ctx.allocator.alloc(rounded);
    const s = new WasmStorage(this.nextId++, rounded, ptr);
    this.live.add(s);
    return s;
  }

  free(storage: Storage): void {
    val.checkStorage(this.name, storage, 'free');
    const s = storage as WasmStorage;
    this.ctx.allocator.release(s.ptr);
    s.freed = true;
    this.live.delete(s);
  }

  write(storage: Storage, data: Float32Array | Int32Array, offset = 0): void {
    val.checkDense(this.name, { storage, offset }, data.length, 'write');
    if (!(data instanceof Float32Array) && !(data instanceof Int32Array)) {
      throw new ArgumentError(`write: expected a Float32Array or Int32Array, got ${Object.prototype.toString.call(data)}`);
    }
    // Division, not >> 2: an address past 2 GiB would turn negative as an i32.
    const base = (storage as WasmStorage).ptr / 4 + offset;
    if (data instanceof Int32Array) this.ctx.heapI32().set(data, base);
    else this.ctx.heapF32().set(data, base);
  }

  readSync<D extends DType>(storage: Storage, dtype: D, offset = 0, length?: number): ArrayFor<D> {
    const n = length ?? Math.floor(storage.bytes / 4) - offset;
    val.checkDense(this.name, { storage, offset }, n, 'read');
    const base = (storage as WasmStorage).ptr / 4 + offset;
    const heap = dtype === 'i32' ? this.ctx.heapI32() : this.ctx.heapF32();
    return heap.slice(base, base + n) as ArrayFor<D>;
  }

  async read<D extends DType>(storage: Storage, dtype: D, offset = 0, length?: number): Promise<ArrayFor<D>> {
    return this.readSync(storage, dtype, offset, length);
  }

  async sync(): Promise<void> {}

  memoryInfo() {
    return { allocatedBytes: this.ctx.allocator.allocated, liveStorages: this.live.size, heapBytes: this.memory.buffer.byteLength };
  }

  prepackMatmulB(p: B.PrepackMatmulBParams): void {
    val.checkCount(p.k, 'prepackMatmulB k');
    val.checkCount(p.n, 'prepackMatmulB n');
    val.checkDense(this.name, p.b, p.k * p.n, 'prepackMatmulB b');
    const count = mm.prepackedElements(this.ctx, p.k, p.n);
    val.checkDense(this.name, p.out, count, 'prepackMatmulB out');
    val.checkNoOverlap(p.out, count, p.b, p.k * p.n, 'prepackMatmulB');
    mm.prepackB(this.ctx, p);
  }
  prepackedMatmulBElements(k: number, n: number): number {
    val.checkCount(k, 'prepackedMatmulBElements k');
    val.checkCount(n, 'prepackedMatmulBElements n');
    return mm.prepackedElements(this.ctx, k, n);
  }
}
