/** `tessera serve`: an OpenAI-compatible completion server for a GPT-2 model directory. */

import { basename, resolve } from 'node:path';
import { defineCommand } from '../args.js';
import { command } from '../command.js';
import { CliError, UsageError } from '../errors.js';
import { loadGenerationModel } from '../load-model.js';
import { EXIT } from '../exit.js';
import { createServer } from '../serve/app.js';
import { DEFAULT_DRAIN_MS, serve as listen } from '../serve/node.js';

const spec = defineCommand({
  name: 'serve',
  summary: 'Serve a GPT-2 model (directory, quantized directory or GGUF file) over HTTP with the OpenAI completions API (POST /v1/completions, GET /v1/models, GET /health).',
  description:
    'Requests share the model by continuous batching: up to --max-batch decode at once, each step advancing all of them by one token in one forward pass (a request joins after a forward over its prompt and leaves when done), and up to --queue more wait; beyond that the server answers 429. --max-batch 1 serves one request at a time. ' +
    'The API key can also come from TESSERA_API_KEY, which keeps it out of the process list. SIGTERM or Ctrl-C stops accepting, lets running requests finish (at most 30 s) and exits 0.',
  options: {
    model: { type: 'string', placeholder: '<dir|file.gguf>', help: 'model directory (a `tessera train` checkpoint, a Hugging Face GPT-2, a `tessera quantize` output) or a gpt2 GGUF file (required)' },
    host: { type: 'string', default: '127.0.0.1', help: 'interface to listen on (0.0.0.0: every interface)' },
    port: { type: 'int', min: 0, max: 65535, default: 8080, help: 'port (0: a free one)' },
    apiKey: { type: 'string', placeholder: '<key>', help: 'require Authorization: Bearer <key> (default: $TESSERA_API_KEY, else no key)' },
    modelName: { type: 'string', placeholder: '<name>', help: 'the model name clients send (default: the directory name)' },
    maxBatch: { type: 'int', min: 1, max: 1024, default: 4, help: 'requests decoding at once, batched into one forward per token' },
    queue: { type: 'int', min: 0, max: 100_000, default: 16, help: 'requests waiting for a decoding slot before 429' },
  },
  examples: ['tessera serve --model checkpoints/demo', 'tessera serve --model checkpoints/demo --host 0.0.0.0 --port 8000 --api-key s3cret --max-batch 8'],
});

export const serve = command(spec, async ({ options: o }, io) => {
  if (o.model === undefined) throw new UsageError('--model <dir|file.gguf> is required (a directory written by tessera train or quantize, a Hugging Face GPT-2, or a gpt2 GGUF file)', 'serve');
  const apiKey = o.apiKey ?? (process.env.TESSERA_API_KEY || undefined);
  if (apiKey !== undefined && apiKey.length === 0) throw new CliError('--api-key must not be empty');
  const { model, tokenizer } = await loadGenerationModel(o.model);
  try {
    const modelId = o.modelName ?? basename(resolve(o.model));
    const app = createServer(model, tokenizer, {
      modelId,
      apiKey,
      maxBatch: o.maxBatch,
      maxQueue: o.queue,
      onRequest: (r) => io.stderr.write(`${new Date().toISOString()} ${r.id} ${r.stream ? 'stream' : 'json'} prompt=${r.promptTokens} completion=${r.completionTokens} ${r.finish} ${r.ms}ms\n`),
    });
    let server;
    try {
      server = await listen(app, { host: o.host, port: o.port });
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new CliError(`cannot listen on ${o.host}:${o.port}: ${code === 'EADDRINUSE' ? 'the port is in use (pick another with --port)' : (e as Error).message}`);
    }
    io.stdout.write(`${server.url}\n`);
    io.stderr.write(`serving ${JSON.stringify(modelId)} on ${server.url} (max batch ${o.maxBatch}, queue ${o.queue}${apiKey ? ', API key required' : ''}); SIGTERM or Ctrl-C stops\n`);
    const signal = await new Promise<NodeJS.Signals>((done) => {
      const onSignal = (sig: NodeJS.Signals) => {
        // A second signal during the drain gets the default handling: it ends the process at once.
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        done(sig);
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
    });
    io.stderr.write(`${signal}: finishing running requests (at most ${DEFAULT_DRAIN_MS / 1000} s)\n`);
    const inTime = await server.close(DEFAULT_DRAIN_MS);
    io.stderr.write(inTime ? 'stopped\n' : 'stopped; requests still running after the drain time were cut off\n');
  } finally {
    model.dispose();
  }
  return EXIT.ok;
});
