// Fused vs composed SGD / Adam / AdamW steps (composed-suite.ts) on the reference backend and both wasm builds.
import { ReferenceBackend, createWasmBackend, relaxedSimdSupported } from '@tessera/core';
import { composedOptimizerSuite } from './composed-suite.js';

composedOptimizerSuite('reference', () => new ReferenceBackend());
composedOptimizerSuite('wasm simd128', () => createWasmBackend({ simd: 'simd128' }));
composedOptimizerSuite('wasm relaxed', () => createWasmBackend({ simd: 'relaxed' }), relaxedSimdSupported() ? undefined : 'this runtime does not validate relaxed SIMD');
