// Interim: runs the reference kernels directly over wasm memory until the SIMD kernels of this family land.
export { reduce, softmax, softmaxBackward } from '../../reference/reduce.js';
