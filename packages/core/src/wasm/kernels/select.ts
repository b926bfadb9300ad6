// Interim: runs the reference kernels directly over wasm memory until the SIMD kernels of this family land.
export { indexSelect, indexAdd, gather, scatterAdd, crossEntropy, crossEntropyBackward } from '../../reference/select.js';
