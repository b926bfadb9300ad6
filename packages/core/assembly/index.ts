// Entry point of the wasm module: re-exports every kernel family.
// Kernels take byte addresses into the imported linear memory and never allocate.
export * from './memory';
export * from './matmul';
export * from './elementwise';
export * from './reduce';
export * from './norm';
export * from './select';
export * from './attention';
export * from './optim';
export * from './qmatmul';
export * from './qembedding';
export * from './qmatmul-int8x';
