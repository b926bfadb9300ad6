/** Helpers of the ONNX export tests: onnxruntime feeds for GPT-2 exports and closeness. */

import type * as ortNode from 'onnxruntime-node';
import { expect } from 'vitest';

export type Ort = typeof ortNode;
export type Feeds = Record<string, ortNode.Tensor>;

/** int64 [rows, cols] tensor. */
export function i64(ort: Ort, rows: number[][]): ortNode.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0].length]);
}

/** Largest |a - b| (same lengths). */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** A GPT-2 export's cache layout: layers, heads, head dim. */
export interface CacheShape {
  layers: number;
  heads: number;
  headDim: number;
}

/** Empty past_key_values [B, H, 0, D] for a first (prompt) run. */
export function emptyPast(ort: Ort, batch: number, { layers, heads, headDim }: CacheShape): Feeds {
  const feeds: Feeds = {};
  for (let i = 0; i < layers; i++) for (const p of ['key', 'value']) feeds[`past_key_values.${i}.${p}`] = new ort.Tensor('float32', new Float32Array(0), [batch, heads, 0, headDim]);
  return feeds;
}

/** present.* of one run as the past_key_values.* of the next. */
export function presentAsPast(out: Record<string, ortNode.Tensor>, layers: number): Feeds {
  const feeds: Feeds = {};
  for (let i = 0; i < layers; i++) for (const p of ['key', 'value']) feeds[`past_key_values.${i}.${p}`] = out[`present.${i}.${p}`];
  return feeds;
}
