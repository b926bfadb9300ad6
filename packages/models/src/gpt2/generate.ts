/**
 * Autoregressive generation with a KV cache: the prompt is run once
 * (prefill), then each step feeds only the newest token. Logits of the last
 * position come back to the host, where the Sampler picks the next token.
 */

import { ArgumentError } from '@tessera/core';
import { noGrad, type Tensor } from '@tessera/tensor';
import type { GPT2Config } from './config.js';
import type { KVCache } from './kv-cache.js';
import { Sampler, checkSamplingOptions, type SamplingOptions } from './sampling.js';

/** Options of `generate` and `stream`. */
export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate at most (default 20). */
  maxNewTokens?: number;
  /** Generation stops when one of these is sampled; it is not returned. Default: [eos_token_id]; [] never stops early. */
  stopTokens?: Iterable<number>;
  /** Called with each new token and its index; returning `false` stops generation after it. */
  onToken?: (token: number, index: number) => void | boolean;
  /**
   * When the context reaches n_positions: 'slide' (default) keeps the most
   * recent n_positions/2 tokens and recomputes the cache from them; 'stop' ends
   * generation. A prompt longer than n_positions is cut to its last tokens
   * with 'slide' and refused with 'stop'.
   */
  onContextFull?: 'slide' | 'stop';
}

/** What generation needs from a model. */
export interface CausalLM {
  readonly config: GPT2Config;
  createKVCache(): KVCache;
  /** Logits [1, V] of the last of `ids`, fed after the cached positions. */
  forwardCached(ids: readonly number[], cache: KVCache, options?: { allLogits?: boolean }): Tensor;
}

/** Resolves after pending I/O and timers had a chance to run (setImmediate where it exists). */
function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
  return new Promise((resolve) => (g.setImmediate ? g.setImmediate(resolve) : setTimeout(resolve, 0)));
}

/** Checks options and the prompt (errors name `op`); returns the resolved settings. */
export function resolveGenerateOptions(op: string, model: CausalLM, prompt: readonly number[], o: GenerateOptions) {
  if (o === null || typeof o !== 'object') throw new ArgumentError(`${op}: options must be an object`);
  checkSamplingOptions(op, o);
  const maxNewTokens = o.maxNewTokens ?? 20;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new ArgumentError(`${op}: maxNewTokens must be an integer >= 0, got ${maxNewTokens}`);
  const mode = o.onContextFull ?? 'slide';
  if (mode !== 'slide' && mode !== 'stop') throw new ArgumentError(`${op}: onContextFull must be 'slide' or 'stop', got ${String(mode)}`);
  if (o.onToken !== undefined && typeof o.onToken !== 'function') throw new ArgumentError(`${op}: onToken must be a function`);
  const V = model.config.vocab_size;
  if (!Array.isArray(prompt)) throw new ArgumentError(`${op}: the prompt must be an array of token ids`);
  prompt.forEach((t, i) => {
    if (!Number.isInteger(t) || t < 0 || t >= V) throw new ArgumentError(`${op}: prompt token ${i} is ${t}, not an id in [0, ${V})`);
  });
  const P = model.config.n_positions;
  let context = prompt.length > 0 ? prompt.slice() : [model.config.bos_token_id];
  if (context.length > P) {
    if (mode === 'stop') throw new ArgumentError(`${op}: the prompt has ${context.length} tokens but the model's context is n_positions = ${P}`);
    context = context.slice(context.length - P);
  }
  const stopIn: unknown = o.stopTokens ?? [model.config.eos_token_id];
  // A string is iterable too (its characters would become the stop set): only a collection of ids is accepted.
  if (typeof stopIn === 'string' || stopIn === null || typeof stopIn !== 'object' || !(Symbol.iterator in stopIn)) {
    throw new ArgumentError(`${op}: stopTokens must be an array (or iterable) of token ids, got ${typeof stopIn === 'string' ? JSON.stringify(stopIn) : String(stopIn)}`);
  }
  const stop = new Set<number>();
  let k = 0;
  for (const t of stopIn as Iterable<unknown>) {
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t >= V) throw new ArgumentError(`${op}: stopTokens[${k}] is ${typeof t === 'string' ? JSON.stringify(t) : String(t)}, not an id in [0, ${V})`);
    stop.add(t);
    k++;
  }
  return { maxNewTokens, mode, context, stop };
}

/**
 * Yields generated token ids one by one (see `GenerateOptions`). Breaking out
 * of the loop frees the cache.
 */
export async function* streamTokens(model: CausalLM, prompt: readonly number[], options: GenerateOptions = {}): AsyncGenerator<number, void, undefined> {
  const { maxNewTokens, mode, context, stop } = resolveGenerateOptions('generate', model, prompt, options);
  if (maxNewTokens === 0) return;
  const sampler = new Sampler(options);
  const P = model.config.n_positions;
  const keep = Math.max(1, Math.floor(P / 2));
  const tokens = context;
  const cache = model.createKVCache();
  const step = async (ids: readonly number[]): Promise<number> => {
    const logits = noGrad(() => model.forwardCached(ids, cache));
    try {
      // One read per step: the last position's logits [1, V], which the sampler needs on the host.
      return sampler.next((await logits.data()) as Float32Array);
    } finally {
      logits.dispose();
    }
  };
  try {
    let next = await step(tokens);
    for (let n = 0; n < maxNewTokens; n++) {
      if (stop.has(next)) return;
      tokens.push(next);
      yield next;
      if (options.onToken?.(next, n) === false || n === maxNewTokens - 1) return;
      await yieldToEventLoop();
      if (cache.length === P) {
        if (mode === 'stop') return;
        cache.reset();
        next = await step(tokens.slice(tokens.length - keep));
      } else next = await step([next]);
    }
  } finally {
    cache.dispose();
  }
}

/** Collects `streamTokens` into an array. */
export async function generateTokens(model: CausalLM, prompt: readonly number[], options: GenerateOptions = {}): Promise<number[]> {
  const out: number[] = [];
  for await (const t of streamTokens(model, prompt, options)) out.push(t);
  return out;
}
