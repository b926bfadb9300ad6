/** `tessera generate`: load a GPT-2 directory and stream sampled text to stdout. */

import { defineCommand } from '../args.js';
import { command } from '../command.js';
import { UsageError } from '../errors.js';
import { loadGenerationModel } from '../load-model.js';
import { TokenPrinter, encodePrompt } from '../ui/token-printer.js';

const spec = defineCommand({
  name: 'generate',
  summary: 'Stream text from a GPT-2 model: a directory (config.json, model.safetensors, tokenizer; quantized or not) or a gguf file.',
  description: 'Tokens are printed as they are produced. Sampling: temperature, then top-k, then top-p; --greedy takes the most likely token.',
  options: {
    model: { type: 'string', placeholder: '<dir|file.gguf>', help: 'model directory (a `tessera train` checkpoint, a Hugging Face GPT-2, a `tessera quantize` output) or a gpt2 GGUF file (required)' },
    prompt: { type: 'string', default: '', help: 'text to continue (empty: start from the begin-of-text token)' },
    maxTokens: { type: 'int', min: 0, max: 1_000_000, default: 200, help: 'tokens to generate at most' },
    temperature: { type: 'number', min: 0, max: 100, default: 0.8, help: 'sampling temperature (0: greedy)' },
    topK: { type: 'int', min: 0, default: 40, help: 'sample among the k most likely tokens (0: all)' },
    topP: { type: 'number', min: 0.000001, max: 1, default: 1, help: 'nucleus sampling: the smallest set reaching this probability' },
    seed: { type: 'int', min: 0, max: 2 ** 32 - 1, help: 'seed of the sampler (default: random)' },
    greedy: { type: 'boolean', help: 'always take the most likely token' },
  },
  examples: ['tessera generate --model checkpoints/gpt2 --prompt "Call me" --max-tokens 300 --seed 1', 'tessera generate --model checkpoints/gpt2 --greedy'],
});

export const generate = command(spec, async ({ options: o }, io) => {
  if (o.model === undefined) throw new UsageError('--model <dir|file.gguf> is required (a directory written by tessera train or quantize, a Hugging Face GPT-2, or a gpt2 GGUF file)', 'generate');
  const { model, tokenizer } = await loadGenerationModel(o.model);
  try {
    const prompt = encodePrompt(tokenizer, o.prompt);
    const eos = tokenizer.eosTokenId;
    const printer = new TokenPrinter(tokenizer);
    io.stdout.write(o.prompt);
    for await (const id of model.stream(prompt, {
      maxNewTokens: o.maxTokens,
      greedy: o.greedy,
      temperature: o.temperature,
      topK: o.topK,
      topP: o.topP,
      seed: o.seed,
      stopTokens: eos === undefined ? [] : [eos],
    })) {
      io.stdout.write(printer.push(id));
    }
    io.stdout.write(`${printer.flush()}\n`);
  } finally {
    model.dispose();
  }
  return 0;
});
