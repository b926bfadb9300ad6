// Twin storage on the reference backend and a device-under-test backend (the wasm backend in
// packages/core, the WebGPU backend in packages/webgpu), so that one params builder can run a
// kernel on both and the results can be compared. The conformance suites in this folder take
// a Twin and so run unchanged against either backend.
//
// Only types are imported from ../../src: packages/webgpu runs these files against
// @tessera/core's build, whose classes (errors in particular) are not those of src. Each
// package hands its own error classes in (`errors`), the ones its backends throw.
import type { ArrayFor, Backend, DType, Dense, Storage } from '../../src/backend.js';
import type * as ErrorModule from '../../src/errors.js';

/** The error classes the twin's backends throw (@tessera/core's errors module as that package loads it). */
export type ErrorClasses = Pick<typeof ErrorModule, 'ArgumentError' | 'BoundsError' | 'DisposedError' | 'IndexError' | 'ShapeError'>;

/** One operand living in both backends: same contents, same element offset. */
export interface TwinBuf {
  ref: Storage;
  dev: Storage;
  offset: number;
  length: number;
}

/** Which side a params builder is asked for: the reference or the device under test. */
export type Side = 'ref' | 'dev';

/** Mirrored storage on the reference backend and the device under test. */
export class Twin<D extends Backend = Backend> {
  constructor(
    /** The reference backend. */
    readonly ref: Backend,
    /** The backend under test. */
    readonly dev: D,
    /** The error classes both backends throw. */
    readonly errors: ErrorClasses,
  ) {}

  /**
   * Uploads `data` at element `offset` of a fresh storage with `pad` spare elements after
   * it; the spare and leading elements are filled with a sentinel so stray writes show.
   */
  upload(data: Float32Array | Int32Array, offset = 0, pad = 3): TwinBuf {
    const total = offset + data.length + pad;
    const buf: TwinBuf = { ref: this.ref.alloc(total * 4), dev: this.dev.alloc(total * 4), offset, length: data.length };
    const fillV = data instanceof Int32Array ? new Int32Array(total).fill(-777) : new Float32Array(total).fill(-777.5);
    for (const [be, s] of [[this.ref, buf.ref], [this.dev, buf.dev]] as const) {
      be.write(s, fillV);
      be.write(s, data, offset);
    }
    return buf;
  }

  /** An f32 buffer of n elements filled with a sentinel (for outputs). */
  empty(n: number, offset = 0, pad = 3): TwinBuf {
    return this.upload(new Float32Array(n).fill(-999.25), offset, pad);
  }

  /** The Dense operand of `b` on `side`. */
  d(b: TwinBuf, side: Side, offset = b.offset): Dense {
    return { storage: side === 'ref' ? b.ref : b.dev, offset };
  }

  /** Runs the same call on both backends; `call` builds the params for the side it is given. */
  run(call: (be: Backend, side: Side) => void): void {
    call(this.ref, 'ref');
    call(this.dev, 'dev');
  }

  /**
   * Reads a storage of the device under test: readSync where the backend has synchronous
   * reads (wasm), otherwise `await read` (WebGPU, which also surfaces queued errors there).
   */
  async readDev<T extends DType>(storage: Storage, dtype: T, offset?: number, length?: number): Promise<ArrayFor<T>> {
    if (this.dev.features.syncRead) return this.dev.readSync(storage, dtype, offset, length);
    return this.dev.read(storage, dtype, offset, length);
  }

  /** Reads a whole storage (including padding) from both sides. */
  async readAll<T extends DType>(b: TwinBuf, dtype: T): Promise<{ ref: ArrayFor<T>; dev: ArrayFor<T> }> {
    return {
      ref: this.ref.readSync(b.ref, dtype),
      dev: await this.readDev(b.dev, dtype),
    };
  }

  /** Frees both sides. */
  free(...bufs: TwinBuf[]): void {
    for (const b of bufs) {
      this.ref.free(b.ref);
      this.dev.free(b.dev);
    }
  }
}
