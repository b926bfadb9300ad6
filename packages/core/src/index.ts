/**
 * @tessera/core: the Backend interface, the reference (plain TypeScript)
 * backend and the WebAssembly SIMD backend.
 *
 * @example
 * ```ts
 * import { createWasmBackend } from '@tessera/core';
 * const be = await createWasmBackend();
 * const a = be.alloc(16); be.write(a, new Float32Array([1, 2, 3, 4]));
 * ```
 */
export * from './backend.js';
export * from './errors.js';
export * from './shape.js';
export { hash32, normalAt, uniformAt } from './random.js';
export * from './validate.js';
export * from './kernel-table.js';
export * from './quant.js';
export { ReferenceBackend, type ReferenceBackendOptions } from './reference/backend.js';
export { unaryScalar, binaryScalar } from './reference/elementwise.js';
export { gelu, geluGrad } from './reference/math.js';
export { WasmBackend, createWasmBackend, relaxedSimdSupported, type WasmBackendOptions } from './wasm/backend.js';
export { setNumThreads, getNumThreads, availableCores } from './wasm/threads.js';
export { Allocator, ALIGN, MAX_WASM_BYTES, PAGE, type GrowableMemory } from './wasm/allocator.js';
