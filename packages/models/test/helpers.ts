/** Shared test helpers: a small GPT-2 config, a seeded host RNG, closeness checks. */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 as rng } from '@tessera/testing';
import { afterAll, beforeAll, expect } from 'vitest';
import { tensor, type Tensor } from '@tessera/tensor';
import type { GPT2ConfigInput } from '../src/index.js';

/** The small GPT-2 most tests use (dropout off unless a test turns it on). */
export const SMALL: GPT2ConfigInput = {
  vocab_size: 64,
  n_positions: 32,
  n_embd: 32,
  n_layer: 2,
  n_head: 2,
  resid_pdrop: 0,
  embd_pdrop: 0,
  attn_pdrop: 0,
};

/** mulberry32: seeded uniforms in [0, 1) for host-side test data. */
export { rng };

/** Random token ids [rows][cols] in [0, vocab). */
export function randomIds(rows: number, cols: number, vocab: number, seed: number): number[][] {
  const r = rng(seed);
  return Array.from({ length: rows }, () => Array.from({ length: cols }, () => Math.floor(r() * vocab)));
}

/** An i32 tensor of ids. */
export function ids(data: number[][]): Tensor {
  return tensor(data, undefined, 'i32');
}

/** |a - b| <= rtol * max(|b|, mean |b|) elementwise (mean |b| keeps near-zero entries from demanding exactness). */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale += Math.abs(expected[i]);
  scale = expected.length ? scale / expected.length : 0;
  for (let i = 0; i < expected.length; i++) {
    const tol = rtol * Math.max(Math.abs(expected[i]), scale);
    if (!(Math.abs(actual[i] - expected[i]) <= tol)) {
      throw new Error(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]} (|diff| ${Math.abs(actual[i] - expected[i])} > tol ${tol})`);
    }
  }
}

/** Reads a tensor's values as a plain array. */
export function values(t: Tensor): number[] {
  return Array.from(t.dataSync());
}

/**
 * A temporary directory for the calling test file: made before its tests, removed with
 * everything in it after them. Returns a function giving its path (set once the tests run).
 */
export function useTempDir(prefix: string): () => string {
  let root = '';
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), prefix));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });
  return () => root;
}
