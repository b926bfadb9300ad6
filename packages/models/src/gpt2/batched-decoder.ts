/**
 * Continuous batching for GPT-2 decoding: several sequences, each with its own KV cache at its own
 * length, advance one token each in ONE forward. The Conv1D products and the LM head run on the
 * stacked [B, C] rows (one matrix product of B rows, so each weight is read once per step instead
 * of once per sequence); attention runs row by row against that row's own cache, since the rows
 * attend over different lengths. Sequences join (their prompt is prefilled by a forward of its
 * own) and leave between steps, and each samples with its own settings.
 */

import { ArgumentError, ShapeError } from '@tessera/core';
import { add, concat, noGrad, scaledDotProductAttention, tensor, tidy, type Tensor } from '@tessera/tensor';
import type { GPT2Attention } from './attention.js';
import { resolveGenerateOptions, type CausalLM, type GenerateOptions } from './generate.js';
import type { KVCache, LayerCache } from './kv-cache.js';
import { Sampler } from './sampling.js';
import type { GPT2Model } from './transformer.js';

/** What batched decoding needs from a model: `GPT2` (its prefill, its caches and its batched step). */
export interface BatchedCausalLM extends CausalLM {
  /** Logits [B, V]: row b is the next-token logits of `caches[b]`'s sequence continued by `tokens[b]`. */
  decodeBatch(tokens: readonly number[], caches: readonly KVCache[]): Tensor;
}

/**
 * One attention layer for B decode rows x [B, C], each against its own cache layer at its own
 * position: one c_attn and one c_proj product for all rows; per row, its key and value are
 * written into its cache and its query attends over that cache's positions 0..pos.
 */
function attentionStep(attn: GPT2Attention, x: Tensor, layers: readonly LayerCache[], positions: readonly number[]): Tensor {
  const B = layers.length;
  const H = attn.numHeads;
  const D = attn.headDim;
  const qkv = attn.c_attn.forward(x).view([B, 3, H, D]);
  // q, k and v of every row as [H, B, D] views: a row's [H, 1, D] is then one narrow away.
  const [q, k, v] = [0, 1, 2].map((i) => qkv.narrow(1, i, 1).reshape([B, H, D]).permute([1, 0, 2]));
  const rows = layers.map((cache, b) => {
    const pos = positions[b]!;
    cache.k.narrow(1, pos, 1).assign(k!.narrow(1, b, 1));
    cache.v.narrow(1, pos, 1).assign(v!.narrow(1, b, 1));
    // [H, pos + 1, D] views of the [H, P, D] cache, read in place by the fused attention.
    return scaledDotProductAttention(q!.narrow(1, b, 1), cache.k.narrow(1, 0, pos + 1), cache.v.narrow(1, 0, pos + 1)); // [H, 1, D]
  });
  // Heads side by side per row: [H, B, D] -> [B, H * D], the layout c_proj reads.
  const y = B === 1 ? rows[0]! : concat(rows, 1);
  return attn.c_proj.forward(y.permute([1, 0, 2]).reshape([B, H * D]));
}

/** Throws unless `tokens` and `caches` describe B >= 1 distinct sequences the model can continue by one token. */
function checkStep(op: string, body: GPT2Model, tokens: readonly number[], caches: readonly KVCache[]): void {
  // (Array.isArray would narrow the readonly arrays to any[].)
  if (!(tokens instanceof Array) || !(caches instanceof Array)) throw new ArgumentError(`${op}: tokens and caches must be arrays`);
  if (tokens.length === 0) throw new ArgumentError(`${op}: no sequences (tokens is empty)`);
  if (tokens.length !== caches.length) throw new ArgumentError(`${op}: ${tokens.length} tokens for ${caches.length} caches; give one token per cache`);
  const V = body.config.vocab_size;
  tokens.forEach((t, b) => {
    if (!Number.isInteger(t) || t < 0 || t >= V) throw new ArgumentError(`${op}: tokens[${b}] is ${t}, not an id in [0, ${V})`);
  });
  const blocks = [...body.h];
  caches.forEach((c, b) => {
    if (caches.indexOf(c) !== b) throw new ArgumentError(`${op}: caches[${caches.indexOf(c)}] and caches[${b}] are the same cache; each sequence needs its own`);
    if (c.length >= c.capacity) throw new ShapeError(`${op}: caches[${b}] is full (${c.length} of n_positions = ${c.capacity} positions); reset it or drop the sequence`);
    const fits = c.layers.length === blocks.length && c.layers.every((l, i) => {
      const attn = blocks[i]!.attn;
      const [H, P, D] = l.k.shape;
      return H === attn.numHeads && D === attn.headDim && P === c.capacity;
    });
    if (!fits) throw new ShapeError(`${op}: caches[${b}] was made for another model shape`);
  });
}

/**
 * Hidden states [B, C] of one decode step for B sequences: `tokens[b]` continues `caches[b]` at
 * position `caches[b].length`. Writes each row's keys and values into its cache and advances the
 * cache by one. Inference only (no dropout); call it under noGrad.
 */
export function decodeStepHidden(body: GPT2Model, tokens: readonly number[], caches: readonly KVCache[]): Tensor {
  checkStep('decodeBatch', body, tokens, caches);
  const B = tokens.length;
  const positions = caches.map((c) => c.length);
  const out = tidy(() => {
    const ids = tensor(Int32Array.from(tokens), [B], 'i32');
    let x = add(body.wte.forward(ids), body.wpe.forward(tensor(Int32Array.from(positions), [B], 'i32'))); // [B, C]
    let i = 0;
    for (const block of body.h) {
      const layers = caches.map((c) => c.layers[i]!);
      const h = add(x, attentionStep(block.attn, block.ln_1.forward(x), layers, positions));
      x = add(h, block.mlp.forward(block.ln_2.forward(h), false));
      i++;
    }
    return body.ln_f.forward(x);
  });
  for (const c of caches) c.length++;
  return out;
}

/** Why a sequence ended: a stop token or `onToken` returning false (`stop`), `maxNewTokens` or a full context (`length`), or `leave` (`left`). */
export type DecodeFinish = 'stop' | 'length' | 'left';

/** One sequence's news after `join` or `step`: the token it produced (null when it produced none) and whether it has ended. */
export interface DecodeEvent {
  readonly sequence: DecodeSequence;
  readonly token: number | null;
  readonly done: boolean;
}

let nextSequenceId = 0;

/**
 * One sequence in a `BatchedDecoder`: its settings, the tokens it generated and, while it runs,
 * its KV cache. Made by `BatchedDecoder.join`.
 */
export class DecodeSequence {
  /** Unique in this process. */
  readonly id = nextSequenceId++;
  /** The tokens generated so far (a stop token excluded). */
  readonly tokens: number[] = [];
  /** Why it ended, or null while it runs. */
  finish: DecodeFinish | null = null;
  /** The prompt and the generated tokens: what a sliding context recomputes from. */
  private readonly context: number[];
  private readonly sampler: Sampler;
  /** The token the next step feeds (the last one generated). */
  private feed = -1;

  /** @internal */
  constructor(
    private readonly settings: ReturnType<typeof resolveGenerateOptions> & { onToken?: GenerateOptions['onToken'] },
    sampling: GenerateOptions,
    /** @internal the sequence's cache; null once freed. */
    public cache: KVCache | null,
  ) {
    this.context = settings.context;
    this.sampler = new Sampler(sampling);
  }

  get done(): boolean {
    return this.finish !== null;
  }

  /** @internal The token fed to the next batched step. */
  get nextInput(): number {
    return this.feed;
  }

  /** @internal Whether the next step must recompute the cache from the recent context (it is full and the mode is 'slide'). */
  get mustSlide(): boolean {
    return this.cache !== null && this.cache.length === this.cache.capacity;
  }

  /** @internal The tokens a slide recomputes the cache from: the most recent n_positions / 2. */
  slideWindow(): number[] {
    const keep = Math.max(1, Math.floor(this.cache!.capacity / 2));
    return this.context.slice(this.context.length - keep);
  }

  /** @internal The prompt's tokens (after cutting to the context), for the prefill. */
  get prompt(): readonly number[] {
    return this.context;
  }

  /**
   * @internal Samples from this sequence's logits row and applies the rules of `streamTokens`:
   * a stop token ends it unreturned; `maxNewTokens`, `onToken` returning false or a full
   * context with `onContextFull: 'stop'` end it after the token.
   */
  accept(logits: ArrayLike<number>): DecodeEvent {
    const t = this.sampler.next(logits);
    const { stop, maxNewTokens, mode, onToken } = this.settings;
    if (stop.has(t)) return this.end('stop', null);
    this.context.push(t);
    this.tokens.push(t);
    const n = this.tokens.length;
    if (onToken?.(t, n - 1) === false) return this.end('stop', t);
    if (n === maxNewTokens) return this.end('length', t);
    if (mode === 'stop' && this.mustSlide) return this.end('length', t);
    this.feed = t;
    return { sequence: this, token: t, done: false };
  }

  /** @internal Marks it ended (its cache is freed by the decoder). */
  end(finish: DecodeFinish, token: number | null): DecodeEvent {
    this.finish ??= finish;
    return { sequence: this, token, done: true };
  }
}

/**
 * Decodes many sequences together: `join` prefills a prompt (one forward of its own) and adds the
 * sequence; each `step` advances every sequence by one token in one batched forward
 * (`model.decodeBatch`) and samples each row with that sequence's own temperature, top-k, top-p,
 * seed and stop tokens. A sequence leaves when it ends or on `leave`, which frees its KV cache.
 * Each sequence gets the tokens `model.generate` gives it alone with the same options: its logits
 * in a batch equal its logits alone to float rounding (about 1e-7 relative), which changes a token
 * only where two candidates, or a seeded draw and a boundary, lie that close.
 *
 * @example
 * const decoder = new BatchedDecoder(model);
 * const a = await decoder.join(promptA, { maxNewTokens: 20, seed: 1 });
 * const b = await decoder.join(promptB, { maxNewTokens: 20, temperature: 0 });
 * while (decoder.size > 0) for (const e of await decoder.step()) if (e.token !== null) out[e.sequence.id].push(e.token);
 */
export class BatchedDecoder {
  private readonly running: DecodeSequence[] = [];
  private stepping = false;

  constructor(readonly model: BatchedCausalLM) {}

  /** Sequences in the batch (joined, not ended). */
  get size(): number {
    return this.running.length;
  }

  /** The sequences in the batch, in the order they joined. */
  get sequences(): readonly DecodeSequence[] {
    return this.running;
  }

  /**
   * Prefills `prompt` (options as for `model.generate`; an empty prompt starts from
   * bos_token_id) and samples its first token. The sequence is in the batch from the next `step`
   * unless that first token already ended it. Throws ArgumentError for bad options or ids.
   */
  async join(prompt: readonly number[], options: GenerateOptions = {}): Promise<DecodeEvent> {
    const settings = { ...resolveGenerateOptions('BatchedDecoder.join', this.model, prompt, options), onToken: options.onToken };
    const seq = new DecodeSequence(settings, options, null);
    if (settings.maxNewTokens === 0) return seq.end('length', null);
    seq.cache = this.model.createKVCache();
    let event: DecodeEvent;
    try {
      event = await this.prefill(seq, seq.prompt);
    } catch (e) {
      this.free(seq);
      throw e;
    }
    if (event.done) this.free(seq);
    else this.running.push(seq);
    return event;
  }

  /**
   * One token for every sequence in the batch: one forward over all of them (a sequence whose
   * context is full and slides gets a forward of its own that recomputes its cache). Returns one
   * event per sequence; those that ended have left the batch and freed their caches. With no
   * sequence it returns [] at once. Not re-entrant: await one step before the next.
   */
  async step(): Promise<DecodeEvent[]> {
    if (this.stepping) throw new ArgumentError('BatchedDecoder.step: a step is already running; await it before the next');
    this.stepping = true;
    const batch = this.running.slice();
    try {
      const events: DecodeEvent[] = [];
      const sliding = batch.filter((s) => s.mustSlide);
      const stepping = batch.filter((s) => !s.mustSlide);
      for (const s of sliding) {
        s.cache!.reset();
        events.push(await this.prefill(s, s.slideWindow()));
      }
      if (stepping.length > 0) {
        const logits = noGrad(() => this.model.decodeBatch(stepping.map((s) => s.nextInput), stepping.map((s) => s.cache!)));
        try {
          // One read per step for the whole batch: [B, V] logits, sampled row by row on the host.
          const rows = (await logits.data()) as Float32Array;
          const V = rows.length / stepping.length;
          stepping.forEach((s, b) => {
            // A sequence that left while the logits were read has nothing more to say.
            if (!s.done) events.push(s.accept(rows.subarray(b * V, (b + 1) * V)));
          });
        } finally {
          logits.dispose();
        }
      }
      return events;
    } finally {
      this.stepping = false;
      for (const s of batch) if (s.done) this.free(s);
    }
  }

  /**
   * Ends `sequence` now (finish 'left') and frees its cache (after the running step, if one is
   * running). Ending one that already ended does nothing.
   */
  leave(sequence: DecodeSequence): void {
    if (sequence.done && !this.running.includes(sequence)) return;
    sequence.end('left', null);
    if (!this.stepping) this.free(sequence);
  }

  /** Ends every sequence and frees every cache. */
  dispose(): void {
    for (const s of this.running.slice()) this.leave(s);
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Feeds `ids` after the cache's positions in a forward of this sequence alone, and samples. */
  private async prefill(seq: DecodeSequence, ids: readonly number[]): Promise<DecodeEvent> {
    const logits = noGrad(() => this.model.forwardCached(ids, seq.cache!));
    try {
      const row = (await logits.data()) as Float32Array;
      return seq.done ? { sequence: seq, token: null, done: true } : seq.accept(row);
    } finally {
      logits.dispose();
    }
  }

  private free(seq: DecodeSequence): void {
    const i = this.running.indexOf(seq);
    if (i >= 0) this.running.splice(i, 1);
    seq.cache?.dispose();
    seq.cache = null;
  }
}
