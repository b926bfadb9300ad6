import { ArgumentError, OutOfMemoryError } from '../errors.js';

/** WebAssembly page size in bytes. */
export const PAGE = 65536;
/** wasm32 address space: 65536 pages. */
export const MAX_WASM_BYTES = 4 * 1024 * 1024 * 1024;
/** Every block starts on a cache line, which also satisfies v128 alignment. */
export const ALIGN = 64;

/** The slice of WebAssembly.Memory the allocator needs (a fake in tests). */
export interface GrowableMemory {
  /** Current size in bytes. */
  byteLength(): number;
  /** Grows by `pages` pages; throws (RangeError) if the engine refuses. */
  grow(pages: number): void;
}

interface Block {
  start: number;
  size: number;
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * First-fit free-list allocator over one linear memory, kept on the TS side so
 * kernels never allocate. Freed blocks are coalesced with their neighbours and
 * reused; the break (`top`) only moves down when the last block is freed, and
 * memory grows (at least doubling) only when no free block fits.
 */
export class Allocator {
  private free: Block[] = [];
  private used = new Map<number, number>();
  private top: number;
  private allocatedBytes = 0;

  constructor(
    private readonly memory: GrowableMemory,
    /** First usable byte (past the module's static data). */
    base: number,
    private readonly limit = MAX_WASM_BYTES,
  ) {
    this.top = alignUp(base, ALIGN);
  }

  /** Bytes currently handed out (after alignment). */
  get allocated(): number {
    return this.allocatedBytes;
  }

  /** Number of live blocks. */
  get liveBlocks(): number {
    return this.used.size;
  }

  /** End of the highest block ever in use now: what the heap really needs. */
  get highWater(): number {
    return this.top;
  }

  /** Returns the byte address of a fresh block of at least `bytes` bytes, ALIGN-aligned. */
  alloc(bytes: number): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new ArgumentError(`alloc: byte count must be a non-negative integer, got ${bytes}`);
    const size = alignUp(Math.max(bytes, 1), ALIGN);
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i];
      if (b.size < size) continue;
      const start = b.start;
      if (b.size === size) this.free.splice(i, 1);
      else {
        b.start += size;
        b.size -= size;
      }
      return this.take(start, size);
    }
    const start = this.top;
    const end = start + size;
    if (end > this.limit) {
      throw new OutOfMemoryError(
        `alloc: ${bytes} bytes cannot fit: the heap would end at byte ${end}, past the ${this.limit}-byte wasm32 limit (${this.allocatedBytes} bytes live in ${this.used.size} blocks)`,
      );
    }
    this.ensure(end);
    this.top = end;
    return this.take(start, size);
  }

  /** Releases the block at `ptr`; throws if `ptr` is not a live block. */
  release(ptr: number): void {
    const size = this.used.get(ptr);
    if (size === undefined) throw new ArgumentError(`free: byte address ${ptr} is not a live allocation`);
    this.used.delete(ptr);
    this.allocatedBytes -= size;
    let block: Block = { start: ptr, size };
    // Binary search for the insertion point, then coalesce with both neighbours.
    let lo = 0;
    let hi = this.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.free[mid].start < ptr) lo = mid + 1;
      else hi = mid;
    }
    const prev = this.free[lo - 1];
    const next = this.free[lo];
    if (prev && prev.start + prev.size === block.start) {
      prev.size += block.size;
      block = prev;
      lo--;
    } else {
      this.free.splice(lo, 0, block);
    }
    if (next && block.start + block.size === next.start) {
      block.size += next.size;
      this.free.splice(lo + 1, 1);
    }
    // A free block that reaches the break gives its space back to the break.
    if (block.start + block.size === this.top) {
      this.top = block.start;
      this.free.splice(lo, 1);
    }
  }

  /** Size in bytes of the live block at `ptr` (undefined if none). */
  sizeOf(ptr: number): number | undefined {
    return this.used.get(ptr);
  }

  private take(start: number, size: number): number {
    this.used.set(start, size);
    this.allocatedBytes += size;
    return start;
  }

  private ensure(end: number): void {
    const have = this.memory.byteLength();
    if (end <= have) return;
    const needPages = Math.ceil((end - have) / PAGE);
    const maxPages = Math.floor((this.limit - have) / PAGE);
    // Double (up to 256 MiB at a time) so a run of allocations costs O(log n) grows.
    const pages = Math.min(Math.max(needPages, Math.min(Math.ceil(have / PAGE), 4096)), maxPages);
    try {
      this.memory.grow(pages);
    } catch (e) {
      try {
        this.memory.grow(needPages);
      } catch {
        throw new OutOfMemoryError(
          `alloc: could not grow wasm memory from ${have} to ${end} bytes (${(e as Error).message}); ${this.allocatedBytes} bytes live in ${this.used.size} blocks`,
        );
      }
    }
  }
}
