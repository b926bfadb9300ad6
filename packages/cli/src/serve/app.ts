/**
 * The HTTP side of `tessera serve`: OpenAI's `/v1/completions` (JSON or server-sent events),
 * `/v1/models` and `/health`, as a Hono app. Hono apps are a `fetch(Request) => Response`
 * function, so the same app runs under Node (`serve()` in `./node.ts`), `Deno.serve(app.fetch)`
 * and `Bun.serve({ fetch: app.fetch })`.
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import { BatchedDecoder, type BatchedCausalLM, type Tokenizer } from '@tessera/models';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ApiError, invalidRequest } from './errors.js';
import { parseCompletionRequest, type CompletionRequest } from './request.js';
import { Scheduler, type JobEnd, type TokenDecoder } from './scheduler.js';
import { CompletionText } from './text.js';

/** What the server needs from a model: a `GPT2` (its config, KV caches, prefill and batched decode step). */
export type ServableModel = BatchedCausalLM;

export interface ServerOptions {
  /** The name clients pass as `model` (default `"tessera"`). */
  readonly modelId?: string;
  /** When set, every route but `/health` needs `Authorization: Bearer <apiKey>`. */
  readonly apiKey?: string;
  /** Requests decoding at once, batched into one forward per token step (default 4; 1: one at a time). */
  readonly maxBatch?: number;
  /** Requests waiting beyond those before new ones get 429 (default 16). */
  readonly maxQueue?: number;
  /** Largest request body in bytes (default 1 MiB); larger ones get 413. */
  readonly maxBodyBytes?: number;
  /**
   * The decoder the scheduler drives (default `new BatchedDecoder(model)`); a wrapper of one can
   * observe or pace the steps.
   */
  readonly decoder?: TokenDecoder;
  /** Called once per completion request, when it has ended (an access log). */
  readonly onRequest?: (entry: RequestLog) => void;
}

/** One completion request, as reported to `onRequest`. */
export interface RequestLog {
  readonly id: string;
  readonly stream: boolean;
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** `stop` / `length` as sent to the client; `aborted` when the client went away; `error` when a step failed. */
  readonly finish: 'stop' | 'length' | 'aborted' | 'error';
  readonly ms: number;
}

/** The Hono app, with the scheduler that `serve()` drains on close and `/health` reports. */
export type CompletionApp = Hono & { readonly scheduler: Scheduler; readonly modelId: string };

/** Completions are 16 tokens long unless `max_tokens` says otherwise, as with OpenAI. */
export const DEFAULT_MAX_TOKENS = 16;
export const DEFAULT_MAX_BODY_BYTES = 1 << 20;

interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

const sha256 = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

function errorResponse(c: Context, e: ApiError): Response {
  for (const [k, v] of Object.entries(e.headers)) c.header(k, v);
  return c.json(e.body(), e.status);
}

/** A method the route does not take: 405 with `Allow`. */
const wrongMethod = (allow: string) => (c: Context) => {
  throw new ApiError(405, `${c.req.method} is not allowed on ${c.req.path}; use ${allow}`, 'invalid_request_error', null, 'method_not_allowed', { Allow: allow });
};

/**
 * Serves `model` (with `tokenizer`) under OpenAI's completion API. The caller keeps ownership of
 * the model: close the server (draining the scheduler) before disposing it.
 */
export function createServer(model: ServableModel, tokenizer: Tokenizer, options: ServerOptions = {}): CompletionApp {
  const modelId = options.modelId ?? 'tessera';
  const scheduler = new Scheduler(options.decoder ?? new BatchedDecoder(model), { maxBatch: options.maxBatch, maxQueue: options.maxQueue });
  const context = model.config.n_positions;
  const eos = tokenizer.eosTokenId;
  const created = Math.floor(Date.now() / 1000);
  const app = new Hono();

  app.onError((err, c) => {
    if (err instanceof ApiError) return errorResponse(c, err);
    // A bug, not the client's fault; the message helps reporting it, the server keeps running.
    const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return errorResponse(c, new ApiError(500, `internal error: ${message}`, 'server_error'));
  });
  app.notFound((c) => errorResponse(c, new ApiError(404, `no route ${c.req.method} ${c.req.path}; routes: POST /v1/completions, GET /v1/models, GET /health`, 'invalid_request_error', null, 'not_found')));

  app.get('/health', (c) => {
    const s = scheduler.stats();
    // 503 while draining takes the server out of a load balancer's rotation.
    return c.json({ status: s.draining ? 'draining' : 'ok', model: modelId, active: s.active, queued: s.queued }, s.draining ? 503 : 200);
  });
  app.all('/health', wrongMethod('GET'));

  if (options.apiKey !== undefined) {
    const expected = sha256(options.apiKey);
    app.use('*', async (c, next) => {
      const header = c.req.header('authorization') ?? '';
      const m = /^Bearer\s+(.+)$/i.exec(header.trim());
      // Equal-length digests, compared in constant time, so the time taken says nothing about the key.
      if (!m || !timingSafeEqual(sha256(m[1]!), expected)) {
        throw new ApiError(401, m ? 'incorrect API key provided' : 'missing API key: send Authorization: Bearer <key>', 'invalid_request_error', null, 'invalid_api_key', { 'WWW-Authenticate': 'Bearer' });
      }
      await next();
    });
  }

  const modelCard = { id: modelId, object: 'model', created, owned_by: 'tessera' };
  app.get('/v1/models', (c) => c.json({ object: 'list', data: [modelCard] }));
  app.all('/v1/models', wrongMethod('GET'));
  app.get('/v1/models/:id', (c) => {
    if (c.req.param('id') !== modelId) throw new ApiError(404, `the model ${JSON.stringify(c.req.param('id'))} does not exist; this server serves ${JSON.stringify(modelId)}`, 'invalid_request_error', 'model', 'model_not_found');
    return c.json(modelCard);
  });
  app.all('/v1/models/:id', wrongMethod('GET'));

  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  app.post(
    '/v1/completions',
    bodyLimit({
      maxSize: maxBody,
      // The rest of the body is not read; closing the connection keeps a client from sending its
      // next request on a socket that the server is about to drop.
      onError: (c) => errorResponse(c, new ApiError(413, `the request body is larger than ${maxBody} bytes`, 'invalid_request_error', null, 'request_too_large', { Connection: 'close' })),
    }),
    async (c) => {
      let body: unknown;
      const raw = await c.req.text();
      try {
        body = JSON.parse(raw);
      } catch (e) {
        throw invalidRequest(`the request body is not valid JSON: ${(e as Error).message}`, null, 'invalid_json');
      }
      const req = parseCompletionRequest(body, modelId);
      return complete(c, req);
    },
  );
  app.all('/v1/completions', wrongMethod('POST'));

  /** Encodes the prompt and checks it and `max_tokens` against the context. */
  function plan(req: CompletionRequest): { ids: number[]; maxTokens: number } {
    let ids: number[];
    try {
      ids = tokenizer.encode(req.prompt);
    } catch (e) {
      throw invalidRequest(`the prompt cannot be encoded: ${(e as Error).message.split(';')[0]}`, 'prompt', 'invalid_prompt');
    }
    // An empty prompt starts from the begin-of-text token, which takes one position.
    const used = Math.max(1, ids.length);
    if (used >= context) {
      throw invalidRequest(`the prompt has ${ids.length} tokens, but the model's context is ${context} tokens and the completion needs at least one`, 'prompt', 'context_length_exceeded');
    }
    const maxTokens = req.maxTokens ?? Math.min(DEFAULT_MAX_TOKENS, context - used);
    if (used + maxTokens > context) {
      throw invalidRequest(`the model's context is ${context} tokens, but ${used + maxTokens} were requested (${ids.length} in the prompt, ${maxTokens} for the completion); reduce max_tokens to at most ${context - used}`, 'max_tokens', 'context_length_exceeded');
    }
    return { ids, maxTokens };
  }

  function complete(c: Context, req: CompletionRequest): Response | Promise<Response> {
    const { ids, maxTokens } = plan(req);
    const id = `cmpl-${globalThis.crypto.randomUUID()}`;
    const started = Date.now();
    const text = new CompletionText(tokenizer, req.stop);
    let count = 0;
    const usage = (): Usage => ({ prompt_tokens: ids.length, completion_tokens: count, total_tokens: ids.length + count });
    const finishOf = (end: JobEnd): RequestLog['finish'] => (end.reason === 'done' ? (count >= maxTokens ? 'length' : 'stop') : end.reason === 'stopped' ? 'stop' : end.reason);
    const log = (finish: RequestLog['finish']) => options.onRequest?.({ id, stream: req.stream, promptTokens: ids.length, completionTokens: count, finish, ms: Date.now() - started });
    const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({ id, object: 'text_completion', created: Math.floor(started / 1000), model: modelId, choices, ...extra });
    const jobOptions = {
      maxNewTokens: maxTokens,
      temperature: req.temperature,
      greedy: req.temperature === 0,
      topP: req.topP,
      seed: req.seed,
      // The tokenizer's end-of-text token ends a completion, as in `tessera generate`; a
      // character vocabulary has none and runs to max_tokens or a stop sequence.
      stopTokens: eos === undefined ? [] : [eos],
      onContextFull: 'stop' as const,
    };
    const errorOf = (end: JobEnd): ApiError => {
      const e = end.reason === 'error' ? end.error : undefined;
      return new ApiError(500, `generation failed: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`, 'server_error');
    };

    if (!req.stream) {
      let out = '';
      return new Promise<Response>((resolve, reject) => {
        scheduler.submit({
          prompt: ids,
          options: jobOptions,
          signal: c.req.raw.signal,
          onToken: (t) => {
            count++;
            out += text.push(t);
            return !text.stopped;
          },
          onEnd: (end) => {
            const finish = finishOf(end);
            log(finish);
            if (finish === 'error') return reject(errorOf(end));
            out += text.finish();
            // An aborted request's answer goes nowhere; it is still a well-formed one.
            resolve(c.json(chunk([{ text: out, index: 0, logprobs: null, finish_reason: finish === 'length' ? 'length' : 'stop' }], { usage: usage() })));
          },
        });
      });
    }

    const encoder = new TextEncoder();
    const cancelled = new AbortController();
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let open = true;
    const send = (data: unknown) => {
      if (open) controller.enqueue(encoder.encode(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`));
    };
    const close = () => {
      if (open) controller.close();
      open = false;
    };
    const stream = new ReadableStream<Uint8Array>({
      start: (ctl) => {
        controller = ctl;
      },
      // The response body was cancelled: the client went away.
      cancel: () => {
        open = false;
        cancelled.abort();
      },
    });
    // Either sign of a client that left ends the job: the request's signal or the body's cancel.
    // The listener goes when the job ends: the request's signal can outlive the request (Node's
    // adapter ties it to the keep-alive connection), and would keep every finished stream alive.
    const requestSignal = c.req.raw.signal;
    const clientGone = (): void => cancelled.abort();
    requestSignal.addEventListener('abort', clientGone, { once: true });
    scheduler.submit({
      prompt: ids,
      options: jobOptions,
      signal: cancelled.signal,
      onToken: (t) => {
        count++;
        const piece = text.push(t);
        if (piece) send(chunk([{ text: piece, index: 0, logprobs: null, finish_reason: null }]));
        return !text.stopped;
      },
      onEnd: (end) => {
        requestSignal.removeEventListener('abort', clientGone);
        const finish = finishOf(end);
        log(finish);
        if (finish === 'error') {
          // The status line is long gone; OpenAI's clients read an `error` event as a failure.
          send(errorOf(end).body());
        } else if (finish !== 'aborted') {
          send(chunk([{ text: text.finish(), index: 0, logprobs: null, finish_reason: finish }], { usage: usage() }));
          if (req.includeUsage) send(chunk([], { usage: usage() }));
          send('[DONE]');
        }
        close();
      },
    });
    return new Response(stream, {
      headers: {
        'Content-Type': 'text/event-stream; charset=utf-8',
        'Cache-Control': 'no-cache',
        // Reverse proxies that buffer responses (nginx) pass events through at once with this.
        'X-Accel-Buffering': 'no',
      },
    });
  }

  return Object.assign(app, { scheduler, modelId });
}
