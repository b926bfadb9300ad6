/** Storage of the WebGPU backend: one pooled GPUBuffer per allocation. */

import type { Storage } from '@tessera/core';

export class GPUStorage implements Storage {
  readonly backend = 'webgpu';
  freed = false;
  constructor(
    readonly id: number,
    readonly bytes: number,
    /** The pooled buffer (its size is a size class >= bytes). */
    public buffer: GPUBuffer,
  ) {}
}

/** The GPUBuffer behind a storage that validation already accepted. */
export function bufferOf(s: Storage): GPUBuffer {
  return (s as GPUStorage).buffer;
}
