/**
 * @tessera/webgpu: WGSL compute kernels behind @tessera/core's Backend
 * interface. Runs wherever WebGPU does: browsers and Deno (navigator.gpu),
 * Node and Bun (the npm `webgpu` package, Dawn).
 *
 * @example
 * ```ts
 * import { webgpu } from '@tessera/webgpu';
 * import { setBackend, randn } from '@tessera/tensor';
 * await setBackend(await webgpu());
 * const y = randn([64, 64]).matmul(randn([64, 64]));
 * console.log(await y.data());
 * ```
 */
export { webgpu, type WebGPUOptions } from './device.js';
export { WebGPUBackend, type WebGPUAdapterInfo, type WebGPUBackendInit, type WebGPUFeatures } from './backend.js';
export { WebGPUError, WebGPUUnavailableError } from './errors.js';
