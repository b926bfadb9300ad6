/** First byte past the module's static data: the host allocator starts here. */
export function heap_base(): usize {
  return __heap_base;
}
