/**
 * Gradient clipping where reads are asynchronous (WebGPU): clipGradNorm on
 * every backend, and clipGradNormSync's on-device path on a reference backend
 * faked to have no synchronous reads (the real WebGPU runs are in
 * packages/webgpu/test/async-paths.test.ts). Tolerance 1e-6 relative where
 * the device path computes the coefficient in f32 and the host path in f64.
 */

import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ReferenceBackend, UnsupportedError, type ArrayFor, type DType, type Features, type Storage } from '@tessera/core';
import { memory, setBackend, tensor, type Tensor } from '@tessera/tensor';
import { NonFiniteError, clipGradNorm, clipGradNormAsync, clipGradNormSync } from '../src/index.js';
import { BACKENDS, backendAvailable, bits, param, useBackend, values } from './helpers.js';

/** A reference backend that, like WebGPU, reads only asynchronously. */
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

/** Parameters with gradients [-3, 4], [[-12]] and one parameter without a gradient. */
function withGrads(g0: number[] = [-3, 4], g1: number[] = [-12]): Tensor[] {
  const a = param(new Float32Array(2), [2]);
  const b = param(new Float32Array(1), [1, 1]);
  const none = param(new Float32Array(3), [3]);
  a.grad = tensor(g0, [2]);
  b.grad = tensor(g1, [1, 1]);
  return [a, b, none];
}

async function grads(ps: Tensor[]): Promise<Float32Array[]> {
  return Promise.all(ps.slice(0, 2).map(async (p) => (await p.grad!.data()) as Float32Array));
}

const near = (got: number, want: number): void => expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-6 * Math.abs(want));

for (const backend of BACKENDS)
  describe.skipIf(!backendAvailable(backend))(`clipGradNorm (${backend} backend)`, () => {
    beforeAll(() => useBackend(backend));

    it('gives clipGradNormSync\'s total and gradients, bit for bit', async () => {
      for (const [maxNorm, p] of [[6.5, 2], [100, 2], [6, Infinity], [10, 1], [4, 3], [30, 0.5]] as const) {
        const a = withGrads([-3, 0.25], [-12]);
        const b = withGrads([-3, 0.25], [-12]);
        const want = clipGradNormSync(a, maxNorm, p);
        expect(await clipGradNorm(b, maxNorm, p)).toBe(want);
        for (let i = 0; i < 2; i++) expect(bits(values(b[i].grad!))).toEqual(bits(values(a[i].grad!)));
      }
    });

    it('honours errorIfNonfinite and leaves nothing behind', async () => {
      const before = memory().numTensors;
      const nan = withGrads([NaN, 1]);
      await expect(clipGradNorm(nan, 1, 2, { errorIfNonfinite: true })).rejects.toThrow(NonFiniteError);
      await expect(clipGradNorm(nan, 1, 2, { errorIfNonfinite: true })).rejects.toThrow(/clipGradNorm: the total 2-norm of the gradients of 2 parameters is NaN/);
      expect(values(nan[1].grad!)[0]).toBe(-12);
      expect(await clipGradNorm(nan, 1)).toBeNaN();
      expect(memory().numTensors).toBe(before + 5); // the 3 parameters and 2 gradients
      await expect(clipGradNorm(withGrads(), -1)).rejects.toThrow(/clipGradNorm: maxNorm must be a number >= 0, got -1/);
      expect(await clipGradNorm([param(new Float32Array(2), [2])], 1)).toBe(0);
    });
  });

describe('clipGradNormSync on a backend without synchronous reads', () => {
  let be: AsyncOnlyBackend;
  beforeAll(async () => {
    be = new AsyncOnlyBackend();
  });
  afterEach(async () => {
    await setBackend('reference');
  });

  it('clips on the device: the same gradients as the host path, and NaN for the norm it did not read', async () => {
    for (const [maxNorm, p] of [[6.5, 2], [6, Infinity], [10, 1], [4, 3]] as const) {
      await setBackend('reference');
      const host = withGrads([-3, 0.25], [-12]);
      clipGradNormSync(host, maxNorm, p);
      await setBackend(be);
      const dev = withGrads([-3, 0.25], [-12]);
      const before = memory().numTensors;
      expect(clipGradNormSync(dev, maxNorm, p)).toBeNaN();
      expect(memory().numTensors).toBe(before);
      const got = await grads(dev);
      for (let i = 0; i < 2; i++) values(host[i].grad!).forEach((w, j) => near(got[i][j], w));
    }
  });

  it('leaves gradients under the limit bit-for-bit alone; NaN and infinite norms act as in PyTorch', async () => {
    await setBackend(be);
    const small = withGrads([0.1, -0.2], [0.3]);
    const before = (await grads(small)).map(bits);
    clipGradNormSync(small, 1);
    expect((await grads(small)).map(bits)).toEqual(before);
    const nan = withGrads([NaN, 1]);
    clipGradNormSync(nan, 1);
    expect((await grads(nan)).flatMap((g) => Array.from(g)).every(Number.isNaN)).toBe(true);
    const inf = withGrads([Infinity, 1]);
    clipGradNormSync(inf, 1);
    const [g0, g1] = await grads(inf);
    expect(g0[1]).toBe(0);
    expect(g1[0]).toBe(-0);
  });

  it('refuses what needs the norm on the host, pointing to clipGradNorm', async () => {
    await setBackend(be);
    const ps = withGrads();
    expect(() => clipGradNormSync(ps, 1, 2, { errorIfNonfinite: true })).toThrow(UnsupportedError);
    expect(() => clipGradNormSync(ps, 1, 2, { errorIfNonfinite: true })).toThrow(/errorIfNonfinite needs the norm on the host.*use await clipGradNorm/);
    expect((await grads(ps))[1][0]).toBe(-12); // untouched
    await setBackend('reference');
    const onHost = withGrads();
    expect(() => clipGradNormSync([...ps, ...onHost], 1)).toThrow(/the gradients live on 2 backends \('reference', 'reference'\), one of which \('reference'\) has no synchronous reads; use await clipGradNorm/);
    // The async variant handles both: one read per backend.
    near(await clipGradNorm([...ps, ...onHost], 1), Math.sqrt(2 * 169));
  });

  it('clipGradNorm reads the norm and honours errorIfNonfinite', async () => {
    await setBackend(be);
    const ps = withGrads();
    expect(await clipGradNorm(ps, 6.5)).toBe(13);
    const got = await grads(ps);
    near(got[1][0], (-12 * 6.5) / (13 + 1e-6));
    const inf = withGrads([Infinity, 1]);
    await expect(clipGradNorm(inf, 1, Infinity, { errorIfNonfinite: true })).rejects.toThrow(/total inf-norm of the gradients of 2 parameters is Infinity/);
    expect((await grads(inf))[1][0]).toBe(-12);
  });

  it('the deprecated clipGradNormAsync is clipGradNorm', async () => {
    await setBackend(be);
    const a = withGrads();
    const b = withGrads();
    expect(await clipGradNormAsync(a, 6.5)).toBe(await clipGradNorm(b, 6.5));
    expect(await grads(a)).toEqual(await grads(b));
  });
});
