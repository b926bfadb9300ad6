/**
 * The active backend: where new tensors are created. Ops run on the backend of
 * their inputs, so tensors made before a `setBackend` keep working.
 */

import { ArgumentError, ReferenceBackend, UnsupportedError, createWasmBackend, type Backend } from '@tessera/core';
import { checkPrimitives } from './primitives.js';

type Factory = () => Backend | Promise<Backend>;

const factories = new Map<string, Factory>([
  ['reference', () => new ReferenceBackend()],
  ['wasm', () => createWasmBackend()],
]);
const instances = new Map<string, Backend>();
let current: Backend | null = null;

/**
 * Makes `name` available to `setBackend(name)` (e.g. a WebGPU backend package).
 * @example registerBackend('webgpu', () => createWebGpuBackend());
 */
export function registerBackend(name: string, factory: Factory): void {
  factories.set(name, factory);
  instances.delete(name);
}

async function instance(name: string): Promise<Backend> {
  const cached = instances.get(name);
  if (cached) return cached;
  const make = factories.get(name);
  if (!make) throw new ArgumentError(`setBackend: unknown backend '${name}'; registered: ${[...factories.keys()].join(', ')}`);
  const be = await make();
  instances.set(name, be);
  return be;
}

/**
 * Selects the backend new tensors are created on: a registered name
 * ('wasm', 'reference', ...) or a Backend instance. Named backends are created
 * once and reused. A backend missing a primitive kernel is refused (UnsupportedError naming it).
 * @example await setBackend('reference');
 */
export async function setBackend(backend: string | Backend): Promise<Backend> {
  const be = typeof backend === 'string' ? await instance(backend) : backend;
  checkPrimitives(be);
  current = be;
  return current;
}

/**
 * Loads the best available backend (wasm with relaxed-SIMD, else wasm SIMD128,
 * else the reference backend) unless one is already set, and returns it.
 * @example await ready(); const x = ones([2, 2]);
 */
export async function ready(): Promise<Backend> {
  if (current) return current;
  try {
    return await setBackend('wasm');
  } catch (e) {
    if (!(e instanceof UnsupportedError)) throw e;
    return setBackend('reference');
  }
}

/** The active backend; throws if neither `ready()` nor `setBackend()` ran yet. */
export function getBackend(): Backend {
  if (!current) throw new UnsupportedError("no backend is set: call `await ready()` or `await setBackend('wasm' | 'reference')` first");
  return current;
}

/** @internal The active backend or null. */
export function getBackendIfSet(): Backend | null {
  return current;
}
