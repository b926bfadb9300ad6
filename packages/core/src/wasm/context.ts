import type { Dense, Storage } from '../backend.js';
import { DisposedError } from '../errors.js';
import type { Views } from '../reference/views.js';
import type { WasmExportName, WasmExports } from '../generated/wasm-exports.js';
import type { Allocator } from './allocator.js';
import { MAX_CHUNKS, type ThreadPool } from './pool.js';

/**
 * A kernel export called with an argument list built at run time (a chunk of a split call):
 * byte addresses and sizes in, an optional i32 out. Direct calls go through the typed
 * `WasmExports` instead.
 */
export type KernelFn = (...args: number[]) => number | void;

/** Storage on the wasm backend: a block of the shared linear memory. */
export class WasmStorage implements Storage {
  readonly backend = 'wasm';
  freed = false;
  constructor(
    readonly id: number,
    readonly bytes: number,
    readonly ptr: number,
  ) {}
}

/**
 * What a kernel family's host code needs: the module's exports, byte addresses
 * of operands, fresh typed views over memory (refreshed after growth) and
 * reusable scratch blocks. Also serves as `Views` so a reference kernel can run
 * directly over wasm memory.
 */
export class WasmContext implements Views {
  private f32View = new Float32Array(0);
  private i32View = new Int32Array(0);
  private scratchBlocks = new Map<string, { ptr: number; bytes: number }>();
  /** Worker pool over this memory (null: every kernel runs on the calling thread). */
  pool: ThreadPool | null = null;
  /** Threads a kernel may use now, the caller included (1 + at most pool.size). */
  threads = 1;
  /**
   * Split every splittable call over all `threads`, ignoring the measured thresholds.
   * For tests (partition code on small odd sizes) and benchmarks/threads-crossover.mjs.
   */
  splitAlways = false;

  constructor(
    readonly exports: WasmExports,
    readonly memory: WebAssembly.Memory,
    readonly allocator: Allocator,
  ) {}

  /**
   * Threads to use for `work` units (elements, rows x cols, flops: the family decides) when
   * splitting pays off from `minWork` units on (the measured two-thread crossover): none
   * below it, and then no thread with less than half of it. At most `parts` threads (the
   * number of independent pieces the problem has).
   */
  threadsFor(work: number, minWork: number, parts = Infinity): number {
    const cap = Math.min(this.threads, parts);
    if (cap <= 1) return 1;
    if (this.splitAlways) return cap;
    if (work < minWork) return 1;
    return Math.max(1, Math.min(cap, Math.floor((2 * work) / minWork)));
  }

  /**
   * Calls export `name` once per chunk (argument list) on `threads` threads and returns
   * when all are done; a thread appends tail(t) (its own scratch, t = 0 for the caller) to
   * every chunk it runs. One chunk is a plain call on this thread.
   */
  run(name: WasmExportName, chunks: readonly (readonly number[])[], threads: number, tail?: (t: number) => readonly number[]): void {
    if (chunks.length === 1 || threads === 1 || !this.pool) {
      const own = tail ? tail(0) : [];
      const call = this.exports[name] as KernelFn;
      for (const args of chunks) call(...args, ...own);
    } else this.pool.run(name, chunks, threads, tail);
  }

  /** run() over a split: one chunk per range, its arguments from args(start, count). */
  runSplit(name: WasmExportName, split: Split, args: (start: number, count: number) => readonly number[], tail?: (t: number) => readonly number[]): void {
    this.run(name, split.ranges.map(([start, count]) => args(start, count)), split.threads, tail);
  }

  /** Byte address of a dense operand's first element. */
  addr(d: Dense): number {
    return (d.storage as WasmStorage).ptr + d.offset * 4;
  }

  /** Float32 view over the whole memory (index = byte address / 4). */
  heapF32(): Float32Array {
    this.refresh();
    return this.f32View;
  }

  /** Int32 view over the whole memory (index = byte address / 4). */
  heapI32(): Int32Array {
    this.refresh();
    return this.i32View;
  }

  /** Float32 view of one storage, index 0 = its first element. */
  f32(s: Storage): Float32Array {
    const w = this.live(s);
    return new Float32Array(this.memory.buffer, w.ptr, w.bytes / 4);
  }

  /** Int32 view of one storage, index 0 = its first element. */
  i32(s: Storage): Int32Array {
    const w = this.live(s);
    return new Int32Array(this.memory.buffer, w.ptr, w.bytes / 4);
  }

  /**
   * Byte address of a scratch block named `slot` of at least `bytes` bytes. The
   * block is reused across calls and only grows, so a kernel must not keep it
   * past its own call.
   */
  scratch(slot: string, bytes: number): number {
    const cur = this.scratchBlocks.get(slot);
    if (cur && cur.bytes >= bytes) return cur.ptr;
    if (cur) this.allocator.release(cur.ptr);
    const size = Math.max(bytes, cur ? cur.bytes * 2 : 0, 64);
    const ptr = this.allocator.alloc(size);
    this.scratchBlocks.set(slot, { ptr, bytes: size });
    return ptr;
  }

  /** Writes i32 values (e.g. shapes and strides) into a scratch block and returns its address. */
  params(slot: string, values: ArrayLike<number>): number {
    const ptr = this.scratch(slot, values.length * 4);
    const view = this.heapI32();
    for (let i = 0; i < values.length; i++) view[ptr / 4 + i] = values[i];
    return ptr;
  }

  private live(s: Storage): WasmStorage {
    if (s.freed) throw new DisposedError(`storage #${s.id} was already freed`);
    return s as WasmStorage;
  }

  private refresh(): void {
    const buf = this.memory.buffer;
    if (this.f32View.buffer !== buf || this.f32View.byteLength !== buf.byteLength) {
      this.f32View = new Float32Array(buf);
      this.i32View = new Int32Array(buf);
    }
  }
}

/**
 * Chunks per thread when a call is split (all families but matmul, whose parts each pack
 * their own copy of a B block). With several chunks per thread, a thread that starts late
 * (a busy machine) leaves its later chunks to the others instead of holding up the call.
 */
export const CHUNKS_PER_THREAD = 4;

/** How a call over [0, n) runs: on `threads` threads, in [start, count] `ranges`. */
export interface Split {
  threads: number;
  ranges: [number, number][];
}

/** The split of [0, n) for `threads` threads: one range, or CHUNKS_PER_THREAD per thread. */
export function chunkRanges(n: number, threads: number, align = 1): Split {
  return { threads, ranges: threads === 1 ? [[0, n]] : splitRange(n, Math.min(threads * CHUNKS_PER_THREAD, MAX_CHUNKS), align) };
}

/**
 * Splits [0, n) into at most `parts` contiguous ranges as [start, count] pairs of nearly
 * equal size, every start a multiple of `align` (so a split never lands inside a SIMD
 * vector or a shared cache line); empty ranges are left out.
 */
export function splitRange(n: number, parts: number, align = 1): [number, number][] {
  const chunk = Math.ceil(n / parts / align) * align;
  const out: [number, number][] = [];
  for (let s = 0; s < n; s += chunk) out.push([s, Math.min(chunk, n - s)]);
  return out;
}
