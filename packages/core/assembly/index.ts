// Entry point of the wasm module: re-exports every kernel family.
// Kernels take byte addresses into the imported linear memory and never allocate.
export * from './memory';
