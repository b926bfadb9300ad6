/**
 * GPUBuffer pool. Buffers are created in size classes (four per octave, so at
 * most 25% slack) and returned to a free list when their storage is freed, so a
 * training loop that allocates the same shapes every step creates no new
 * buffers after the first one. Free buffers beyond `limitBytes` are destroyed.
 */

const MIN_CLASS = 256;

/** The buffer size used for a request of `bytes` bytes. */
export function sizeClass(bytes: number): number {
  const b = Math.max(MIN_CLASS, bytes);
  const octave = 2 ** Math.floor(Math.log2(b));
  const step = Math.max(16, octave / 4);
  return Math.ceil(b / step) * step;
}

export const STORAGE_USAGE = 0x80 | 0x4 | 0x8; // STORAGE | COPY_SRC | COPY_DST
export const STAGING_USAGE = 0x1 | 0x8; // MAP_READ | COPY_DST

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  /** Bytes of buffers sitting in the free lists. */
  pooledBytes = 0;
  /** Bytes of buffers handed out and not yet released. */
  usedBytes = 0;
  /** Buffers created over the pool's life (tests check reuse with it). */
  created = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: number,
    private readonly label: string,
    /** Keep at most this many free bytes; the rest is destroyed. */
    public limitBytes: number,
    /** Destroys a buffer once no encoded-but-unsubmitted command can still use it. */
    private readonly destroy: (b: GPUBuffer) => void,
  ) {}

  /** A buffer of at least `bytes` bytes (its size is the size class). */
  acquire(bytes: number): GPUBuffer {
    const size = sizeClass(bytes);
    const list = this.free.get(size);
    let buf = list?.pop();
    if (buf) {
      this.pooledBytes -= size;
    } else {
      buf = this.device.createBuffer({ size, usage: this.usage, label: `${this.label} ${size}` });
      this.created++;
    }
    this.usedBytes += size;
    return buf;
  }

  /** Returns a buffer from `acquire` to the pool (or destroys it when the pool is full). */
  release(buf: GPUBuffer): void {
    const size = buf.size;
    this.usedBytes -= size;
    if (this.pooledBytes + size > this.limitBytes) {
      this.destroy(buf);
      return;
    }
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(buf);
    this.pooledBytes += size;
  }

  /** Destroys every free buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) this.destroy(b);
    this.free.clear();
    this.pooledBytes = 0;
  }
}
