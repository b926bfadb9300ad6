/**
 * GpuContext: the one place that talks to the GPUDevice. Kernels are encoded
 * into a shared command encoder (one compute pass while only dispatches
 * follow each other) and submitted in batches: when the uniform arena is full,
 * before a host write or read, and at the end of the current JS task (a
 * microtask), so the GPU starts while the caller keeps enqueueing.
 *
 * Each dispatch's parameters go to a 256-byte-aligned region of one uniform
 * buffer, bound with a dynamic offset. The arena is uploaded with a single
 * `queue.writeBuffer` just before its batch is submitted; queue order makes
 * rewriting it for the next batch safe.
 */

import { OutOfMemoryError } from '@tessera/core';
import { WebGPUError } from '../errors.js';
import { bindOperands, bindingWGSL, packParams, paramsBytes, paramsWGSL, type Operand, type Params } from './layout.js';
import { BufferPool, STAGING_USAGE, STORAGE_USAGE } from './pool.js';

const UNIFORM_ARENA_BYTES = 256 * 1024;
const COMPUTE = 0x4; // GPUShaderStage.COMPUTE
const UNIFORM_USAGE = 0x40 | 0x8; // UNIFORM | COPY_DST
const MAP_READ = 0x1; // GPUMapMode.READ

/** A dispatch: a shader (built once per specialisation), its operands, parameters and grid. */
export interface Dispatch {
  /** Kernel name and specialisation; together with the aliasing pattern it keys the pipeline cache. */
  key: string;
  operands: readonly Operand[];
  params: Params;
  /** WGSL of the kernel given its declarations (bindings, accessors, Params struct `P`). */
  wgsl: (decls: string) => string;
  /** Workgroup counts; a zero anywhere skips the dispatch. */
  groups: readonly [number, number, number];
}

interface CachedPipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/** Splits `n` workgroups into an (x, y) grid within the 65535-per-dimension limit. */
export function grid2d(n: number): [number, number, number] {
  if (n <= 0) return [0, 0, 0];
  const x = Math.min(n, 65535);
  const y = Math.ceil(n / x);
  if (y > 65535) throw new OutOfMemoryError(`a dispatch of ${n} workgroups exceeds 65535 x 65535`);
  return [x, y, 1];
}

export class GpuContext {
  readonly storagePool: BufferPool;
  readonly stagingPool: BufferPool;
  /** Pipelines built so far (tests check the cache with it). */
  readonly pipelines = new Map<string, CachedPipeline>();
  private readonly layouts = new Map<string, GPUBindGroupLayout>();
  private readonly uniforms: GPUBuffer;
  private readonly arena = new ArrayBuffer(UNIFORM_ARENA_BYTES);
  private readonly arenaView = new DataView(this.arena);
  private arenaUsed = 0;
  private readonly uniformAlign: number;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private flushScheduled = false;
  private doomed: GPUBuffer[] = [];
  /** WebGPU errors reported by the device (validation, out-of-memory) not yet raised. */
  private errors: GPUError[] = [];
  private lostMessage: string | null = null;
  /** Dispatches submitted so far. */
  dispatches = 0;
  /** Batches submitted so far. */
  submits = 0;

  constructor(
    readonly device: GPUDevice,
    poolLimitBytes: number,
  ) {
    const destroy = (b: GPUBuffer) => this.destroyLater(b);
    this.storagePool = new BufferPool(device, STORAGE_USAGE, 'tessera storage', poolLimitBytes, destroy);
    this.stagingPool = new BufferPool(device, STAGING_USAGE, 'tessera staging', 64 * 1024 * 1024, destroy);
    this.uniformAlign = device.limits.minUniformBufferOffsetAlignment;
    this.uniforms = device.createBuffer({ size: UNIFORM_ARENA_BYTES, usage: UNIFORM_USAGE, label: 'tessera params' });
    const onError = (ev: Event) => {
      this.errors.push((ev as GPUUncapturedErrorEvent).error);
    };
    if (typeof device.addEventListener === 'function') device.addEventListener('uncapturederror', onError);
    else (device as { onuncapturederror: unknown }).onuncapturederror = onError;
    void device.lost.then((info) => {
      this.lostMessage = `${info.reason}: ${info.message}`;
    });
  }

  /** Throws if the device was lost (every entry point calls this first). */
  assertAlive(what: string): void {
    if (this.lostMessage !== null) throw new WebGPUError(`${what}: the WebGPU device was lost (${this.lostMessage})`);
  }

  /** Raises the first WebGPU error the device reported since the last call. */
  raiseDeviceErrors(what: string): void {
    this.assertAlive(what);
    const e = this.errors.shift();
    if (!e) return;
    const more = this.errors.length > 0 ? ` (+${this.errors.length} more)` : '';
    this.errors = [];
    if (e.constructor.name === 'GPUOutOfMemoryError') throw new OutOfMemoryError(`${what}: the WebGPU device ran out of memory: ${e.message}${more}`);
    throw new WebGPUError(`${what}: WebGPU reported an error: ${e.message}${more}`);
  }

  /** Destroys `b` now, or right after the pending batch is submitted if one may use it. */
  destroyLater(b: GPUBuffer): void {
    if (this.encoder) this.doomed.push(b);
    else b.destroy();
  }

  private encoderNow(): GPUCommandEncoder {
    if (!this.encoder) {
      this.encoder = this.device.createCommandEncoder({ label: 'tessera batch' });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        queueMicrotask(() => {
          this.flushScheduled = false;
          this.flush();
        });
      }
    }
    return this.encoder;
  }

  private passNow(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.encoderNow().beginComputePass();
    return this.pass;
  }

  /** The encoder with no compute pass open, for buffer copies. */
  copyEncoder(): GPUCommandEncoder {
    const enc = this.encoderNow();
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    return enc;
  }

  /** Submits everything encoded so far. */
  flush(): void {
    if (!this.encoder) return;
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (this.arenaUsed > 0) this.device.queue.writeBuffer(this.uniforms, 0, this.arena, 0, this.arenaUsed);
    this.device.queue.submit([this.encoder.finish()]);
    this.submits++;
    this.encoder = null;
    this.arenaUsed = 0;
    for (const b of this.doomed) b.destroy();
    this.doomed = [];
  }

  private bindGroupLayout(signature: string, slots: { write: boolean }[], uniformBytes: number): GPUBindGroupLayout {
    const key = `${slots.map((s) => (s.write ? 'w' : 'r')).join('')}|${uniformBytes}`;
    let layout = this.layouts.get(key);
    if (!layout) {
      const entries: GPUBindGroupLayoutEntry[] = slots.map((s, k) => ({
        binding: k,
        visibility: COMPUTE,
        buffer: { type: s.write ? 'storage' : 'read-only-storage' },
      }));
      entries.push({ binding: slots.length, visibility: COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true, minBindingSize: uniformBytes } });
      layout = this.device.createBindGroupLayout({ entries, label: `tessera layout ${signature}` });
      this.layouts.set(key, layout);
    }
    return layout;
  }

  /** Encodes one dispatch (building and caching its pipeline on first use). */
  dispatch(d: Dispatch): void {
    const [gx, gy, gz] = d.groups;
    if (gx === 0 || gy === 0 || gz === 0) return;
    const binding = bindOperands(d.operands);
    const uniformBytes = paramsBytes(d.params);
    const key = `${d.key}#${binding.signature}#${Object.keys(d.params).join(',')}`;
    let cached = this.pipelines.get(key);
    if (!cached) {
      const layout = this.bindGroupLayout(binding.signature, binding.slots, uniformBytes);
      const decls = `${bindingWGSL(binding, d.operands)}\n${paramsWGSL(d.params, binding.slots.length)}`;
      const code = d.wgsl(decls);
      const module = this.device.createShaderModule({ code, label: d.key });
      const pipeline = this.device.createComputePipeline({
        layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
        compute: { module, entryPoint: 'main' },
        label: d.key,
      });
      cached = { pipeline, layout };
      this.pipelines.set(key, cached);
    }
    const slot = Math.ceil(uniformBytes / this.uniformAlign) * this.uniformAlign;
    if (this.arenaUsed + slot > UNIFORM_ARENA_BYTES) this.flush();
    const offset = this.arenaUsed;
    packParams(d.params, this.arenaView, offset);
    this.arenaUsed += slot;
    const entries: GPUBindGroupEntry[] = binding.slots.map((s, k) => ({ binding: k, resource: { buffer: s.buffer } }));
    entries.push({ binding: binding.slots.length, resource: { buffer: this.uniforms, offset: 0, size: uniformBytes } });
    const group = this.device.createBindGroup({ layout: cached.layout, entries });
    const pass = this.passNow();
    pass.setPipeline(cached.pipeline);
    pass.setBindGroup(0, group, [offset]);
    pass.dispatchWorkgroups(gx, gy, gz);
    this.dispatches++;
  }

  /** Encodes a buffer-to-buffer copy of `bytes` bytes (a multiple of 4). */
  copyBuffer(src: GPUBuffer, srcByte: number, dst: GPUBuffer, dstByte: number, bytes: number): void {
    if (bytes === 0) return;
    this.copyEncoder().copyBufferToBuffer(src, srcByte, dst, dstByte, bytes);
  }

  /** Writes host data after everything already encoded (flushes first to keep program order). */
  writeBuffer(dst: GPUBuffer, byteOffset: number, data: ArrayBufferView): void {
    this.flush();
    this.device.queue.writeBuffer(dst, byteOffset, data.buffer, data.byteOffset, data.byteLength);
  }

  /**
   * Copies byte ranges of buffers into one staging buffer after all encoded work,
   * submits, and resolves with a copy of the bytes (ranges laid out back to back).
   */
  async readBack(ranges: readonly { buffer: GPUBuffer; byte: number; bytes: number }[]): Promise<ArrayBuffer> {
    const total = ranges.reduce((s, r) => s + r.bytes, 0);
    if (total === 0) {
      this.flush();
      await this.device.queue.onSubmittedWorkDone();
      return new ArrayBuffer(0);
    }
    const staging = this.stagingPool.acquire(total);
    let at = 0;
    for (const r of ranges) {
      this.copyBuffer(r.buffer, r.byte, staging, at, r.bytes);
      at += r.bytes;
    }
    this.flush();
    try {
      await staging.mapAsync(MAP_READ, 0, total);
    } catch (e) {
      this.assertAlive('read');
      throw new WebGPUError(`read: mapping the staging buffer failed: ${(e as Error).message}`);
    }
    const out = staging.getMappedRange(0, total).slice(0);
    staging.unmap();
    this.stagingPool.release(staging);
    return out;
  }
}
