// Interim: runs the reference kernels directly over wasm memory until the SIMD kernels of this family land.
export { unary, binary, where, copy, cast, fill, random, geluBackward } from '../../reference/elementwise.js';
