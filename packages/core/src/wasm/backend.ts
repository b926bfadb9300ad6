import type * as B from '../backend.js';
import type { ArrayFor, Backend, DType, Features, Storage } from '../backend.js';
import { ArgumentError, UnsupportedError } from '../errors.js';
import * as val from '../validate.js';
import { ALIGN, Allocator, PAGE } from './allocator.js';
import { WasmContext, WasmStorage, type KernelFn } from './context.js';
import { CONTROL_BYTES, ThreadPool, detectThreadApi, type ThreadApi } from './pool.js';
import { checkThreads, defaultThreads, track } from './threads.js';
import * as attn from './kernels/attention.js';
import * as ew from './kernels/elementwise.js';
import * as mm from './kernels/matmul.js';
import * as norm from './kernels/norm.js';
import * as opt from './kernels/optim.js';
import * as red from './kernels/reduce.js';
import * as sel from './kernels/select.js';
import { SIMD_PLAIN, SIMD_SHARED, RELAXED_PLAIN, RELAXED_SHARED } from '../generated/wasm-modules.js';

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

/** True when this runtime validates the relaxed-SIMD build. */
export function relaxedSimdSupported(): boolean {
  return WebAssembly.validate(decode(RELAXED_PLAIN) as BufferSource);
}

/** Loads the best wasm build this runtime accepts and returns a ready backend. */
export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<WasmBackend> {
  const shared = options.shared ?? canShare();
  if (shared && !canShare()) throw new UnsupportedError('createWasmBackend: shared memory was requested but this runtime has no SharedArrayBuffer (a browser page must be cross-origin isolated)');
  const want = options.simd ?? 'auto';
  const relaxedBytes = decode(shared ? RELAXED_SHARED : RELAXED_PLAIN);
  const simdBytes = decode(shared ? SIMD_SHARED : SIMD_PLAIN);
  const relaxedOk = WebAssembly.validate(relaxedBytes as BufferSource);
  if (want === 'relaxed' && !relaxedOk) {
    throw new UnsupportedError('createWasmBackend: relaxed-SIMD was requested but this runtime does not validate it (Node 20 needs --experimental-wasm-relaxed-simd)');
  }
  const relaxed = want === 'relaxed' || (want === 'auto' && relaxedOk);
  const bytes = relaxed ? relaxedBytes : simdBytes;
  if (!WebAssembly.validate(bytes as BufferSource)) {
    throw new UnsupportedError('createWasmBackend: this runtime does not support WebAssembly SIMD128');
  }
  const initialPages = Math.max(1, Math.ceil((options.initialBytes ?? 16 * 1024 * 1024) / PAGE));
  const memory = new WebAssembly.Memory({ initial: initialPages, maximum: 65536, shared });
  const module = await WebAssembly.compile(bytes as BufferSource);
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  const exports = instance.exports as unknown as Record<string, KernelFn>;
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

/** WebAssembly SIMD backend: one linear memory, TS-side allocator, AssemblyScript kernels. */
export class WasmBackend implements Backend {
  readonly name = 'wasm';
  readonly features: Features;
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
  constructor(exports: Record<string, KernelFn>, memory: WebAssembly.Memory, mode: { relaxed: boolean; shared: boolean; heapBase?: number }) {
    this.memory = memory;
    const allocator = new Allocator(
      { byteLength: () => memory.buffer.byteLength, grow: (pages) => void memory.grow(pages) },
      Math.ceil((mode.heapBase ?? exports.heap_base()) / ALIGN) * ALIGN,
    );
    this.ctx = new WasmContext(exports, memory, allocator);
    this.features = { simd: true, relaxedSimd: mode.relaxed, threads: false, numThreads: 1, f16: false, syncRead: true };
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
    const base = ((storage as WasmStorage).ptr >> 2) + offset;
    if (data instanceof Int32Array) this.ctx.heapI32().set(data, base);
    else this.ctx.heapF32().set(data, base);
  }

  readSync<D extends DType>(storage: Storage, dtype: D, offset = 0, length?: number): ArrayFor<D> {
    const n = length ?? Math.floor(storage.bytes / 4) - offset;
    val.checkDense(this.name, { storage, offset }, n, 'read');
    const base = ((storage as WasmStorage).ptr >> 2) + offset;
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

  matmul(p: B.MatmulParams): void {
    val.validateMatmul(this.name, p);
    if (p.bPacked) {
      const count = mm.prepackedElements(this.ctx, p.k, p.n);
      val.checkDense(this.name, p.bPacked, count, 'matmul bPacked');
      val.checkNoOverlap(p.out, (p.batch ?? 1) * p.m * p.n, p.bPacked, count, 'matmul (bPacked)');
    }
    mm.matmul(this.ctx, p);
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
  unary(p: B.UnaryParams): void {
    val.validateUnary(this.name, p);
    ew.unary(this.ctx, p);
  }
  binary(p: B.BinaryParams): void {
    val.validateBinary(this.name, p);
    ew.binary(this.ctx, p);
  }
  where(p: B.WhereParams): void {
    val.validateWhere(this.name, p);
    ew.where(this.ctx, p);
  }
  copy(p: B.CopyParams): void {
    val.validateCopy(this.name, p);
    ew.copy(this.ctx, p);
  }
  cast(p: B.CastParams): void {
    val.validateCast(this.name, p);
    ew.cast(this.ctx, p);
  }
  fill(p: B.FillParams): void {
    val.validateFill(this.name, p);
    ew.fill(this.ctx, p);
  }
  random(p: B.RandomParams): void {
    val.validateRandom(this.name, p);
    ew.random(this.ctx, p);
  }
  reduce(p: B.ReduceParams): void {
    val.validateReduce(this.name, p);
    red.reduce(this.ctx, p);
  }
  softmax(p: B.SoftmaxParams): void {
    val.validateSoftmax(this.name, p);
    red.softmax(this.ctx, p);
  }
  softmaxBackward(p: B.SoftmaxBackwardParams): void {
    val.validateSoftmaxBackward(this.name, p);
    red.softmaxBackward(this.ctx, p);
  }
  layerNorm(p: B.LayerNormParams): void {
    val.validateLayerNorm(this.name, p);
    norm.layerNorm(this.ctx, p);
  }
  layerNormBackward(p: B.LayerNormBackwardParams): void {
    val.validateLayerNormBackward(this.name, p);
    norm.layerNormBackward(this.ctx, p);
  }
  geluBackward(p: B.GeluBackwardParams): void {
    val.validateGeluBackward(this.name, p);
    ew.geluBackward(this.ctx, p);
  }
  indexSelect(p: B.IndexSelectParams): void {
    val.validateIndexSelect(this.name, p);
    sel.indexSelect(this.ctx, p);
  }
  indexAdd(p: B.IndexAddParams): void {
    val.validateIndexAdd(this.name, p);
    sel.indexAdd(this.ctx, p);
  }
  gather(p: B.GatherParams): void {
    val.validateGather(this.name, p);
    sel.gather(this.ctx, p);
  }
  scatterAdd(p: B.ScatterAddParams): void {
    val.validateScatterAdd(this.name, p);
    sel.scatterAdd(this.ctx, p);
  }
  crossEntropy(p: B.CrossEntropyParams): void {
    val.validateCrossEntropy(this.name, p);
    sel.crossEntropy(this.ctx, p);
  }
  crossEntropyBackward(p: B.CrossEntropyBackwardParams): void {
    val.validateCrossEntropyBackward(this.name, p);
    sel.crossEntropyBackward(this.ctx, p);
  }
  attention(p: B.AttentionParams): void {
    val.validateAttention(this.name, p);
    attn.attention(this.ctx, p);
  }
  attentionBackward(p: B.AttentionBackwardParams): void {
    val.validateAttentionBackward(this.name, p);
    attn.attentionBackward(this.ctx, p);
  }
  sgdStep(p: B.SgdParams): void {
    val.validateSgd(this.name, p);
    opt.sgdStep(this.ctx, p);
  }
  adamStep(p: B.AdamParams): void {
    val.validateAdam(this.name, p);
    opt.adamStep(this.ctx, p);
  }
}
