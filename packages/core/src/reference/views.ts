import type { Storage } from '../backend.js';

/** Resolves storages to typed arrays over the same bytes. */
export interface Views {
  f32(s: Storage): Float32Array;
  i32(s: Storage): Int32Array;
}
