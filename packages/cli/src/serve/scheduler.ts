/**
 * Shares one model between requests. At most `maxBatch` requests decode at once, each with its
 * own KV cache (its own `model.stream`); they take turns one token step each, round-robin, so a
 * long completion does not hold back a short one and every active request advances at the same
 * rate. The steps are interleaved, not batched: each step is its own forward pass of one row.
 * Requests beyond `maxBatch` wait in a bounded FIFO queue; beyond that they are refused (429).
 *
 * A request's end is reported only after its generator has been closed, that is after its KV
 * cache was disposed, so a client that has its answer sees the server's memory as it was.
 */

import type { GenerateOptions } from '@tessera/models';
import { ApiError } from './errors.js';

/** What the scheduler needs from a model: `GPT2.stream`. */
export interface StreamingModel {
  stream(promptIds: readonly number[], options?: GenerateOptions): AsyncGenerator<number, void, undefined>;
}

/** How a job ended: its generator finished (`done`), `onToken` asked to stop, its signal aborted, or a step threw. */
export type JobEnd = { readonly reason: 'done' | 'stopped' | 'aborted' } | { readonly reason: 'error'; readonly error: unknown };

/** One request's generation. */
export interface Job {
  readonly prompt: readonly number[];
  readonly options: GenerateOptions;
  /** Each new token; returning false ends the job (a stop sequence was found). */
  onToken(id: number): boolean;
  /** Called exactly once, after the job's cache is freed. */
  onEnd(end: JobEnd): void;
  /** Aborting (the client went away) frees the job's queue place or decode slot at its next turn. */
  readonly signal?: AbortSignal;
}

interface Entry {
  readonly job: Job;
  iter: AsyncGenerator<number, void, undefined> | null;
  aborted: boolean;
  ended: boolean;
  readonly unlisten: () => void;
}

export interface SchedulerOptions {
  /** Requests decoding at once (default 4). */
  readonly maxBatch?: number;
  /** Requests waiting for a slot before new ones get 429 (default 16). */
  readonly maxQueue?: number;
}

/** Seconds a refused client is told to wait (`Retry-After`). */
export const RETRY_AFTER_S = 1;

export class Scheduler {
  readonly maxBatch: number;
  readonly maxQueue: number;
  private readonly waiting: Entry[] = [];
  private readonly active: Entry[] = [];
  private running = false;
  private draining = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly model: StreamingModel,
    options: SchedulerOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 4;
    this.maxQueue = options.maxQueue ?? 16;
    if (!Number.isInteger(this.maxBatch) || this.maxBatch < 1) throw new ApiError(500, `maxBatch must be an integer >= 1, got ${this.maxBatch}`, 'server_error');
    if (!Number.isInteger(this.maxQueue) || this.maxQueue < 0) throw new ApiError(500, `maxQueue must be an integer >= 0, got ${this.maxQueue}`, 'server_error');
  }

  /** Requests decoding now and requests waiting. */
  stats(): { active: number; queued: number; draining: boolean } {
    return { active: this.active.length, queued: this.waiting.length, draining: this.draining };
  }

  /** Queues a job; throws a 429 `ApiError` when the queue is full and a 503 while draining. */
  submit(job: Job): void {
    if (this.draining) throw new ApiError(503, 'the server is shutting down and takes no new requests', 'server_error', null, 'shutting_down');
    const full = this.active.length + this.waiting.length >= this.maxBatch + this.maxQueue;
    if (full) {
      throw new ApiError(429, `the server is busy: ${this.active.length} requests are decoding and ${this.waiting.length} waiting (--max-batch ${this.maxBatch}, --queue ${this.maxQueue}); retry later`, 'rate_limit_error', null, 'queue_full', { 'Retry-After': String(RETRY_AFTER_S) });
    }
    const onAbort = (): void => this.abort(entry);
    const entry: Entry = { job, iter: null, aborted: false, ended: false, unlisten: () => job.signal?.removeEventListener('abort', onAbort) };
    this.waiting.push(entry);
    if (job.signal?.aborted) this.abort(entry);
    else job.signal?.addEventListener('abort', onAbort, { once: true });
    void this.loop();
  }

  /**
   * Stops taking requests and waits for the queued and decoding ones to finish; after `timeoutMs`
   * the rest are aborted. Resolves true when everything finished in time.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    this.draining = true;
    const idle = this.whenIdle();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const inTime = await Promise.race([idle.then(() => true), timedOut]);
    clearTimeout(timer);
    if (!inTime) {
      for (const e of [...this.waiting, ...this.active]) this.abort(e);
      await idle;
    }
    return inTime;
  }

  private whenIdle(): Promise<void> {
    if (!this.running && this.active.length === 0 && this.waiting.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private abort(entry: Entry): void {
    if (entry.ended || entry.aborted) return;
    entry.aborted = true;
    const i = this.waiting.indexOf(entry);
    if (i >= 0) {
      // Not started: nothing to free but its place in the queue, which is freed now.
      this.waiting.splice(i, 1);
      void this.end(entry, { reason: 'aborted' });
    }
    // A decoding request is closed at its next turn, at most one round of steps away.
  }

  private async loop(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        while (this.active.length < this.maxBatch && this.waiting.length > 0) {
          const e = this.waiting.shift()!;
          try {
            e.iter = this.model.stream(e.job.prompt, e.job.options);
          } catch (error) {
            await this.end(e, { reason: 'error', error });
            continue;
          }
          this.active.push(e);
        }
        if (this.active.length === 0) break;
        // One round: one token step for each request that is active at its start.
        for (const e of [...this.active]) await this.step(e);
      }
    } finally {
      this.running = false;
      if (this.active.length === 0 && this.waiting.length === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      } else void this.loop();
    }
  }

  private async step(e: Entry): Promise<void> {
    if (e.ended) return;
    if (e.aborted) return this.end(e, { reason: 'aborted' });
    let r: IteratorResult<number, void>;
    try {
      r = await e.iter!.next();
    } catch (error) {
      return this.end(e, { reason: 'error', error });
    }
    if (r.done) return this.end(e, { reason: 'done' });
    if (e.aborted) return this.end(e, { reason: 'aborted' });
    let more: boolean;
    try {
      more = e.job.onToken(r.value);
    } catch (error) {
      return this.end(e, { reason: 'error', error });
    }
    if (!more) return this.end(e, { reason: 'stopped' });
  }

  private async end(e: Entry, end: JobEnd): Promise<void> {
    if (e.ended) return;
    e.ended = true;
    e.unlisten();
    const i = this.active.indexOf(e);
    if (i >= 0) this.active.splice(i, 1);
    let result = end;
    try {
      // Closing the generator runs its `finally`, which disposes the KV cache.
      await e.iter?.return(undefined);
    } catch (error) {
      if (result.reason !== 'error') result = { reason: 'error', error };
    }
    e.job.onEnd(result);
  }
}
