import { lcg } from '@tessera/testing';
import { describe, expect, it } from 'vitest';
import { ALIGN, Allocator, MAX_WASM_BYTES, PAGE, type GrowableMemory } from '../src/wasm/allocator.js';
import { createWasmBackend } from '../src/wasm/backend.js';
import { ArgumentError, OutOfMemoryError } from '../src/errors.js';

/** A fake memory that only tracks its size, so 4 GiB-scale tests cost nothing. */
function fakeMemory(pages: number, maxPages = 65536): GrowableMemory & { grows: number } {
  let size = pages * PAGE;
  return {
    grows: 0,
    byteLength: () => size,
    grow(n: number) {
      if (size / PAGE + n > maxPages) throw new RangeError(`WebAssembly.Memory.grow(): Maximum memory size exceeded`);
      size += n * PAGE;
      this.grows++;
    },
  };
}

describe('Allocator', () => {
  it('aligns every block to ALIGN bytes, past the base', () => {
    const a = new Allocator(fakeMemory(1), 1000);
    for (const n of [1, 3, 17, 63, 64, 65, 129, 4096]) {
      const p = a.alloc(n);
      expect(p % ALIGN).toBe(0);
      expect(p).toBeGreaterThanOrEqual(1000);
    }
  });

  it('reuses a freed block of the same size', () => {
    const a = new Allocator(fakeMemory(1), 0);
    const p = a.alloc(256);
    a.alloc(256);
    a.release(p);
    expect(a.alloc(200)).toBe(p);
  });

  it('coalesces neighbours and gives the tail back to the break', () => {
    const a = new Allocator(fakeMemory(1), 0);
    const ps = [a.alloc(64), a.alloc(64), a.alloc(64)];
    a.release(ps[0]);
    a.release(ps[2]);
    a.release(ps[1]);
    expect(a.liveBlocks).toBe(0);
    expect(a.highWater).toBe(0);
    expect(a.alloc(192)).toBe(0);
  });

  it('never hands out overlapping live blocks (randomised)', () => {
    const rnd = lcg(7);
    const a = new Allocator(fakeMemory(1), 128);
    const live = new Map<number, number>();
    for (let step = 0; step < 5000; step++) {
      if (live.size > 0 && rnd() < 0.45) {
        const keys = [...live.keys()];
        const p = keys[Math.floor(rnd() * keys.length)];
        a.release(p);
        live.delete(p);
      } else {
        const n = 1 + Math.floor(rnd() ** 3 * 100_000);
        const p = a.alloc(n);
        live.set(p, n);
      }
      if (step % 250 === 0) {
        const spans = [...live.entries()].sort((x, y) => x[0] - y[0]);
        for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][0] + spans[i - 1][1]);
      }
    }
    for (const p of live.keys()) a.release(p);
    expect(a.allocated).toBe(0);
    expect(a.highWater).toBe(128);
  });

  it('grows memory geometrically when nothing fits', () => {
    const mem = fakeMemory(1);
    const a = new Allocator(mem, 0);
    for (let i = 0; i < 64; i++) a.alloc(PAGE);
    expect(mem.byteLength()).toBeGreaterThanOrEqual(64 * PAGE);
    expect(mem.grows).toBeLessThan(10);
  });

  it('throws OutOfMemoryError past the 4 GiB wasm32 limit, naming the size', () => {
    const a = new Allocator(fakeMemory(1), 0);
    expect(() => a.alloc(MAX_WASM_BYTES + 1)).toThrow(OutOfMemoryError);
    expect(() => a.alloc(5 * 2 ** 30)).toThrow(/5368709120 bytes/);
  });

  it('turns an engine refusal to grow into OutOfMemoryError', () => {
    const a = new Allocator(fakeMemory(1, 4), 0);
    expect(() => a.alloc(10 * PAGE)).toThrow(OutOfMemoryError);
    // The failed request leaves the allocator usable.
    expect(a.alloc(PAGE)).toBe(0);
  });

  it('rejects double free and bad sizes', () => {
    const a = new Allocator(fakeMemory(1), 0);
    const p = a.alloc(8);
    a.release(p);
    expect(() => a.release(p)).toThrow(ArgumentError);
    expect(() => a.alloc(-1)).toThrow(ArgumentError);
    expect(() => a.alloc(1.5)).toThrow(ArgumentError);
  });
});

describe('wasm backend memory', () => {
  it('keeps data intact across memory growth and refreshes its views', async () => {
    const be = await createWasmBackend({ initialBytes: PAGE });
    const s = be.alloc(4 * 1000);
    const data = Float32Array.from({ length: 1000 }, (_, i) => i * 0.5);
    be.write(s, data);
    const before = be.memory.buffer.byteLength;
    const big = be.alloc(8 * 1024 * 1024);
    expect(be.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(be.readSync(s, 'f32')).toEqual(data);
    be.write(big, new Float32Array([42]), 2 * 1024 * 1024 - 1);
    expect(be.readSync(big, 'f32', 2 * 1024 * 1024 - 1, 1)[0]).toBe(42);
    be.free(big);
    be.free(s);
    expect(be.memoryInfo().allocatedBytes).toBe(0);
  });

  it('uses a shared memory where the runtime has SharedArrayBuffer', async () => {
    const be = await createWasmBackend();
    expect(be.memory.buffer instanceof SharedArrayBuffer).toBe(typeof SharedArrayBuffer !== 'undefined');
    const plain = await createWasmBackend({ shared: false });
    expect(plain.memory.buffer instanceof ArrayBuffer).toBe(true);
  });
});
