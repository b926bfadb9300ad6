// `tessera serve`: the OpenAI client against a server started here, greedy completions equal to
// model.generate, every bad input's status and message, the queue (429, a disconnect freeing its
// slot, fair interleaving that keeps seeded results), the API key, a flat memory after many
// requests, a graceful close, and the CLI command started as a child process.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { BatchedDecoder, CharTokenizer, GPT2, type GenerateOptions } from '@tessera/models';
import { memory, ready } from '@tessera/tensor';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CompletionText, Scheduler, createServer, serve, type JobEnd, type RequestLog, type RunningServer, type ServerOptions } from '../src/serve/index.js';
import { BIN, tempDir } from './helpers.js';

const CORPUS = 'the quick brown fox jumps over the lazy dog. THE END!\n';
const CONTEXT = 48;
let model: GPT2;
let tok: CharTokenizer;
const running: RunningServer[] = [];

beforeAll(async () => {
  await ready();
  tok = CharTokenizer.fromCorpus(CORPUS);
  model = new GPT2({ vocab_size: tok.vocabSize, n_positions: CONTEXT, n_embd: 16, n_layer: 1, n_head: 2 }, { seed: 3 });
  model.eval();
});

afterAll(async () => {
  for (const s of running) await s.close(1000);
  model.dispose();
});

async function start(options: ServerOptions = {}) {
  const app = createServer(model, tok, { modelId: 'tiny', ...options });
  const server = await serve(app, { port: 0 });
  running.push(server);
  return { app, server, url: server.url };
}

function post(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body), signal });
}

/** The text events of an SSE response, until `[DONE]`. */
async function readEvents(res: Response): Promise<unknown[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6))
    .map((d) => (d === '[DONE]' ? d : JSON.parse(d)));
}

const greedy = async (prompt: string, n: number, extra: GenerateOptions = {}) => tok.decode(await model.generate(tok.encode(prompt), { maxNewTokens: n, greedy: true, stopTokens: [], ...extra }));

/** Bytes reachable on the JS heap after a full garbage collection. */
function heapAfterGc(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('tessera serve: OpenAI API', () => {
  let url: string;
  let client: OpenAI;
  beforeAll(async () => {
    ({ url } = await start());
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });

  it('completes with the official client; greedy equals model.generate', async () => {
    const expected = await greedy('the fox', 12);
    const r = await client.completions.create({ model: 'tiny', prompt: 'the fox', max_tokens: 12, temperature: 0 });
    expect(r.object).toBe('text_completion');
    expect(r.model).toBe('tiny');
    expect(r.choices).toHaveLength(1);
    expect(r.choices[0]!.text).toBe(expected);
    expect(r.choices[0]!.finish_reason).toBe('length');
    expect(r.usage).toEqual({ prompt_tokens: 7, completion_tokens: 12, total_tokens: 19 });
    const again = await client.completions.create({ model: 'tiny', prompt: ['the fox'], max_tokens: 12, temperature: 0 });
    expect(again.choices[0]!.text).toBe(expected);
  });

  it('streams with the official client: the same text, usage at the end', async () => {
    const expected = await greedy('lazy', 15);
    const stream = await client.completions.create({ model: 'tiny', prompt: 'lazy', max_tokens: 15, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = '';
    const finishes: (string | null)[] = [];
    let usage;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        text += c.text;
        finishes.push(c.finish_reason);
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(expected);
    expect(finishes.at(-1)).toBe('length');
    expect(finishes.slice(0, -1).every((f) => f === null)).toBe(true);
    expect(usage).toEqual({ prompt_tokens: 4, completion_tokens: 15, total_tokens: 19 });
  });

  it('raw SSE ends with data: [DONE]', async () => {
    const res = await post(url, { model: 'tiny', prompt: 'dog', max_tokens: 3, stream: true, seed: 1 });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await readEvents(res);
    expect(events.at(-1)).toBe('[DONE]');
  });

  it('stops before a stop sequence, streamed or not', async () => {
    const full = await greedy('the', 30);
    const stop = full.slice(4, 6);
    const expected = full.slice(0, full.indexOf(stop));
    const r = await client.completions.create({ model: 'tiny', prompt: 'the', max_tokens: 30, temperature: 0, stop: [stop, 'never-there'] });
    expect(r.choices[0]!.text).toBe(expected);
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.usage!.completion_tokens).toBeLessThan(30);
    const events = await readEvents(await post(url, { model: 'tiny', prompt: 'the', max_tokens: 30, temperature: 0, stop, stream: true }));
    const chunks = events.filter((e): e is { choices: { text: string; finish_reason: string | null }[] } => e !== '[DONE]');
    expect(chunks.map((c) => c.choices[0]!.text).join('')).toBe(expected);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('lists the model and reports health', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['tiny']);
    expect((await client.models.retrieve('tiny')).id).toBe('tiny');
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok', model: 'tiny', active: 0, queued: 0 });
  });

  const ok = { model: 'tiny', prompt: 'the', max_tokens: 2 };
  const cases: Array<[string, unknown, number, string | null, RegExp]> = [
    ['malformed JSON', '{"model": "tiny", ', 400, null, /not valid JSON/],
    ['a JSON array body', [1, 2], 400, null, /must be a JSON object, got an array/],
    ['no model', { prompt: 'x' }, 400, 'model', /provide a model/],
    ['model not a string', { ...ok, model: 3 }, 400, 'model', /model must be a string, got number 3/],
    ['unknown model', { ...ok, model: 'gpt-4' }, 404, 'model', /"gpt-4" does not exist; this server serves "tiny"/],
    ['no prompt', { model: 'tiny' }, 400, 'prompt', /provide a prompt/],
    ['prompt a number', { ...ok, prompt: 5 }, 400, 'prompt', /must be a string or an array of exactly one string, got number 5/],
    ['two prompts', { ...ok, prompt: ['a', 'b'] }, 400, 'prompt', /exactly one string, got an array of 2/],
    ['a character outside the vocabulary', { ...ok, prompt: 'zebra \u{1F993}' }, 400, 'prompt', /cannot be encoded/],
    ['max_tokens 0', { ...ok, max_tokens: 0 }, 400, 'max_tokens', /at least 1, got 0/],
    ['max_tokens -3', { ...ok, max_tokens: -3 }, 400, 'max_tokens', /at least 1, got -3/],
    ['max_tokens 1.5', { ...ok, max_tokens: 1.5 }, 400, 'max_tokens', /must be an integer, got 1.5/],
    ['max_tokens a string', { ...ok, max_tokens: '5' }, 400, 'max_tokens', /must be a number, got the string "5"/],
    ['max_tokens beyond the context', { ...ok, max_tokens: CONTEXT }, 400, 'max_tokens', new RegExp(`context is ${CONTEXT} tokens, but ${CONTEXT + 3} were requested .*at most ${CONTEXT - 3}`)],
    ['a prompt as long as the context', { ...ok, prompt: 'a'.repeat(CONTEXT) }, 400, 'prompt', new RegExp(`prompt has ${CONTEXT} tokens, but the model's context is ${CONTEXT}`)],
    ['temperature 3', { ...ok, temperature: 3 }, 400, 'temperature', /in \[0, 2\], got 3/],
    ['top_p 0', { ...ok, top_p: 0 }, 400, 'top_p', /in \(0, 1\], got 0/],
    ['seed a float', { ...ok, seed: 0.5 }, 400, 'seed', /integer, got 0.5/],
    ['stop a number', { ...ok, stop: 7 }, 400, 'stop', /string or an array of strings, got number 7/],
    ['five stops', { ...ok, stop: ['a', 'b', 'c', 'd', 'e'] }, 400, 'stop', /at most 4/],
    ['an empty stop', { ...ok, stop: [''] }, 400, 'stop', /must not be empty/],
    ['stream a string', { ...ok, stream: 'yes' }, 400, 'stream', /boolean, got the string "yes"/],
    ['n = 2', { ...ok, n: 2 }, 400, 'n', /only one choice/],
    ['echo', { ...ok, echo: true }, 400, 'echo', /echo is not supported/],
  ];
  it.each(cases)('%s', async (_name, body, status, param, message) => {
    const res = await post(url, body);
    expect(res.status).toBe(status);
    const json = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
    expect(Object.keys(json.error).sort()).toEqual(['code', 'message', 'param', 'type']);
    expect(json.error.message).toMatch(message);
    expect(json.error.param).toBe(param);
    expect(json.error.type).toBe('invalid_request_error');
  });

  it('ignores unknown fields', async () => {
    const res = await post(url, { ...ok, temperature: 0, user: 'u1', some_future_option: { a: 1 } });
    expect(res.status).toBe(200);
  });

  it('413 for a body over the limit, 404 for an unknown route, 405 for a wrong method', async () => {
    const big = await post(url, { ...ok, prompt: 'a'.repeat(2 << 20) });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { error: { code: string } }).error.code).toBe('request_too_large');
    const missing = await fetch(`${url}/v1/chat/completions`, { method: 'POST', body: '{}' });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/no route POST \/v1\/chat\/completions/);
    const get = await fetch(`${url}/v1/completions`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(((await get.json()) as { error: { message: string } }).error.message).toMatch(/GET is not allowed on \/v1\/completions; use POST/);
    const del = await fetch(`${url}/v1/models`, { method: 'DELETE' });
    expect(del.status).toBe(405);
    // The server is still answering after all of the above.
    expect((await post(url, ok)).status).toBe(200);
  });
});

describe('tessera serve: API key', () => {
  it('401 without the key or with a wrong one; the client with the key completes', async () => {
    const { url } = await start({ apiKey: 'k-123' });
    const none = await post(url, { model: 'tiny', prompt: 'a', max_tokens: 1 });
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    expect((await post(url, { model: 'tiny', prompt: 'a', max_tokens: 1 }, { authorization: 'Bearer k-12' })).status).toBe(401);
    expect((await fetch(`${url}/v1/models`)).status).toBe(401);
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'k-123', maxRetries: 0 });
    const r = await client.completions.create({ model: 'tiny', prompt: 'a', max_tokens: 2 });
    expect(r.usage!.completion_tokens).toBe(2);
    const wrong = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'nope', maxRetries: 0 });
    await expect(wrong.completions.create({ model: 'tiny', prompt: 'a', max_tokens: 2 })).rejects.toMatchObject({ status: 401 });
  });
});

/** The model's decoder, one step at most every `ms`: keeps a request decoding long enough to act on it. */
function slowed(ms: number): ServerOptions {
  class Slow extends BatchedDecoder {
    override async step() {
      await new Promise((r) => setTimeout(r, ms));
      return super.step();
    }
  }
  return { decoder: new Slow(model) };
}

describe('tessera serve: under load', () => {
  it('429 with Retry-After when the queue is full; a disconnect frees its slot at once', async () => {
    const logs: RequestLog[] = [];
    const { url } = await start({ maxBatch: 1, maxQueue: 1, onRequest: (r) => logs.push(r), ...slowed(50) });
    const abortA = new AbortController();
    const a = await post(url, { model: 'tiny', prompt: 'the', max_tokens: 44, stream: true }, {}, abortA.signal);
    const reader = a.body!.getReader();
    await reader.read(); // A is decoding.
    const b = post(url, { model: 'tiny', prompt: 'dog', max_tokens: 3, temperature: 0 });
    await expect.poll(async () => ((await (await fetch(`${url}/health`)).json()) as { queued: number }).queued).toBe(1);
    const c = await post(url, { model: 'tiny', prompt: 'fox', max_tokens: 3 });
    expect(c.status).toBe(429);
    expect(c.headers.get('retry-after')).toBe('1');
    expect(((await c.json()) as { error: { code: string } }).error.code).toBe('queue_full');

    const t0 = Date.now();
    abortA.abort();
    const rb = await b;
    expect(rb.status).toBe(200);
    expect(((await rb.json()) as { choices: { text: string }[] }).choices[0]!.text).toBe(await greedy('dog', 3));
    // A alone had about 43 x 50 ms left; B got the slot after at most one more step of A.
    expect(Date.now() - t0).toBeLessThan(1500);
    const logA = logs.find((l) => l.stream)!;
    expect(logA.finish).toBe('aborted');
    expect(logA.completionTokens).toBeLessThan(44);
    expect(await (await fetch(`${url}/health`)).json()).toMatchObject({ active: 0, queued: 0 });
  });

  it('with batching on, a stream that disconnects leaves the batch at once; the others go on unchanged', async () => {
    const logs: RequestLog[] = [];
    const { url } = await start({ maxBatch: 2, maxQueue: 1, onRequest: (r) => logs.push(r), ...slowed(30) });
    const abortA = new AbortController();
    const a = await post(url, { model: 'tiny', prompt: 'the', max_tokens: 44, stream: true }, {}, abortA.signal);
    await a.body!.getReader().read();
    const b = post(url, { model: 'tiny', prompt: 'over', max_tokens: 30, temperature: 0 });
    await expect.poll(async () => ((await (await fetch(`${url}/health`)).json()) as { active: number }).active).toBe(2);
    const c = post(url, { model: 'tiny', prompt: 'dog', max_tokens: 3, temperature: 0 });
    await expect.poll(async () => ((await (await fetch(`${url}/health`)).json()) as { queued: number }).queued).toBe(1);
    const t0 = Date.now();
    abortA.abort();
    const rc = await c;
    // C took A's place after at most one more step (B has about 25 steps of 30 ms left).
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(((await rc.json()) as { choices: { text: string }[] }).choices[0]!.text).toBe(await greedy('dog', 3));
    expect(((await (await b).json()) as { choices: { text: string }[] }).choices[0]!.text).toBe(await greedy('over', 30));
    expect(logs.find((l) => l.stream)).toMatchObject({ finish: 'aborted' });
  });

  it('a client that drops a non-streamed request frees its slot', async () => {
    const logs: RequestLog[] = [];
    const { url } = await start({ maxBatch: 1, maxQueue: 0, onRequest: (r) => logs.push(r), ...slowed(50) });
    const abort = new AbortController();
    const a = post(url, { model: 'tiny', prompt: 'the', max_tokens: 44 }, {}, abort.signal).catch((e: Error) => e.name);
    await expect.poll(async () => ((await (await fetch(`${url}/health`)).json()) as { active: number }).active).toBe(1);
    abort.abort();
    expect(await a).toBe('AbortError');
    await expect.poll(() => logs.length, { timeout: 1500 }).toBe(1);
    expect(logs[0]).toMatchObject({ stream: false, finish: 'aborted' });
    expect(logs[0]!.completionTokens).toBeLessThan(44);
    expect((await post(url, { model: 'tiny', prompt: 'the', max_tokens: 1 })).status).toBe(200);
  });

  it('two concurrent seeded streams give the tokens of two sequential ones', async () => {
    const { url } = await start({ maxBatch: 2, maxQueue: 0 });
    const streamText = async (prompt: string, seed: number) => {
      const events = await readEvents(await post(url, { model: 'tiny', prompt, max_tokens: 25, temperature: 1, seed, stream: true }));
      return events.flatMap((e) => (e === '[DONE]' ? [] : (e as { choices: { text: string }[] }).choices.map((c) => c.text))).join('');
    };
    const seq = [await streamText('the', 11), await streamText('over', 12)];
    const conc = await Promise.all([streamText('the', 11), streamText('over', 12)]);
    expect(conc).toEqual(seq);
    expect(seq[0]).toBe(tok.decode(await model.generate(tok.encode('the'), { maxNewTokens: 25, temperature: 1, seed: 11, stopTokens: [] })));
  });

  it('--max-batch requests share each forward; results equal those served one by one', async () => {
    const sizes: number[] = [];
    class Counting extends BatchedDecoder {
      override step() {
        sizes.push(this.size);
        return super.step();
      }
    }
    const { url } = await start({ maxBatch: 3, maxQueue: 8, decoder: new Counting(model) });
    const bodies = [
      { model: 'tiny', prompt: 'the', max_tokens: 20, temperature: 0 },
      { model: 'tiny', prompt: 'over the la', max_tokens: 12, temperature: 0.8, top_p: 0.9, seed: 4 },
      { model: 'tiny', prompt: 'dog', max_tokens: 30, temperature: 1, seed: 5, stop: 'zz' },
      { model: 'tiny', prompt: 'jumps', max_tokens: 16, temperature: 1.2, seed: 6 },
      { model: 'tiny', prompt: 'f', max_tokens: 8, temperature: 0 },
    ];
    const text = async (body: object) => ((await (await post(url, body)).json()) as { choices: { text: string }[] }).choices[0]!.text;
    const alone: string[] = [];
    for (const b of bodies) alone.push(await text(b));
    expect(Math.max(...sizes)).toBe(1);
    sizes.length = 0;
    expect(await Promise.all(bodies.map(text))).toEqual(alone);
    // Three decode together (the other two wait for a slot), never more.
    expect(Math.max(...sizes)).toBe(3);
    expect(alone[0]).toBe(await greedy('the', 20));
  });

  it('1,000 sequential requests leave the live tensors exactly as they were and the JS heap flat', async () => {
    const { url } = await start();
    const run = async (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const body = { model: 'tiny', prompt: 'the', max_tokens: 2, seed: i, stream: i % 2 === 0 };
        const res = await post(url, body);
        expect(res.status).toBe(200);
        await res.text();
      }
    };
    // The first requests warm up the JIT, the HTTP client's pool and the allocator's free lists.
    await run(0, 100);
    const before = memory();
    const heap = heapAfterGc();
    const rss = process.memoryUsage().rss;
    await run(100, 1100);
    const after = memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numBytes).toBe(before.numBytes);
    // Tensors are counted exactly above; this bounds what stays reachable on the JS heap after a
    // full collection: a leak of more than about 10 KB per request (bodies, listeners, closures)
    // fails it. RSS is not the measure: the collector's slack and the wasm memory's high-water
    // mark move it by tens of MB with no leak. (A listener left on each streamed request's signal
    // kept every finished stream alive, about 20 KB a request: 20 MB here.)
    const grown = heapAfterGc() - heap;
    expect(grown, `the JS heap grew ${(grown / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(10 << 20);
    // And the process as a whole: only a gross leak (about 100 KB a request) moves RSS past this.
    const rssGrown = process.memoryUsage().rss - rss;
    expect(rssGrown, `RSS grew ${(rssGrown / 2 ** 20).toFixed(1)} MiB`).toBeLessThan(96 << 20);
  }, 120_000);

  it('close() lets an in-flight stream finish, then refuses connections', async () => {
    const app = createServer(model, tok, { modelId: 'tiny', ...slowed(5) });
    const server = await serve(app, { port: 0 });
    const res = await post(server.url, { model: 'tiny', prompt: 'the', max_tokens: 20, stream: true });
    const events = readEvents(res);
    const closed = server.close(5000);
    expect((await events).at(-1)).toBe('[DONE]');
    expect(await closed).toBe(true);
    await expect(fetch(`${server.url}/health`)).rejects.toThrow();
  });
});

describe('tessera serve: stop sequences over streamed text', () => {
  const pieces = (stops: string[], text: string) => {
    const t = new CompletionText(tok, stops);
    const out = [...text].map((ch) => t.push(tok.encode(ch)[0]!));
    out.push(t.finish());
    return { out, stopped: t.stopped, completion: t.completion };
  };

  it('holds back a possible start of a stop sequence until the next token decides', () => {
    expect(pieces(['fox'], 'the fox jumps')).toEqual({ out: ['t', 'h', 'e', ' ', '', '', '', '', '', '', '', '', '', ''], stopped: true, completion: 'the ' });
    // "fo" looked like the start of "fox", then was not: it is released with the next character.
    expect(pieces(['fox'], 'the fog').out.join('')).toBe('the fog');
    expect(pieces(['fox'], 'the fo')).toMatchObject({ completion: 'the fo', stopped: false });
  });

  it('ends at the earliest of several stop sequences', () => {
    expect(pieces(['dog', ' l'], 'over the lazy dog').completion).toBe('over the');
  });
});

describe('Scheduler', () => {
  it('a job whose client leaves during its prefill ends right after it, with its cache freed', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    class Gated extends BatchedDecoder {
      override async join(prompt: readonly number[], options?: GenerateOptions) {
        await gate;
        return super.join(prompt, options);
      }
    }
    const decoder = new Gated(model);
    const scheduler = new Scheduler(decoder, { maxBatch: 2 });
    const before = memory().numTensors;
    const abort = new AbortController();
    const ends: JobEnd[] = [];
    const tokens: number[] = [];
    scheduler.submit({ prompt: tok.encode('the'), options: { maxNewTokens: 20, stopTokens: [] }, signal: abort.signal, onToken: (t) => (tokens.push(t), true), onEnd: (e) => ends.push(e) });
    await new Promise((r) => setTimeout(r, 10));
    expect(scheduler.stats()).toMatchObject({ active: 1, queued: 0 });
    abort.abort();
    release();
    await expect.poll(() => ends.length).toBe(1);
    expect(ends[0]).toEqual({ reason: 'aborted' });
    expect(tokens).toEqual([]);
    expect(decoder.size).toBe(0);
    expect(memory().numTensors).toBe(before);
    expect(await scheduler.drain(1000)).toBe(true);
  });
});

describe('tessera serve: a failing model', () => {
  it('answers 500 in the error shape and keeps serving', async () => {
    let fail = true;
    class Flaky extends BatchedDecoder {
      override join(prompt: readonly number[], options?: GenerateOptions) {
        if (fail) return Promise.reject(new RangeError('the backend is gone'));
        return super.join(prompt, options);
      }
    }
    const { url } = await start({ decoder: new Flaky(model) });
    const res = await post(url, { model: 'tiny', prompt: 'the', max_tokens: 2 });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { message: 'generation failed: RangeError: the backend is gone', type: 'server_error', param: null, code: null } });
    const events = await readEvents(await post(url, { model: 'tiny', prompt: 'the', max_tokens: 2, stream: true }));
    expect(events).toEqual([{ error: { message: 'generation failed: RangeError: the backend is gone', type: 'server_error', param: null, code: null } }]);
    fail = false;
    expect((await post(url, { model: 'tiny', prompt: 'the', max_tokens: 2 })).status).toBe(200);
  });
});

describe('tessera serve: the command', () => {
  it('prints the URL, answers /health, exits 0 on SIGTERM', async () => {
    const dir = join(tempDir(), 'tiny');
    await model.savePretrained(dir, { tokenizer: tok });
    const child = spawn(process.execPath, [BIN, 'serve', '--model', dir, '--port', '0', '--model-name', 'tiny'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (d) => {
          stdout += d;
          const m = /^(http:\/\/127\.0\.0\.1:\d+)\n/.exec(stdout);
          if (m) resolve(m[1]!);
        });
        child.on('close', () => reject(new Error(`serve exited early: ${stderr}`)));
      });
      const health = await fetch(`${url}/health`);
      expect(await health.json()).toMatchObject({ status: 'ok', model: 'tiny' });
      const r = await post(url, { model: 'tiny', prompt: 'the', max_tokens: 4, temperature: 0 });
      expect(((await r.json()) as { choices: { text: string }[] }).choices[0]!.text).toBe(await greedy('the', 4));
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toMatch(/SIGTERM: finishing running requests/);
    expect(stderr).toMatch(/prompt=3 completion=4 length/);
  });
});
