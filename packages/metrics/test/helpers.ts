import type { TensorLike } from '../src/index.js';

/** A tiny fake tensor: row-major float32 data plus a shape. */
export function fakeTensor(data: readonly number[], shape: readonly number[]): TensorLike {
  return { shape, dataSync: () => Float32Array.from(data) };
}

/** A fake int32 tensor (labels / targets). */
export function fakeIntTensor(data: readonly number[], shape: readonly number[]): TensorLike {
  return { shape, dataSync: () => Int32Array.from(data) };
}
