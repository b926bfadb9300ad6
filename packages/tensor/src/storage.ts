/**
 * Storage lifetime. Every Tensor handle holds one reference on a refcounted
 * `StorageRef`; views add handles, and the backend storage is freed when the
 * last handle is disposed (or garbage-collected, via the FinalizationRegistry
 * safety net).
 */

import type { Backend, Storage } from '@tessera/core';

/** Live-object counters behind `memory()`. */
export const counters = { tensors: 0, bytes: 0 };

/** A backend storage shared by every tensor handle that views it. */
export class StorageRef {
  /** Handles (tensors) currently holding this storage. */
  refs = 0;
  /** Bumped by every in-place write; autograd checks it on saved tensors. */
  version = 0;
  /**
   * Matmul B operands packed ahead from this storage (prepackMatmulWeights), keyed by
   * `offset:k:n:transB`; an entry whose version is behind `version` is repacked before use.
   * Freed with the storage.
   */
  packs: Map<string, { storage: Storage; version: number }> | null = null;

  constructor(
    readonly backend: Backend,
    readonly storage: Storage,
  ) {
    counters.bytes += storage.bytes;
  }

  retain(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs === 0) {
      counters.bytes -= this.storage.bytes;
      this.backend.free(this.storage);
      this.dropPacks();
    }
  }

  /** Frees the packed copy stored under `key`, if there is one. */
  dropPack(key: string): void {
    const p = this.packs?.get(key);
    if (!p) return;
    counters.bytes -= p.storage.bytes;
    this.backend.free(p.storage);
    this.packs!.delete(key);
    if (this.packs!.size === 0) this.packs = null;
  }

  /** Frees every packed copy made from this storage. */
  dropPacks(): void {
    if (!this.packs) return;
    for (const key of [...this.packs.keys()]) this.dropPack(key);
  }
}

/**
 * What the FinalizationRegistry holds for a tensor: its storage reference and
 * nothing that can reach the tensor again (so the tensor stays collectable).
 * A collected tensor's autograd node is not released here; if the node is
 * garbage too, its saved tensors are collected (and freed) the same way.
 */
export interface Life {
  ref: StorageRef;
  released: boolean;
}

/** Releases a handle's storage reference exactly once. */
export function releaseLife(life: Life): void {
  if (life.released) return;
  life.released = true;
  counters.tensors--;
  life.ref.release();
}

// Safety net: a tensor that becomes garbage without dispose() still gives back its storage.
const registry =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<Life>((life) => {
        try {
          releaseLife(life);
        } catch {
          // A backend that was torn down cannot free; nothing else to do in a finalizer.
        }
      })
    : null;

/** Counts a new handle and registers it with the safety net. */
export function registerLife(owner: object, life: Life): void {
  counters.tensors++;
  life.ref.retain();
  registry?.register(owner, life, owner);
}

/** Releases a handle explicitly (dispose) and unregisters it from the safety net. */
export function disposeLife(owner: object, life: Life): void {
  if (life.released) return;
  registry?.unregister(owner);
  releaseLife(life);
}
