/**
 * Next-token choice from logits on the host: greedy, or sampling with
 * temperature, top-k and top-p (applied in that order, as Hugging Face's
 * logits warpers are) from a seeded generator.
 */

import { ArgumentError } from '@tessera/core';

/** How the next token is chosen. */
export interface SamplingOptions {
  /** Always take the most likely token (lowest id on ties). Default false. */
  greedy?: boolean;
  /** Divides the logits; 0 means greedy. Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens (ties with the k-th are kept); 0 or undefined: no limit. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p, in (0, 1]; 1: no limit. */
  topP?: number;
  /** Seed of the sampling generator (same seed, same tokens); default: a random seed. */
  seed?: number;
}

/** mulberry32: a small, fast, seeded generator of uniforms in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Validates sampling options; throws ArgumentError naming the bad one. */
export function checkSamplingOptions(op: string, o: SamplingOptions): void {
  if (o.temperature !== undefined && (typeof o.temperature !== 'number' || !(o.temperature >= 0) || !Number.isFinite(o.temperature))) {
    throw new ArgumentError(`${op}: temperature must be a finite number >= 0, got ${o.temperature}`);
  }
  if (o.topK !== undefined && (!Number.isInteger(o.topK) || o.topK < 0)) throw new ArgumentError(`${op}: topK must be an integer >= 0, got ${o.topK}`);
  if (o.topP !== undefined && (typeof o.topP !== 'number' || !(o.topP > 0 && o.topP <= 1))) {
    throw new ArgumentError(`${op}: topP must be in (0, 1], got ${o.topP}`);
  }
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw new ArgumentError(`${op}: seed must be an integer, got ${o.seed}`);
}

/** Index of the largest value (lowest index on ties; NaN never wins). */
export function argmaxOf(values: ArrayLike<number>): number {
  let best = -1;
  let bestV = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v > bestV || (best < 0 && v === bestV)) {
      best = i;
      bestV = v;
    }
  }
  return best < 0 ? 0 : best;
}

/**
 * Picks the next token from `logits` (one row of V values).
 * @example const pick = new Sampler({ temperature: 0.8, topK: 40, seed: 1 }); pick.next(row)
 */
export class Sampler {
  private readonly random: () => number;
  private readonly greedy: boolean;
  private readonly temperature: number;
  private readonly topK: number;
  private readonly topP: number;
  private scratch = new Float32Array(0);

  constructor(options: SamplingOptions = {}) {
    checkSamplingOptions('Sampler', options);
    this.temperature = options.temperature ?? 1;
    this.greedy = options.greedy === true || this.temperature === 0;
    this.topK = options.topK ?? 0;
    this.topP = options.topP ?? 1;
    this.random = seededRandom(options.seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  /** The next token id for a row of logits. */
  next(logits: ArrayLike<number>): number {
    const V = logits.length;
    if (V === 0) throw new ArgumentError('Sampler.next: empty logits');
    if (this.greedy) return argmaxOf(logits);
    // probs = softmax(logits / temperature), over the tokens top-k keeps.
    const max = logits[argmaxOf(logits)];
    let floor = -Infinity;
    if (this.topK > 0 && this.topK < V) floor = this.kthLargest(logits, this.topK);
    if (this.scratch.length < V) this.scratch = new Float32Array(V);
    const p = this.scratch;
    let total = 0;
    for (let i = 0; i < V; i++) {
      const l = logits[i];
      p[i] = l >= floor ? Math.exp((l - max) / this.temperature) : 0;
      total += p[i];
    }
    if (!(total > 0) || !Number.isFinite(total)) return argmaxOf(logits);
    let threshold = 0;
    if (this.topP < 1) threshold = this.nucleusThreshold(p, V, total);
    // Draw among the kept tokens (prob >= threshold), in id order.
    let kept = 0;
    for (let i = 0; i < V; i++) if (p[i] >= threshold) kept += p[i];
    let u = this.random() * kept;
    let last = -1;
    for (let i = 0; i < V; i++) {
      if (p[i] === 0 || p[i] < threshold) continue;
      last = i;
      u -= p[i];
      if (u < 0) return i;
    }
    return last >= 0 ? last : argmaxOf(logits);
  }

  /** The k-th largest logit (values equal to it are kept, as in HF's top-k). */
  private kthLargest(logits: ArrayLike<number>, k: number): number {
    const sorted = Float32Array.from(logits as ArrayLike<number>).sort();
    return sorted[sorted.length - k];
  }

  /**
   * The smallest probability still in the nucleus: walking tokens from most to
   * least likely, a token is kept while the mass before it is below topP (so
   * the most likely token always is). Ties with the last kept value are kept.
   */
  private nucleusThreshold(p: Float32Array, V: number, total: number): number {
    const sorted = p.slice(0, V).sort();
    const target = this.topP * total;
    let before = 0;
    for (let i = V - 1; i >= 0; i--) {
      const v = sorted[i];
      if (v === 0) return sorted[i + 1] ?? v;
      if (before >= target) return sorted[i + 1];
      before += v;
    }
    return sorted[0];
  }
}
