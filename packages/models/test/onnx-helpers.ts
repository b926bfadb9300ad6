/** Helpers of the ONNX export tests: onnxruntime feeds for GPT-2 exports, the cached-decode check, closeness, Python's onnx checker. */

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { noGrad } from '@tessera/tensor';
import type * as ortNode from 'onnxruntime-node';
import { expect } from 'vitest';
import { argmaxOf, type GPT2 } from '../src/index.js';

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

/** What checkCachedDecode needs: a KV-cache export's session and the Tessera GPT-2 it came from. */
export interface CachedDecodeCheck {
  ort: Ort;
  session: ortNode.InferenceSession;
  model: GPT2;
  prompt: number[];
  steps: number;
  /** The largest |logit difference| allowed against Tessera's logits `expected`. */
  tolerance: (expected: Float32Array) => number;
  /** Also require generate({ greedy: true })'s tokens. */
  greedy: boolean;
}

/**
 * Runs the prompt with empty pasts, then `steps` greedy tokens one at a time (present fed back
 * as past), checking the cache shapes and each run's logits against forwardCached on one
 * Tessera KV cache, and the tokens against generate()'s when `greedy`.
 */
export async function checkCachedDecode({ ort, session, model, prompt, steps, tolerance, greedy }: CachedDecodeCheck): Promise<void> {
  const { n_layer: layers, n_head: heads, n_embd, vocab_size: V } = model.config;
  const headDim = n_embd / heads;
  const expectedTokens = await model.generate(prompt, { greedy: true, maxNewTokens: steps, stopTokens: [] });
  const cache = model.createKVCache();
  try {
    const reference = (ids: number[]): Float32Array =>
      noGrad(() => {
        const t = model.forwardCached(ids, cache, { allLogits: true });
        const v = t.dataSync() as Float32Array;
        t.dispose();
        return v;
      });
    let length = prompt.length;
    let out = await session.run({
      input_ids: i64(ort, [prompt]),
      attention_mask: i64(ort, [prompt.map(() => 1)]),
      position_ids: i64(ort, [prompt.map((_, i) => i)]),
      ...emptyPast(ort, 1, { layers, heads, headDim }),
    });
    let expected = reference(prompt);
    expect(maxDiff(out.logits.data as Float32Array, expected)).toBeLessThanOrEqual(tolerance(expected));
    const tokens: number[] = [];
    for (let step = 0; step < steps; step++) {
      expect(out[`present.${layers - 1}.value`].dims).toEqual([1, heads, length, headDim]);
      const last = out.logits.data as Float32Array;
      const next = argmaxOf(last.subarray(last.length - V));
      tokens.push(next);
      length++;
      out = await session.run({
        input_ids: i64(ort, [[next]]),
        attention_mask: i64(ort, [Array.from({ length }, () => 1)]),
        position_ids: i64(ort, [[length - 1]]),
        ...presentAsPast(out, layers),
      });
      expected = reference([next]);
      expect(maxDiff(out.logits.data as Float32Array, expected), `step ${step}`).toBeLessThanOrEqual(tolerance(expected));
    }
    if (greedy) expect(tokens).toEqual(expectedTokens);
  } finally {
    cache.dispose();
  }
}

/** The Python the onnx checks use ($TESSERA_PYTHON, else python3). */
export const PYTHON = process.env.TESSERA_PYTHON || 'python3';
const probe = spawnSync(PYTHON, ['-c', 'import onnx; print(onnx.__version__)'], { encoding: 'utf8' });
/** The `onnx` version PYTHON imports, or null when it cannot (the checks are then skipped). */
export const onnxVersion = probe.status === 0 ? probe.stdout.trim() : null;

/** Writes each of `files` (name -> bytes) into a temporary folder, and `more` there too, then runs onnx.checker.check_model(full_check=True) on all of them. */
export async function expectOnnxCheckerAccepts(files: ReadonlyMap<string, Uint8Array>, more: (dir: string) => Promise<string[]> = async () => []): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-onnx-check-'));
  try {
    const paths = [...files].map(([name, bytes]) => {
      const path = join(dir, `${name.replaceAll(' ', '-')}.onnx`);
      writeFileSync(path, bytes);
      return path;
    });
    paths.push(...(await more(dir)));
    const script = 'import onnx, sys\nfor p in sys.argv[1:]:\n    onnx.checker.check_model(onnx.load(p), full_check=True)\n    print("ok", p)';
    const res = spawnSync(PYTHON, ['-c', script, ...paths], { encoding: 'utf8', timeout: 60_000 });
    expect(res.status, `${res.stdout}${res.stderr}`).toBe(0);
    expect(res.stdout.trim().split('\n')).toHaveLength(paths.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
