import type { AllKernels, ArrayFor, Backend, DType, Features, KernelPolicy, Storage } from '../backend.js';
import { ArgumentError, DisposedError, OutOfMemoryError } from '../errors.js';
import { bindKernels, kernelsOf, type FullKernelTable } from '../kernel-table.js';
import { QMATMUL_INT8_ROWS } from '../quant.js';
import * as val from '../validate.js';
import * as attn from './attention.js';
import * as ew from './elementwise.js';
import * as mm from './matmul.js';
import * as norm from './norm.js';
import * as opt from './optim.js';
import * as qmm from './qmatmul.js';
import * as qemb from './qembedding.js';
import * as red from './reduce.js';
import * as sel from './select.js';
import type { Views } from './views.js';

class RefStorage implements Storage {
  readonly backend = 'reference';
  freed = false;
  constructor(
    readonly id: number,
    readonly bytes: number,
    public f32: Float32Array,
    public i32: Int32Array,
  ) {}
}

/** Largest single allocation the reference backend accepts (an ArrayBuffer limit in practice). */
const MAX_BYTES = 2 ** 32;

/** Options for the reference backend. */
export interface ReferenceBackendOptions {
  /**
   * Store 'f32' data as float64 (for gradient checks by finite differences in
   * float64). In this mode f32 and i32 contents live in separate arrays, so
   * bit-reinterpreting a storage across dtypes is not supported.
   */
  float64?: boolean;
}

/** The reference kernels, one module per family; each reads and writes storage through the backend's typed-array views. */
const KERNELS: FullKernelTable<Views> = kernelsOf(mm, ew, red, norm, sel, attn, opt, qmm, qemb);

/** The kernel methods `bindKernels` installs from KERNELS (every kernel, fused ones included). */
export interface ReferenceBackend extends AllKernels {}

/**
 * Plain-TypeScript backend: obviously correct, float64 accumulation, slow.
 * The oracle every other backend is tested against.
 */
export class ReferenceBackend implements Backend, Views {
  readonly name = 'reference';
  readonly maxBytes = MAX_BYTES;
  readonly features: Features = { simd: false, relaxedSimd: false, threads: false, numThreads: 1, f16: false, syncRead: true };
  /** The wasm backend's int8-activation rows, so the oracle picks the modes wasm does. */
  readonly kernelPolicy: Partial<KernelPolicy> = { qmatmulInt8Rows: QMATMUL_INT8_ROWS };
  /** True when f32 data is held in float64 (see ReferenceBackendOptions). */
  readonly float64: boolean;
  private nextId = 1;
  private live = new Set<RefStorage>();
  private allocated = 0;

  constructor(options: ReferenceBackendOptions = {}) {
    this.float64 = options.float64 ?? false;
    bindKernels(this, this, KERNELS);
  }

  alloc(bytes: number): Storage {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new ArgumentError(`alloc: byte count must be a non-negative integer, got ${bytes}`);
    if (bytes > MAX_BYTES) throw new OutOfMemoryError(`alloc: ${bytes} bytes exceeds the reference backend's ${MAX_BYTES}-byte limit`);
    const rounded = Math.ceil(bytes / 4) * 4;
    let s: RefStorage;
    if (this.float64) {
      // Float64Array stands in for the f32 view: kernels only index it, so they compute in float64 throughout.
      s = new RefStorage(this.nextId++, rounded, new Float64Array(rounded / 4) as unknown as Float32Array, new Int32Array(rounded / 4));
    } else {
      const buf = new ArrayBuffer(rounded);
      s = new RefStorage(this.nextId++, rounded, new Float32Array(buf), new Int32Array(buf));
    }
    this.live.add(s);
    this.allocated += rounded;
    return s;
  }

  free(storage: Storage): void {
    val.checkStorage(this.name, storage, 'free');
    const s = storage as RefStorage;
    s.freed = true;
    this.live.delete(s);
    this.allocated -= s.bytes;
    s.f32 = new Float32Array(0);
    s.i32 = new Int32Array(0);
  }

  write(storage: Storage, data: Float32Array | Int32Array | Float64Array, offset = 0): void {
    val.checkDense(this.name, { storage, offset }, data.length, 'write');
    const s = storage as RefStorage;
    if (data instanceof Int32Array) s.i32.set(data, offset);
    else if (data instanceof Float32Array || (this.float64 && data instanceof Float64Array)) s.f32.set(data, offset);
    else throw new ArgumentError(`write: expected a Float32Array or Int32Array, got ${Object.prototype.toString.call(data)}`);
  }

  /** Reads f32 data at full precision (float64 mode); in f32 mode the values are exact f32 widened. */
  readF64(storage: Storage, offset = 0, length?: number): Float64Array {
    const n = length ?? Math.floor(storage.bytes / 4) - offset;
    val.checkDense(this.name, { storage, offset }, n, 'read');
    return Float64Array.from((storage as RefStorage).f32.subarray(offset, offset + n));
  }

  readSync<D extends DType>(storage: Storage, dtype: D, offset = 0, length?: number): ArrayFor<D> {
    const n = length ?? Math.floor(storage.bytes / 4) - offset;
    val.checkDense(this.name, { storage, offset }, n, 'read');
    const s = storage as RefStorage;
    if (dtype === 'i32') return s.i32.slice(offset, offset + n) as ArrayFor<D>;
    return Float32Array.from(s.f32.subarray(offset, offset + n)) as ArrayFor<D>;
  }

  async read<D extends DType>(storage: Storage, dtype: D, offset = 0, length?: number): Promise<ArrayFor<D>> {
    return this.readSync(storage, dtype, offset, length);
  }

  async sync(): Promise<void> {}

  memoryInfo() {
    return { allocatedBytes: this.allocated, liveStorages: this.live.size, heapBytes: this.allocated };
  }

  f32(s: Storage): Float32Array {
    if (s.freed) throw new DisposedError(`storage #${s.id} was already freed`);
    return (s as RefStorage).f32;
  }

  i32(s: Storage): Int32Array {
    if (s.freed) throw new DisposedError(`storage #${s.id} was already freed`);
    return (s as RefStorage).i32;
  }
}
