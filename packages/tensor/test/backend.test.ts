import { ReferenceBackend, relaxedSimdSupported } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import { getBackend, ones, ready, registerBackend, setBackend } from '../src/index.js';

describe('backend selection', () => {
  it('ready() loads the best wasm build and keeps it', async () => {
    const be = await ready();
    expect(be.name).toBe('wasm');
    expect(be.features.simd).toBe(true);
    expect(be.features.relaxedSimd).toBe(relaxedSimdSupported());
    expect(await ready()).toBe(be);
    expect(getBackend()).toBe(be);
    expect(ones([2]).backend).toBe(be);
  });

  it('named backends are created once; instances and registered factories work', async () => {
    const r1 = await setBackend('reference');
    const r2 = await setBackend('reference');
    expect(r1).toBe(r2);
    const mine = new ReferenceBackend();
    expect(await setBackend(mine)).toBe(mine);
    expect(ones([1]).backend).toBe(mine);
    registerBackend('custom', () => new ReferenceBackend({ float64: true }));
    const c = await setBackend('custom');
    expect((c as ReferenceBackend).float64).toBe(true);
  });

  it('tensors keep working on their own backend after a switch', async () => {
    await setBackend('reference');
    const a = ones([2]);
    await setBackend('wasm');
    expect(Array.from(a.add(1).dataSync())).toEqual([2, 2]);
    expect(a.add(1).backend.name).toBe('reference');
  });
});
