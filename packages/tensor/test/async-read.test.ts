// Tensors on a backend without synchronous reads (as WebGPU is): the sync reads throw an
// UnsupportedError naming their async twin, which works. Faked here with a reference backend
// whose features say syncRead: false and whose readSync refuses, as WebGPU's does; the real
// WebGPU runs are in packages/webgpu/test/async-read.test.ts.
import { ReferenceBackend, UnsupportedError, type ArrayFor, type DType, type Features, type Storage } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { setBackend, tensor } from '../src/index.js';

class AsyncOnlyBackend extends ReferenceBackend {
  override readonly features: Features = { ...new ReferenceBackend().features, syncRead: false };
  override readSync<D extends DType>(_storage: Storage, _dtype: D, _offset?: number, _length?: number): ArrayFor<D> {
    throw new UnsupportedError('readSync: this test backend reads asynchronously');
  }
  override async read<D extends DType>(storage: Storage, dtype: D, offset?: number, length?: number): Promise<ArrayFor<D>> {
    await Promise.resolve();
    return super.readSync(storage, dtype, offset, length);
  }
}

describe('a backend without synchronous reads', () => {
  it('sync reads throw UnsupportedError naming the async alternative', async () => {
    await setBackend(new AsyncOnlyBackend());
    const t = tensor([[1, 2], [3, 4]]);
    const s = tensor([2.5]);
    expect(() => t.dataSync()).toThrow(UnsupportedError);
    expect(() => t.dataSync()).toThrow("dataSync: backend 'reference' has no synchronous reads (features.syncRead is false); use await t.data()");
    expect(() => t.arraySync()).toThrow(/arraySync: .* use await t\.array\(\)/);
    expect(() => s.itemSync()).toThrow(UnsupportedError);
    expect(() => s.itemSync()).toThrow(/itemSync: .* use await t\.item\(\)/);
    expect(() => t.toSync(new ReferenceBackend())).toThrow(/toSync: .* use await t\.to\(backend\)/);
    // A wrong shape is still an ArgumentError, before any read.
    expect(() => t.itemSync()).toThrow(/itemSync: only a single-element tensor has an item, this one has shape \[2, 2\]/);
    await expect(t.item()).rejects.toThrow(/item: only a single-element tensor/);
  });

  it('toString prints a placeholder naming the async reads instead of throwing', async () => {
    await setBackend(new AsyncOnlyBackend());
    const t = tensor([1, 2, 3]);
    expect(t.toString()).toBe("tensor(<on reference, read with await t.data() or await t.array()>, shape=[3], dtype=f32)");
    expect(`${t}`).toContain('await t.data()');
  });

  it('item, data, array and to read through the async path', async () => {
    const src = await setBackend(new AsyncOnlyBackend());
    const t = tensor([[1, 2, 3], [4, 5, 6]]);
    expect(await t.sum().item()).toBe(21);
    expect(await t.T.array()).toEqual([[1, 4], [2, 5], [3, 6]]);
    const dst = new ReferenceBackend();
    // A transposed (non-contiguous) view travels as its row-major values.
    const moved = await t.T.to(dst);
    expect(moved.backend).toBe(dst);
    expect(moved.shape).toEqual([3, 2]);
    expect(moved.requiresGrad).toBe(false);
    expect(moved.arraySync()).toEqual([[1, 4], [2, 5], [3, 6]]);
    const ids = tensor([7, -1], undefined, 'i32');
    const movedIds = await ids.to(dst);
    expect(movedIds.dtype).toBe('i32');
    expect(Array.from(movedIds.dataSync())).toEqual([7, -1]);
    // To its own backend it is an alias, as toSync() is.
    const same = await t.to(src);
    expect(same.backend).toBe(src);
    expect(await same.data()).toEqual(await t.data());
  });

  it('on a backend with synchronous reads the async calls agree with their Sync twins', async () => {
    await setBackend('reference');
    const t = tensor([3.5]);
    expect(await t.item()).toBe(t.itemSync());
    const other = new ReferenceBackend();
    expect((await t.to(other)).dataSync()).toEqual(t.toSync(other).dataSync());
  });

  it('the deprecated async-suffixed names still work as aliases', async () => {
    await setBackend(new AsyncOnlyBackend());
    const t = tensor([[1.5, 2], [3, 4]]);
    expect(await t.sum().itemAsync()).toBe(10.5);
    const dst = new ReferenceBackend();
    expect((await t.toAsync(dst)).arraySync()).toEqual([[1.5, 2], [3, 4]]);
  });
});
