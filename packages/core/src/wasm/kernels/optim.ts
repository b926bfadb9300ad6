// Interim: runs the reference kernels directly over wasm memory until the SIMD kernels of this family land.
export { sgdStep, adamStep } from '../../reference/optim.js';
