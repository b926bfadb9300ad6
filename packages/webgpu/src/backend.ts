/**
 * WebGPUBackend: @tessera/core's Backend on a GPUDevice. Storage is pooled
 * GPUBuffers; kernels are WGSL compute shaders (src/kernels/*, one file per
 * family) enqueued into batched command buffers. Every kernel call validates
 * its operands first with core's shared validators (so a bad call throws
 * synchronously and touches no buffer), then encodes its dispatches.
 *
 * Contracts that differ from the CPU backends (see README):
 * - `readSync` throws UnsupportedError; `read()` and `sync()` are the only ways to observe results.
 * - Out-of-range indices (indexSelect, indexAdd, gather, scatterAdd, cross-entropy targets) are
 *   found on the GPU; the kernel writes nothing and the IndexError is raised by the next
 *   `read()` or `sync()`.
 */

import {
  ArgumentError,
  OutOfMemoryError,
  UnsupportedError,
  bindKernels,
  checkDense,
  kernelsOf,
  kernelsVia,
  checkStorage,
  type AllKernels,
  type ArrayFor,
  type Backend,
  type DType,
  type Features,
  type FullKernelTable,
  type KernelName,
  type KernelPolicy,
  type Storage,
} from '@tessera/core';
import * as attn from './kernels/attention.js';
import * as ew from './kernels/elementwise.js';
import * as mm from './kernels/matmul.js';
import * as norm from './kernels/norm.js';
import * as opt from './kernels/optim.js';
import * as qmm from './kernels/qmatmul.js';
import * as qemb from './kernels/qembedding.js';
import * as red from './kernels/reduce.js';
import * as sel from './kernels/select.js';
import { IndexChecks } from './runtime/checks.js';
import { GpuContext } from './runtime/context.js';
import { GPUStorage } from './storage.js';

/** Features of the WebGPU backend: core's, plus what the adapter offers. */
export interface WebGPUFeatures extends Features {
  /** The device was created with the 'subgroups' feature. */
  subgroups: boolean;
}

/** Adapter facts recorded at creation (for logs and benchmark tables). */
export interface WebGPUAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software or otherwise fallback adapter (e.g. lavapipe, SwiftShader). */
  isFallbackAdapter: boolean;
}

/** Construction options that WebGPUBackend takes from `webgpu()`. */
export interface WebGPUBackendInit {
  /** The GPU object the adapter came from; Dawn's instance lives only while it is referenced. */
  gpu?: GPU;
  device: GPUDevice;
  adapterInfo: WebGPUAdapterInfo;
  f16: boolean;
  subgroups: boolean;
  /** Free-buffer bytes kept for reuse (default 256 MiB). */
  poolBytes?: number;
}

/** Checks queued beyond this are read back in the background (bounds the status buffers). */
const MAX_PENDING_CHECKS = 16 * 1024;

/** The GpuContext every family but select runs on. */
const gpu = (h: sel.SelectHost) => h.ctx;

/**
 * The WGSL kernels, one module per family, over the context plus the index checks (which only
 * the select family uses: it queues a status slot the next read or sync inspects).
 */
const INDEX_FAMILY = kernelsOf(sel, qemb);
const KERNELS: FullKernelTable<sel.SelectHost> = { ...kernelsVia(gpu, mm, ew, red, norm, attn, opt, qmm), ...INDEX_FAMILY };

/** The kernels that queue index checks, the select family's (afterIndexKernel bounds how many stay unread). */
const INDEX_KERNELS: ReadonlySet<KernelName> = new Set(Object.keys(INDEX_FAMILY) as KernelName[]);

/** The kernel methods `bindKernels` installs from KERNELS (every kernel, fused ones included). */
export interface WebGPUBackend extends AllKernels {}

export class WebGPUBackend implements Backend {
  readonly name = 'webgpu';
  readonly features: WebGPUFeatures;
  /** No int8 activations: the qmatmul shaders refuse them (WGSL division is not correctly rounded, so the quantizer could not match the reference's integers). */
  readonly kernelPolicy: Partial<KernelPolicy> = { qmatmulInt8Rows: 0 };
  readonly adapterInfo: WebGPUAdapterInfo;
  readonly device: GPUDevice;
  private gpu: GPU | null;
  /** Command batching, pipelines and buffer pools (public for tests and diagnostics). */
  readonly ctx: GpuContext;
  private readonly checks: IndexChecks;
  private readonly host: sel.SelectHost;
  readonly maxBytes: number;
  private nextId = 1;
  private live = new Set<GPUStorage>();
  private allocated = 0;
  /** An IndexError found by a background check, raised at the next read/sync. */
  private deferred: Error | null = null;

  constructor(init: WebGPUBackendInit) {
    this.device = init.device;
    this.gpu = init.gpu ?? null;
    this.adapterInfo = init.adapterInfo;
    this.ctx = new GpuContext(init.device, init.poolBytes ?? 256 * 1024 * 1024);
    this.checks = new IndexChecks(this.ctx);
    this.host = { ctx: this.ctx, checks: this.checks };
    this.maxBytes = Math.min(init.device.limits.maxStorageBufferBindingSize, init.device.limits.maxBufferSize);
    this.features = { simd: false, relaxedSimd: false, threads: false, numThreads: 1, f16: init.f16, syncRead: false, subgroups: init.subgroups };
    // Every kernel first throws if the device was destroyed, and the index kernels then bound
    // the checks left unread.
    bindKernels(this, this.host, KERNELS, {
      before: (name) => this.ctx.assertAlive(name),
      after: (name) => {
        if (INDEX_KERNELS.has(name)) this.afterIndexKernel();
      },
    });
  }

  alloc(bytes: number): Storage {
    this.ctx.assertAlive('alloc');
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new ArgumentError(`alloc: byte count must be a non-negative integer, got ${bytes}`);
    const rounded = Math.ceil(bytes / 4) * 4;
    if (rounded > this.maxBytes) {
      throw new OutOfMemoryError(`alloc: ${bytes} bytes exceeds this WebGPU device's largest bindable buffer (${this.maxBytes} bytes, maxStorageBufferBindingSize)`);
    }
    const s = new GPUStorage(this.nextId++, rounded, this.ctx.storagePool.acquire(rounded));
    this.live.add(s);
    this.allocated += rounded;
    return s;
  }

  free(storage: Storage): void {
    checkStorage(this.name, storage, 'free');
    const s = storage as GPUStorage;
    s.freed = true;
    this.live.delete(s);
    this.allocated -= s.bytes;
    this.ctx.storagePool.release(s.buffer);
  }

  write(storage: Storage, data: Float32Array | Int32Array, offset = 0): void {
    this.ctx.assertAlive('write');
    checkDense(this.name, { storage, offset }, data.length, 'write');
    if (!(data instanceof Float32Array) && !(data instanceof Int32Array)) {
      throw new ArgumentError(`write: expected a Float32Array or Int32Array, got ${Object.prototype.toString.call(data)}`);
    }
    if (data.length === 0) return;
    this.ctx.writeBuffer((storage as GPUStorage).buffer, offset * 4, data);
  }

  async read<D extends DType>(storage: Storage, dtype: D, offset = 0, length?: number): Promise<ArrayFor<D>> {
    this.ctx.assertAlive('read');
    const n = length ?? Math.floor(storage.bytes / 4) - offset;
    checkDense(this.name, { storage, offset }, n, 'read');
    const ranges = n > 0 ? [{ buffer: (storage as GPUStorage).buffer, byte: offset * 4, bytes: n * 4 }] : [];
    const bytes = await this.readWithChecks(ranges, 'read');
    return (dtype === 'i32' ? new Int32Array(bytes, 0, n) : new Float32Array(bytes, 0, n)) as ArrayFor<D>;
  }

  /** Reads `ranges` (back to back) plus the pending index-check slots, then raises any error found. */
  private async readWithChecks(ranges: { buffer: GPUBuffer; byte: number; bytes: number }[], what: string): Promise<ArrayBuffer> {
    const dataBytes = ranges.reduce((s, r) => s + r.bytes, 0);
    const { ranges: statusRanges, verdict } = this.checks.take();
    const bytes = await this.ctx.readBack([...ranges, ...statusRanges]);
    this.ctx.raiseDeviceErrors(what);
    const data = bytes.slice(0, dataBytes);
    const indexError = verdict(bytes, dataBytes);
    const earlier = this.deferred;
    this.deferred = null;
    if (earlier) throw earlier;
    if (indexError) throw indexError;
    return data;
  }

  readSync<D extends DType>(storage: Storage, _dtype: D, _offset?: number, _length?: number): ArrayFor<D> {
    throw new UnsupportedError(`readSync: the WebGPU backend reads asynchronously (storage #${storage?.id}); use await backend.read(...) or await tensor.data()`);
  }

  async sync(): Promise<void> {
    this.ctx.assertAlive('sync');
    await this.readWithChecks([], 'sync');
  }

  memoryInfo() {
    return {
      allocatedBytes: this.allocated,
      liveStorages: this.live.size,
      heapBytes: this.ctx.storagePool.usedBytes + this.ctx.storagePool.pooledBytes,
    };
  }

  /** Destroys the pooled free buffers (live storage is untouched). */
  trim(): void {
    this.ctx.flush();
    this.ctx.storagePool.trim();
    this.ctx.stagingPool.trim();
  }

  /**
   * Releases the GPU device; the backend is unusable afterwards. Under Node/Bun
   * (Dawn) this also drops the GPU instance, which lets the process exit.
   */
  destroy(): void {
    this.ctx.flush();
    this.device.destroy();
    this.gpu = null;
  }

  /** Bounds the number of unread index checks by reading them back in the background. */
  private afterIndexKernel(): void {
    if (this.checks.count < MAX_PENDING_CHECKS) return;
    const { ranges, verdict } = this.checks.take();
    void this.ctx.readBack(ranges).then(
      (bytes) => {
        this.deferred ??= verdict(bytes, 0);
      },
      (e: unknown) => {
        this.deferred ??= e instanceof Error ? e : new Error(String(e));
      },
    );
  }
}
