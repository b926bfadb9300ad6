// The WebGPU backend's storage and device contract: adapter selection (null-backend and
// missing adapters rejected with a typed error), pooled buffers reused after free, typed
// errors for freed storage, async-only reads, pipeline caching and batched submission.
import { ArgumentError, BoundsError, DisposedError, OutOfMemoryError, UnsupportedError } from '@tessera/core';
import { describe, expect, it, vi } from 'vitest';
import { WebGPUUnavailableError, webgpu } from '../src/index.js';
import { sizeClass } from '../src/runtime/pool.js';
import { describeGPU, gpu } from './helpers.js';

/** A GPU whose requestAdapter resolves to `adapter` (to test adapter rejection without a device). */
function fakeGPU(adapter: unknown): GPU {
  return { requestAdapter: async () => adapter, getPreferredCanvasFormat: () => 'rgba8unorm', wgslLanguageFeatures: new Set() } as unknown as GPU;
}

describe('webgpu() adapter selection', () => {
  it('rejects when there is no adapter', async () => {
    await expect(webgpu({ gpu: fakeGPU(null) })).rejects.toThrow(WebGPUUnavailableError);
    await expect(webgpu({ gpu: fakeGPU(null) })).rejects.toThrow(/offers no adapter/);
  });

  it("rejects Dawn's null backend, which runs no shaders", async () => {
    const nullAdapter = { info: { vendor: '', architecture: '', device: 'null-backend', description: 'Null backend' }, features: new Set(), limits: {} };
    const err = await webgpu({ gpu: fakeGPU(nullAdapter) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebGPUUnavailableError);
    expect(err).toBeInstanceOf(UnsupportedError);
    expect((err as Error).message).toMatch(/null backend/);
  });

  it('rejects a fallback adapter when allowFallbackAdapter is false', async () => {
    const soft = { info: { vendor: 'mesa', architecture: 'software', device: 'llvmpipe', description: 'llvmpipe' }, isFallbackAdapter: true, features: new Set(), limits: {} };
    await expect(webgpu({ gpu: fakeGPU(soft), allowFallbackAdapter: false })).rejects.toThrow(/fallback adapter/);
  });
});

describe('size classes', () => {
  it('round up by at most 25% (four classes per octave), 256 bytes minimum', () => {
    for (const bytes of [0, 1, 4, 255, 256, 257, 300, 1000, 4096, 5000, 65537, 1e6, 3e7]) {
      const c = sizeClass(bytes);
      expect(c).toBeGreaterThanOrEqual(Math.max(bytes, 256));
      expect(c % 16).toBe(0);
      if (bytes > 256) expect(c / bytes).toBeLessThanOrEqual(1.25 + 1e-9);
    }
  });
});

describeGPU('WebGPU backend', (twin) => {
  it('reports its adapter and features (no sync reads; f16 / subgroups as the adapter offers)', () => {
    const be = twin().dev;
    expect(be.name).toBe('webgpu');
    expect(be.features.syncRead).toBe(false);
    expect(typeof be.features.f16).toBe('boolean');
    expect(typeof be.features.subgroups).toBe('boolean');
    expect(be.adapterInfo.device).not.toBe('null-backend');
    console.log(`adapter: ${JSON.stringify(be.adapterInfo)}; f16 ${be.features.f16}, subgroups ${be.features.subgroups}`);
  });

  it('reuses pooled buffers after free (no new GPUBuffers in a steady loop)', async () => {
    const be = twin().dev;
    const pool = be.ctx.storagePool;
    const step = () => {
      const a = be.alloc(1000 * 4);
      const b = be.alloc(300 * 4);
      be.fill({ out: { storage: a, offset: 0 }, n: 1000, value: 1, dtype: 'f32' });
      be.fill({ out: { storage: b, offset: 0 }, n: 300, value: 2, dtype: 'f32' });
      be.free(a);
      be.free(b);
    };
    step();
    await be.sync();
    const created = pool.created;
    const live = be.memoryInfo().liveStorages;
    for (let i = 0; i < 50; i++) step();
    await be.sync();
    expect(pool.created).toBe(created);
    expect(be.memoryInfo().liveStorages).toBe(live);
    // A freed buffer comes back for the next request of its size class.
    const s = be.alloc(1000 * 4);
    expect(pool.created).toBe(created);
    be.free(s);
  });

  it('memoryInfo counts live storages and requested bytes', () => {
    const be = twin().dev;
    const before = be.memoryInfo();
    const s = be.alloc(10);
    expect(s.bytes).toBe(12);
    expect(be.memoryInfo().allocatedBytes - before.allocatedBytes).toBe(12);
    expect(be.memoryInfo().liveStorages - before.liveStorages).toBe(1);
    be.free(s);
    expect(be.memoryInfo()).toMatchObject({ allocatedBytes: before.allocatedBytes, liveStorages: before.liveStorages });
  });

  it('use after free throws DisposedError (kernels, write, read, double free), synchronously for kernels', async () => {
    const be = twin().dev;
    const a = be.alloc(64);
    const b = be.alloc(64);
    be.free(a);
    expect(() => be.fill({ out: { storage: a, offset: 0 }, n: 4, value: 0, dtype: 'f32' })).toThrow(DisposedError);
    expect(() => be.unary({ op: 'exp', x: { storage: a, offset: 0, strides: [1] }, out: { storage: b, offset: 0 }, shape: [4] })).toThrow(DisposedError);
    expect(() => be.write(a, new Float32Array(4))).toThrow(DisposedError);
    await expect(be.read(a, 'f32')).rejects.toThrow(DisposedError);
    expect(() => be.free(a)).toThrow(DisposedError);
    be.free(b);
  });

  it('kernel hooks: only the select family bounds its queued index checks, after the kernel ran', async () => {
    const be = twin().dev;
    // afterIndexKernel is private: the kernel table's after-hook reaches it through the instance.
    const spy = vi.spyOn(be as unknown as { afterIndexKernel(): void }, 'afterIndexKernel');
    const x = be.alloc(4 * 8);
    const idx = be.alloc(4 * 2);
    const out = be.alloc(4 * 8);
    be.write(idx, Int32Array.of(1, 0));
    be.unary({ op: 'neg', x: { storage: x, offset: 0, strides: [1] }, out: { storage: out, offset: 0 }, shape: [8] });
    expect(spy).not.toHaveBeenCalled();
    be.indexSelect({ x: { storage: x, offset: 0 }, indices: { storage: idx, offset: 0 }, out: { storage: out, offset: 0 }, outer: 1, axisLen: 2, inner: 4, count: 2 });
    expect(spy).toHaveBeenCalledTimes(1);
    // A call the validator refuses never reaches the kernel or the hook.
    expect(() => be.indexSelect({ x: { storage: x, offset: 0 }, indices: { storage: idx, offset: 0 }, out: { storage: out, offset: 0 }, outer: 1, axisLen: 2, inner: 4, count: 3 })).toThrow(BoundsError);
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
    await be.sync();
    for (const s of [x, idx, out]) be.free(s);
  });

  it('readSync throws UnsupportedError; read() honours offset and length; bad ranges are BoundsErrors', async () => {
    const be = twin().dev;
    const s = be.alloc(8 * 4);
    be.write(s, Float32Array.from([0, 1, 2, 3, 4, 5, 6, 7]));
    be.write(s, Int32Array.from([-5]), 7);
    expect(() => be.readSync(s, 'f32')).toThrow(UnsupportedError);
    expect(Array.from(await be.read(s, 'f32', 2, 3))).toEqual([2, 3, 4]);
    expect(Array.from(await be.read(s, 'i32', 7, 1))).toEqual([-5]);
    expect(Array.from(await be.read(s, 'f32', 8, 0))).toEqual([]);
    await expect(be.read(s, 'f32', 6, 3)).rejects.toThrow(BoundsError);
    expect(() => be.write(s, new Float32Array(3), 6)).toThrow(BoundsError);
    expect(() => be.write(s, [1, 2] as unknown as Float32Array)).toThrow(ArgumentError);
    be.free(s);
  });

  it('alloc rejects negative sizes and sizes beyond the largest bindable buffer', () => {
    const be = twin().dev;
    expect(() => be.alloc(-4)).toThrow(ArgumentError);
    expect(() => be.alloc(be.device.limits.maxStorageBufferBindingSize + 4)).toThrow(OutOfMemoryError);
  });

  it('writes are ordered with kernels: write after an enqueued kernel does not overtake it', async () => {
    const be = twin().dev;
    const a = be.alloc(4 * 4);
    const b = be.alloc(4 * 4);
    be.write(a, Float32Array.from([1, 2, 3, 4]));
    be.unary({ op: 'neg', x: { storage: a, offset: 0, strides: [1] }, out: { storage: b, offset: 0 }, shape: [4] });
    be.write(a, Float32Array.from([9, 9, 9, 9]));
    expect(Array.from(await be.read(b, 'f32'))).toEqual([-1, -2, -3, -4]);
    // A freed buffer handed to a new storage and written must not affect kernels queued before.
    be.unary({ op: 'neg', x: { storage: a, offset: 0, strides: [1] }, out: { storage: b, offset: 0 }, shape: [4] });
    be.free(a);
    const c = be.alloc(4 * 4);
    be.write(c, Float32Array.from([7, 7, 7, 7]));
    expect(Array.from(await be.read(b, 'f32'))).toEqual([-9, -9, -9, -9]);
    be.free(b);
    be.free(c);
  });

  it('caches pipelines per kernel specialisation and batches dispatches into few submits', async () => {
    const be = twin().dev;
    const s = be.alloc(256 * 4);
    be.fill({ out: { storage: s, offset: 0 }, n: 256, value: 0, dtype: 'f32' });
    await be.sync();
    const pipelines = be.ctx.pipelines.size;
    const submits = be.ctx.submits;
    for (let i = 0; i < 2000; i++) be.fill({ out: { storage: s, offset: i % 200 }, n: 16, value: i, dtype: 'f32' });
    await be.sync();
    expect(be.ctx.pipelines.size).toBe(pipelines);
    // 2000 dispatches at 256 bytes of parameters each fill the 256 KiB arena twice at most.
    expect(be.ctx.submits - submits).toBeLessThanOrEqual(3);
    expect((await be.read(s, 'f32', 199, 1))[0]).toBe(1999);
    be.free(s);
  });
});

describe('skip reason', () => {
  it('is visible when no real adapter is found', () => {
    if (!gpu.be) console.log(`WebGPU suites skipped: ${gpu.reason}`);
    expect(gpu.be !== null || gpu.reason.length > 0).toBe(true);
  });
});
