/**
 * Structured pruning of GPT-2 bodies: whole attention heads or MLP hidden units are removed, so
 * the matrices (and the config) shrink. The result is a standard, smaller GPT-2: neurons change
 * `n_inner` (the same count is removed from every layer, since GPT-2 has one n_inner), heads are
 * recorded in `config.pruned_heads` with Hugging Face's meaning (indices among the original
 * n_head heads of each layer), with c_attn / c_proj shrunk as transformers' `prune_heads` does.
 *
 * Importance (the score ranked, lowest removed first, ties to the lower index): the L2 norm of
 * every weight that belongs to the unit alone. An MLP unit j owns column j of c_fc.weight, c_fc
 * bias j and row j of mlp.c_proj.weight; a head h owns its D columns in each of the q, k and v
 * thirds of c_attn.weight and c_attn.bias and its D rows of attn.c_proj.weight.
 */

import { ArgumentError } from '@tessera/core';
import { layerHeads, innerSize, type GPT2Config } from '../gpt2/config.js';
import { GPT2 } from '../gpt2/model.js';
import { GPT2ForSequenceClassification } from '../gpt2/sequence-classification.js';
import { TransformerEncoderClassifier } from '../classifiers/transformer-encoder-classifier.js';
import type { Module } from '../nn/module.js';
import type { StateDictValue } from '../nn/module.js';
import { pruneCount } from './magnitude.js';
import { hostValues } from './targets.js';

/** The GPT-2 models structured pruning rebuilds. */
export type GPT2Like = GPT2 | GPT2ForSequenceClassification;

type Host = Map<string, Float32Array>;

/** The `count` lowest-scoring indices of `scores` (ties to the lower index). */
function lowest(scores: readonly number[], count: number): number[] {
  return scores
    .map((s, i) => [s, i] as const)
    .sort((a, b) => a[0] - b[0] || a[1] - b[1])
    .slice(0, count)
    .map(([, i]) => i);
}

/** Columns `keep` of a row-major [rows, cols] matrix. */
function takeColumns(m: Float32Array, rows: number, cols: number, keep: readonly number[]): Float32Array {
  const out = new Float32Array(rows * keep.length);
  for (let r = 0; r < rows; r++) for (let j = 0; j < keep.length; j++) out[r * keep.length + j] = m[r * cols + keep[j]];
  return out;
}

/** Rows `keep` of a row-major [rows, cols] matrix. */
function takeRows(m: Float32Array, cols: number, keep: readonly number[]): Float32Array {
  const out = new Float32Array(keep.length * cols);
  keep.forEach((r, i) => out.set(m.subarray(r * cols, (r + 1) * cols), i * cols));
  return out;
}

const sq = (a: Float32Array, idx: Iterable<number>): number => {
  let s = 0;
  for (const i of idx) s += a[i] * a[i];
  return s;
};

function* range(start: number, n: number, step = 1): Generator<number> {
  for (let i = 0; i < n; i++) yield start + i * step;
}

/** Per layer: the MLP units' scores (see the module comment). */
function neuronScores(host: Host, prefix: string, C: number, I: number): number[] {
  const fcW = host.get(`${prefix}.mlp.c_fc.weight`)!; // [C, I]
  const fcB = host.get(`${prefix}.mlp.c_fc.bias`)!; // [I]
  const projW = host.get(`${prefix}.mlp.c_proj.weight`)!; // [I, C]
  return Array.from({ length: I }, (_, j) => Math.sqrt(sq(fcW, range(j, C, I)) + fcB[j] * fcB[j] + sq(projW, range(j * C, C))));
}

/** Per layer: the heads' scores (see the module comment); `H` heads of `D` dims, attention width A = H D. */
function headScores(host: Host, prefix: string, C: number, H: number, D: number): number[] {
  const A = H * D;
  const attnW = host.get(`${prefix}.attn.c_attn.weight`)!; // [C, 3A]
  const attnB = host.get(`${prefix}.attn.c_attn.bias`)!; // [3A]
  const projW = host.get(`${prefix}.attn.c_proj.weight`)!; // [A, C]
  return Array.from({ length: H }, (_, h) => {
    let s = sq(projW, range(h * D * C, D * C));
    for (let part = 0; part < 3; part++) {
      const col = part * A + h * D;
      for (let d = 0; d < D; d++) s += sq(attnW, range(col + d, C, 3 * A)) + attnB[col + d] * attnB[col + d];
    }
    return Math.sqrt(s);
  });
}

/** Removes `removed` hidden units of layer `prefix` from `host` in place. */
function dropNeurons(host: Host, prefix: string, C: number, I: number, removed: readonly number[]): void {
  const gone = new Set(removed);
  const keep = [...range(0, I)].filter((j) => !gone.has(j));
  const name = (s: string): string => `${prefix}.mlp.${s}`;
  host.set(name('c_fc.weight'), takeColumns(host.get(name('c_fc.weight'))!, C, I, keep));
  host.set(name('c_fc.bias'), takeColumns(host.get(name('c_fc.bias'))!, 1, I, keep));
  host.set(name('c_proj.weight'), takeRows(host.get(name('c_proj.weight'))!, C, keep));
}

/** Removes heads `removed` (current indices) of layer `prefix`, which has `H` heads of `D` dims. */
function dropHeads(host: Host, prefix: string, C: number, H: number, D: number, removed: readonly number[]): void {
  const gone = new Set(removed);
  const heads = [...range(0, H)].filter((h) => !gone.has(h));
  const A = H * D;
  // The kept columns of each third (q, k, v) of c_attn, HF's `index_attn`.
  const cols = [0, 1, 2].flatMap((part) => heads.flatMap((h) => [...range(part * A + h * D, D)]));
  const rows = heads.flatMap((h) => [...range(h * D, D)]);
  const name = (s: string): string => `${prefix}.attn.${s}`;
  host.set(name('c_attn.weight'), takeColumns(host.get(name('c_attn.weight'))!, C, 3 * A, cols));
  host.set(name('c_attn.bias'), takeColumns(host.get(name('c_attn.bias'))!, 1, 3 * A, cols));
  host.set(name('c_proj.weight'), takeRows(host.get(name('c_proj.weight'))!, C, rows));
}

/** The original head indices layer `l` still has (n_head less its pruned heads), ascending. */
function remainingHeads(config: GPT2Config, l: number): number[] {
  const pruned = new Set(config.pruned_heads[String(l)] ?? []);
  return [...range(0, config.n_head)].filter((h) => !pruned.has(h));
}

/**
 * A new model of `model`'s class with `amount` of its heads or MLP units removed (see the module
 * comment); `model` is left as it was. Heads: `scope: 'layer'` removes round(amount * H_l) from
 * each layer, `'global'` the round(amount * total) lowest-scoring across layers; a layer would
 * lose every head is an ArgumentError. Neurons: round(amount * n_inner) from every layer.
 */
export async function structuredPrune<M extends GPT2Like>(model: M, method: 'heads' | 'neurons', amount: number, scope: 'global' | 'layer'): Promise<M> {
  const config = model.config;
  const C = config.n_embd;
  const L = config.n_layer;
  const D = C / config.n_head;
  const host = await hostValues(model, model.namedParameters());
  const prefix = (l: number): string => `transformer.h.${l}`;
  let next: GPT2Config;
  if (method === 'neurons') {
    const I = innerSize(config);
    const k = pruneCount(amount, I);
    if (k >= I) throw new ArgumentError(`prune: amount ${amount} removes all ${I} MLP units (n_inner) of every layer; use an amount below ${(I - 0.5) / I}`);
    for (let l = 0; l < L; l++) dropNeurons(host, prefix(l), C, I, lowest(neuronScores(host, prefix(l), C, I), k));
    next = { ...config, n_inner: I - k };
  } else {
    const heads = Array.from({ length: L }, (_, l) => layerHeads(config, l));
    const scores = heads.map((H, l) => headScores(host, prefix(l), C, H, D));
    let removed: number[][];
    if (scope === 'layer') removed = scores.map((s, l) => lowest(s, pruneCount(amount, heads[l])));
    else {
      const all = scores.flatMap((s, l) => s.map((score, h) => ({ score, l, h })));
      all.sort((a, b) => a.score - b.score || a.l - b.l || a.h - b.h);
      removed = heads.map(() => []);
      for (const { l, h } of all.slice(0, pruneCount(amount, all.length))) removed[l].push(h);
    }
    removed.forEach((r, l) => {
      if (r.length >= heads[l]) {
        throw new ArgumentError(
          `prune: amount ${amount} (scope '${scope}') would remove all ${heads[l]} remaining heads of layer ${l}; a layer must keep at least one head (use a smaller amount${scope === 'global' ? '' : " or scope 'global'"})`,
        );
      }
    });
    const pruned: Record<string, number[]> = {};
    for (let l = 0; l < L; l++) {
      const original = remainingHeads(config, l);
      const all = [...(config.pruned_heads[String(l)] ?? []), ...removed[l].map((h) => original[h])].sort((a, b) => a - b);
      if (all.length > 0) pruned[String(l)] = all;
      if (removed[l].length > 0) dropHeads(host, prefix(l), C, heads[l], D, removed[l]);
    }
    next = { ...config, pruned_heads: pruned };
  }
  const out = (
    model instanceof GPT2ForSequenceClassification ? new GPT2ForSequenceClassification(next, { numLabels: model.numLabels, init: false }) : new GPT2(next, { init: false })
  ) as M;
  loadHost(out, host);
  out.tokenizer = model.tokenizer;
  out.train(model.training);
  return out;
}

/** Loads `host` (by name) into `out`'s parameters, disposing `out` if that fails. */
function loadHost(out: Module, host: Host): void {
  try {
    const dict = new Map<string, StateDictValue>();
    for (const [name, p] of out.namedParameters()) dict.set(name, { shape: p.shape, data: host.get(name)! });
    out.loadStateDict(dict);
  } catch (e) {
    out.dispose();
    throw e;
  }
}

/**
 * A TransformerEncoderClassifier with round(amount * dFF) feed-forward units removed from every
 * block (the lowest-scoring ones: L2 norm of the unit's row of ff.fc1.weight [dFF, dModel], its
 * ff.fc1.bias entry and its column of ff.fc2.weight [dModel, dFF]); `model` is left as it was.
 */
export async function encoderNeuronPrune(model: TransformerEncoderClassifier, amount: number): Promise<TransformerEncoderClassifier> {
  const { dModel: C, dFF: I, numLayers: L } = model.options;
  const k = pruneCount(amount, I);
  if (k >= I) throw new ArgumentError(`prune: amount ${amount} removes all ${I} feed-forward units (dFF) of every block; use an amount below ${(I - 0.5) / I}`);
  const host = await hostValues(model, model.namedParameters());
  for (let l = 0; l < L; l++) {
    const name = (s: string): string => `encoder.layers.${l}.ff.${s}`;
    const w1 = host.get(name('fc1.weight'))!; // [I, C]
    const b1 = host.get(name('fc1.bias'))!; // [I]
    const w2 = host.get(name('fc2.weight'))!; // [C, I]
    const scores = Array.from({ length: I }, (_, j) => Math.sqrt(sq(w1, range(j * C, C)) + b1[j] * b1[j] + sq(w2, range(j, C, I))));
    const gone = new Set(lowest(scores, k));
    const keep = [...range(0, I)].filter((j) => !gone.has(j));
    host.set(name('fc1.weight'), takeRows(w1, C, keep));
    host.set(name('fc1.bias'), takeColumns(b1, 1, I, keep));
    host.set(name('fc2.weight'), takeColumns(w2, C, I, keep));
  }
  const out = new TransformerEncoderClassifier({ ...model.options, dFF: I - k });
  loadHost(out, host);
  out.train(model.training);
  return out;
}
