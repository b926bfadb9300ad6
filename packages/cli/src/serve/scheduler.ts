/**
 * Shares one model between requests by continuous batching. At most `maxBatch` requests decode
 * at once, as sequences of one `BatchedDecoder`: each step advances every one of them by one
 * token in a single forward pass (the layers' weights are read once for the whole batch), so
 * every active request advances at the same rate and a long completion does not hold back a
 * short one. A request joins the batch between steps, after a forward of its own over its prompt
 * (prefill), and leaves as soon as it ends. Requests beyond `maxBatch` wait in a bounded FIFO
 * queue; beyond that they are refused (429). `maxBatch` 1 serves one request at a time.
 *
 * A request's end is reported only after its KV cache was freed, so a client that has its answer
 * sees the server's memory as it was.
 */

import type { DecodeEvent, DecodeSequence, GenerateOptions } from '@tessera/models';
import { ApiError } from './errors.js';

/** What the scheduler drives: a `BatchedDecoder` from `@tessera/models` (or one that wraps it). */
export interface TokenDecoder {
  join(prompt: readonly number[], options?: GenerateOptions): Promise<DecodeEvent>;
  step(): Promise<DecodeEvent[]>;
  leave(sequence: DecodeSequence): void;
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
  /** Aborting (the client went away) frees the job's queue place at once, its decode slot when the running step ends. */
  readonly signal?: AbortSignal;
}

interface Entry {
  readonly job: Job;
  /** Its sequence in the decoder, once it joined. */
  sequence: DecodeSequence | null;
  aborted: boolean;
  ended: boolean;
  readonly unlisten: () => void;
}

/** Resolves after pending I/O had a chance to run, so requests and disconnects are seen between steps (setImmediate where the runtime has it). */
function yieldToEventLoop(): Promise<void> {
  const g = globalThis as { setImmediate?: (fn: () => void) => unknown };
  return new Promise((resolve) => (g.setImmediate ? g.setImmediate(resolve) : setTimeout(resolve, 0)));
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
  private readonly bySequence = new Map<DecodeSequence, Entry>();
  private running = false;
  private draining = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly decoder: TokenDecoder,
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
    const entry: Entry = { job, sequence: null, aborted: false, ended: false, unlisten: () => job.signal?.removeEventListener('abort', onAbort) };
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
      this.end(entry, { reason: 'aborted' });
    } else if (entry.sequence) {
      // Decoding: it leaves the batch now (no row of the next step is spent on it); its cache is
      // freed at once, or when the step running now ends, which is also when the entry ends.
      this.decoder.leave(entry.sequence);
    }
    // Joining: it leaves as soon as its prefill returns.
  }

  private async loop(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      for (;;) {
        while (this.active.length < this.maxBatch && this.waiting.length > 0) await this.admit(this.waiting.shift()!);
        this.endAborted();
        if (this.active.length === 0) break;
        let events: DecodeEvent[];
        try {
          events = await this.decoder.step();
        } catch (error) {
          // The step's forward failed: every request in it fails, and the server goes on.
          for (const e of [...this.active]) this.end(e, { reason: 'error', error });
          continue;
        }
        for (const ev of events) {
          const e = this.bySequence.get(ev.sequence);
          if (e) this.deliver(e, ev);
        }
        this.endAborted();
        await yieldToEventLoop();
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

  /** Prefills a request and adds it to the batch (or ends it, when its first token already did). */
  private async admit(e: Entry): Promise<void> {
    this.active.push(e);
    let ev: DecodeEvent;
    try {
      ev = await this.decoder.join(e.job.prompt, e.job.options);
    } catch (error) {
      return this.end(e, { reason: 'error', error });
    }
    e.sequence = ev.sequence;
    this.bySequence.set(ev.sequence, e);
    if (e.aborted) {
      this.decoder.leave(ev.sequence);
      return this.end(e, { reason: 'aborted' });
    }
    this.deliver(e, ev);
  }

  /** Ends the requests whose client went away while they were decoding. */
  private endAborted(): void {
    for (const e of [...this.active]) if (e.aborted && e.sequence) this.end(e, { reason: 'aborted' });
  }

  /** Hands a new token to its request; ends the request when the decoder or `onToken` says so. */
  private deliver(e: Entry, ev: DecodeEvent): void {
    if (e.ended || e.aborted) return;
    if (ev.token !== null) {
      let more: boolean;
      try {
        more = e.job.onToken(ev.token);
      } catch (error) {
        return this.end(e, { reason: 'error', error });
      }
      if (!more) return this.end(e, { reason: 'stopped' });
    }
    if (ev.done) this.end(e, { reason: 'done' });
  }

  private end(e: Entry, end: JobEnd): void {
    if (e.ended) return;
    e.ended = true;
    e.unlisten();
    const i = this.active.indexOf(e);
    if (i >= 0) this.active.splice(i, 1);
    if (e.sequence) {
      this.bySequence.delete(e.sequence);
      // Frees its KV cache (an aborted one left already; leaving twice does nothing).
      this.decoder.leave(e.sequence);
    }
    e.job.onEnd(end);
  }
}
