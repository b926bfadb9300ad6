// Child process of crash-safety.test.ts: saves GPT-2 model directories into argv[2] in a loop,
// alternating two configs (n_positions 8 and 16, so a config.json beside the other save's
// weights cannot load) with every parameter set to the round number, and prints each finished
// round. The test SIGKILLs it part way through a save.
import { noGrad, ready } from '@tessera/tensor';
import { CharTokenizer, GPT2 } from '../../dist/index.js';

await ready();
const dir = process.argv[2];
const tokenizer = CharTokenizer.fromCorpus('abcdefgh');
const base = { vocab_size: 16, n_embd: 8, n_layer: 1, n_head: 2, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 };
const models = [new GPT2({ ...base, n_positions: 8 }, { seed: 1 }), new GPT2({ ...base, n_positions: 16 }, { seed: 1 })];
for (let round = 1; ; round++) {
  const model = models[round % 2];
  noGrad(() => model.flat.all.fill_(round));
  await model.savePretrained(dir, { tokenizer });
  process.stdout.write(`saved ${round}\n`);
}
