// Load a GPT-2 model directory and stream text token by token.
//
//   node examples/generate/main.mjs [--model dir] [--prompt text] [--small]
//   deno run -A examples/generate/main.mjs
//   bun examples/generate/main.mjs
//
// The default model is the one examples/train-gpt2 saves (run it first); any directory written by
// `tessera train` or a Hugging Face GPT-2 directory with model.safetensors works too.
import { fileURLToPath } from 'node:url';
import { ready } from '@tessera/tensor';
import { GPT2 } from '@tessera/models';
import { TokenPrinter } from '@tessera/cli';

const args = process.argv.slice(2);
const arg = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const small = args.includes('--small') || process.env.TESSERA_EXAMPLES_SMALL === '1';
const dir = arg('--model', fileURLToPath(new URL('../.out/gpt2', import.meta.url)));
const prompt = arg('--prompt', 'Call me Ishmael. ');

await ready();
let model;
try {
  model = await GPT2.fromPretrained(dir);
} catch (e) {
  console.error(`cannot load ${dir}: ${e.message}\n(run examples/train-gpt2 first, or pass --model <dir>)`);
  process.exit(1);
}
const tokenizer = model.tokenizer;
model.eval();

const options = { maxNewTokens: small ? 60 : 400, temperature: 0.8, topK: 40, topP: 0.95, seed: 42, stopTokens: tokenizer.eosTokenId === undefined ? [] : [tokenizer.eosTokenId] };
const write = (s) => process.stdout.write(s);
// Byte-level BPE tokens can split a UTF-8 character; the printer holds such pieces back.
const printer = new TokenPrinter(tokenizer);

write(prompt);
let count = 0;
const started = performance.now();
for await (const id of model.stream(tokenizer.encode(prompt), options)) {
  write(printer.push(id)); // printed as soon as it is sampled
  count++;
}
const seconds = (performance.now() - started) / 1000;
write(`${printer.flush()}\n\n${count} tokens in ${seconds.toFixed(2)}s (${(count / seconds).toFixed(0)} tokens/s, KV cache)\n`);

// Greedy decoding is deterministic: the same prompt always gives the same continuation.
const a = await model.generate(tokenizer.encode(prompt), { maxNewTokens: 20, greedy: true, stopTokens: [] });
const b = await model.generate(tokenizer.encode(prompt), { maxNewTokens: 20, greedy: true, stopTokens: [] });
if (a.join() !== b.join()) {
  console.error('greedy decoding differed between two runs');
  process.exit(1);
}
console.log(`greedy: ${JSON.stringify(tokenizer.decode(a))}`);
model.dispose();
