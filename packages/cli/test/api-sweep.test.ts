/**
 * A bad-input sweep of the public API (reliability issue #19): each argument of each call site
 * below is replaced, one at a time, by each of `BAD` (NaN, the infinities, negatives, fractions,
 * 2^53, a string, null, an object, an array, a boolean, undefined). Every call must either
 * succeed or throw a TesseraError, within a second, with memory() unchanged afterwards; a raw
 * TypeError / RangeError is a failure, and so is accepting a value that is not a finite number
 * (NaN, Infinity, a string, null, ...) where a number is wanted ("silent acceptance"), unless
 * the site says the parameter is optional (undefined, or null in an options object, means the
 * default), infinity is meaningful there, or it is not numeric. @tessera/metrics, usable alone,
 * throws its own MetricsError.
 *
 * Call sites span the packages a user calls directly: tensor creation and ops, nn modules,
 * GPT-2 and its sampler, tokenizers, optimizers and schedulers, gradient clipping, metrics.
 */
import { TesseraError } from '@tessera/core';
import { MetricsError, accuracy, f1Score, logLoss, perplexityFromLosses, rocAuc, topKAccuracy } from '@tessera/metrics';
import { CharTokenizer, Embedding, GPT2, LayerNorm, Linear } from '@tessera/models';
import { AdamW, CosineAnnealingLR, SGD, StepLR, WarmupCosineLR, clipGradNorm, clipGradValue } from '@tessera/optim';
import * as T from '@tessera/tensor';
import { beforeAll, describe, expect, it } from 'vitest';

const BAD: readonly [string, unknown][] = [
  ['NaN', Number.NaN],
  ['Infinity', Number.POSITIVE_INFINITY],
  ['-Infinity', Number.NEGATIVE_INFINITY],
  ['-1', -1],
  ['0', 0],
  ['1.5', 1.5],
  ['2^53', 2 ** 53],
  ['"3"', '3'],
  ['null', null],
  ['{}', {}],
  ['[]', []],
  ['true', true],
  ['undefined', undefined],
];

/** A call site: `call(args)` with `args` its valid arguments; `numeric` lists the argument indices that must be numbers. */
interface Site {
  name: string;
  args: () => unknown[];
  call: (args: unknown[]) => unknown;
  /** Indices of arguments where a non-finite or non-number value must be refused (undefined allowed where `optional`). */
  numeric: number[];
  /** Arguments that may be left out: undefined (and, for a field of an options object, null) means the default. */
  optional?: number[];
  /** Arguments where +-Infinity is meaningful (no clipping, an infinite loss). */
  infinite?: number[];
  /** Arguments that also take a list (an axis list; [] reduces over no axis, as NumPy's axis=()). */
  lists?: number[];
}

let w: T.Tensor;
let tok: CharTokenizer;
let gpt: GPT2;

beforeAll(async () => {
  await T.ready();
  w = T.tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
  T.keep(w);
  tok = CharTokenizer.fromCorpus('abcdef');
  gpt = new GPT2({ vocab_size: 8, n_positions: 8, n_embd: 8, n_layer: 1, n_head: 2, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 }, { seed: 1 });
});

const dispose = (r: unknown): void => {
  if (r instanceof T.Tensor) r.dispose();
  else if (r && typeof r === 'object' && 'dispose' in r && typeof (r as { dispose: unknown }).dispose === 'function') (r as { dispose(): void }).dispose();
};

const SITES: Site[] = [
  { name: 'zeros([n, 2])', args: () => [3], call: ([n]) => T.zeros([n as number, 2]), numeric: [0] },
  { name: 'arange(start, end, step)', args: () => [0, 5, 1], call: ([a, b, s]) => T.arange(a as number, b as number, s as number), numeric: [0, 1, 2], optional: [1, 2] },
  { name: 'randn([2], { mean, std })', args: () => [0, 1], call: ([mean, std]) => T.randn([2], { mean: mean as number, std: std as number, seed: 1 }), numeric: [0, 1], optional: [0, 1] },
  { name: 'full([2], value)', args: () => [1], call: ([v]) => T.full([2], v as number), numeric: [] },
  { name: 'reshape(w, [n, -1])', args: () => [4], call: ([n]) => T.reshape(w, [n as number, -1]), numeric: [0] },
  { name: 'sum(w, axis)', args: () => [0], call: ([a]) => T.sum(w, a as number), numeric: [0], optional: [0], lists: [0] },
  { name: 'softmax(w, axis)', args: () => [-1], call: ([a]) => T.softmax(w, a as number), numeric: [0], optional: [0] },
  { name: 'narrow(w, axis, start, length)', args: () => [0, 0, 1], call: ([a, s, l]) => T.narrow(w, a as number, s as number, l as number), numeric: [0, 1, 2] },
  { name: 'dropout(w, p)', args: () => [0.5], call: ([p]) => T.dropout(w, p as number, { seed: 1 }), numeric: [0], optional: [0] },
  { name: 'layerNorm(w, eps)', args: () => [1e-5], call: ([eps]) => T.layerNorm(w, undefined, null, null, eps as number), numeric: [0], optional: [0] },
  { name: 'clamp(w, lo, hi)', args: () => [0, 1], call: ([lo, hi]) => T.clamp(w, lo as number, hi as number), numeric: [] },
  { name: 'new Linear(in, out)', args: () => [2, 3], call: ([a, b]) => new Linear(a as number, b as number, { seed: 1 }), numeric: [0, 1] },
  { name: 'new Embedding(n, dim)', args: () => [4, 2], call: ([a, b]) => new Embedding(a as number, b as number, { seed: 1 }), numeric: [0, 1] },
  { name: 'new LayerNorm(dim, { eps })', args: () => [2, 1e-5], call: ([d, eps]) => new LayerNorm(d as number, { eps: eps as number }), numeric: [0, 1], optional: [1] },
  {
    name: 'new GPT2({ n_layer, n_embd })',
    args: () => [1, 8],
    call: ([l, e]) => new GPT2({ vocab_size: 8, n_positions: 4, n_head: 1, n_layer: l as number, n_embd: e as number }),
    numeric: [0, 1],
    optional: [0, 1],
  },
  { name: 'tok.decode([id])', args: () => [1], call: ([id]) => tok.decode([id as number]), numeric: [0] },
  { name: 'tok.encode(text)', args: () => ['abc'], call: ([s]) => tok.encode(s as string), numeric: [] },
  {
    name: 'gpt.generate(ids, { maxNewTokens, temperature, topK, topP })',
    args: () => [2, 0.8, 3, 0.9],
    call: ([m, t, k, p]) => gpt.generate([1, 2], { maxNewTokens: m as number, temperature: t as number, topK: k as number, topP: p as number, seed: 1 }),
    numeric: [0, 1, 2, 3],
    optional: [0, 1, 2, 3],
  },
  {
    name: 'new AdamW([w], { lr, betas, eps, weightDecay })',
    args: () => [1e-3, 0.9, 1e-8, 0.01],
    call: ([lr, b1, eps, wd]) => new AdamW([w], { lr: lr as number, betas: [b1 as number, 0.999], eps: eps as number, weightDecay: wd as number }),
    numeric: [0, 1, 2, 3],
    optional: [0, 2, 3],
  },
  {
    name: 'new SGD([w], { lr, momentum })',
    args: () => [0.1, 0.9],
    call: ([lr, m]) => new SGD([w], { lr: lr as number, momentum: m as number }),
    numeric: [0, 1],
    optional: [0, 1],
  },
  {
    name: 'new WarmupCosineLR(opt, { warmupSteps, totalSteps, minLr })',
    args: () => [2, 10, 0],
    call: ([ws, ts, m]) => new WarmupCosineLR(new SGD([w], { lr: 0.1 }), { warmupSteps: ws as number, totalSteps: ts as number, minLr: m as number }),
    numeric: [0, 1, 2],
    optional: [0, 2],
  },
  { name: 'new StepLR(opt, { stepSize, gamma })', args: () => [2, 0.5], call: ([s, g]) => new StepLR(new SGD([w], { lr: 0.1 }), { stepSize: s as number, gamma: g as number }), numeric: [0, 1], optional: [1] },
  { name: 'new CosineAnnealingLR(opt, { tMax, etaMin })', args: () => [5, 0], call: ([t, e]) => new CosineAnnealingLR(new SGD([w], { lr: 0.1 }), { tMax: t as number, etaMin: e as number }), numeric: [0, 1], optional: [1] },
  { name: 'clipGradNorm([w], maxNorm)', args: () => [1], call: ([m]) => clipGradNorm([w], m as number), numeric: [0], infinite: [0] },
  { name: 'clipGradValue([w], clip)', args: () => [1], call: ([c]) => clipGradValue([w], c as number), numeric: [0], infinite: [0] },
  { name: 'accuracy(yTrue, [p, 1])', args: () => [0], call: ([p]) => accuracy([0, 1], [p as number, 1]), numeric: [0] },
  { name: 'f1Score(yTrue, [p, 1])', args: () => [0], call: ([p]) => f1Score([0, 1], [p as number, 1]), numeric: [0] },
  { name: 'rocAuc(yTrue, [s, 0.9])', args: () => [0.1], call: ([s]) => rocAuc([0, 1], [s as number, 0.9]), numeric: [0] },
  { name: 'logLoss(yTrue, [[p, 1 - p], ...])', args: () => [0.2], call: ([p]) => logLoss([0, 1], [[p as number, 0.8], [0.3, 0.7]]), numeric: [0] },
  { name: 'topKAccuracy(yTrue, scores, { k })', args: () => [1], call: ([k]) => topKAccuracy([0, 1], [[0.9, 0.1], [0.2, 0.8]], { k: k as number }), numeric: [0], optional: [0] },
  { name: 'perplexityFromLosses([l, 2])', args: () => [1], call: ([l]) => perplexityFromLosses([l as number, 2]), numeric: [0], infinite: [0] },
];

/** Whether accepting `v` for argument `i` of `site` would be silent acceptance of a non-number. */
function mustRefuse(site: Site, i: number, v: unknown): boolean {
  if (!site.numeric.includes(i)) return false;
  if ((v === undefined || v === null) && site.optional?.includes(i)) return false;
  if (Array.isArray(v) && site.lists?.includes(i)) return false;
  if (typeof v === 'number') return Number.isNaN(v) || (!Number.isFinite(v) && !site.infinite?.includes(i));
  return true;
}

/** @tessera/metrics is usable without the rest of Tessera, so its typed error is its own MetricsError. */
const typed = (e: unknown): e is Error => e instanceof TesseraError || e instanceof MetricsError;

describe('public API sweep: every bad argument is refused with a TesseraError or accepted as valid, never a raw error', () => {
  it(`${SITES.length} call sites x ${BAD.length} values`, async () => {
    const problems: string[] = [];
    let refused = 0;
    let accepted = 0;
    for (const site of SITES) {
      const valid = site.args();
      for (let i = 0; i < valid.length; i++) {
        for (const [label, value] of BAD) {
          const args = valid.slice();
          args[i] = value;
          const what = `${site.name} with argument ${i} = ${label}`;
          const before = T.memory();
          const t0 = performance.now();
          let result: unknown;
          let error: unknown;
          try {
            result = await site.call(args);
          } catch (e) {
            error = e;
          }
          const ms = performance.now() - t0;
          if (error !== undefined) {
            if (!typed(error)) problems.push(`${what}: raw ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`);
            else {
              refused++;
              if (/\bnull\b/.test(error.message) && value !== null) problems.push(`${what}: the message prints null: ${error.message}`);
            }
            const now = T.memory();
            if (now.numTensors !== before.numTensors || now.numBytes !== before.numBytes) problems.push(`${what}: memory() changed after the throw`);
          } else {
            accepted++;
            dispose(result);
            if (mustRefuse(site, i, value)) problems.push(`${what}: accepted silently`);
          }
          // A refusal must be quick; an accepted default may legitimately build something large.
          if (error !== undefined && ms > 1000) problems.push(`${what}: refused after ${ms.toFixed(0)} ms`);
        }
      }
    }
    const cases = refused + accepted;
    console.log(`API sweep: ${SITES.length} call sites, ${cases} cases, ${refused} refused, ${accepted} accepted`);
    expect(problems, `${problems.length} of ${cases} cases`).toEqual([]);
  });
});
