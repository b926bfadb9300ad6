/** `tessera prune`: prune a GPT-2 model directory (magnitude, attention heads or MLP neurons) into a new one. */

import { GPT2, GPT2ForSequenceClassification, PRUNE_METHODS, PRUNE_SCOPES, prune as pruneModel, sparsity, type PruneMethod, type PruneScope } from '@tessera/models';
import { ready } from '@tessera/tensor';
import { defineCommand } from '../args.js';
import { command } from '../command.js';
import { CliError } from '../errors.js';
import { recoverCheckpointDir, replaceDirAtomic, requireDir } from '../data/files.js';
import { loadGpt2Directory } from '../load-model.js';

const spec = defineCommand({
  name: 'prune',
  summary: 'Prune a GPT-2 model directory: magnitude (unstructured), attention heads or MLP neurons.',
  description: [
    'magnitude: the --amount fraction of Linear/Conv1D weights of smallest |w| become exactly 0 (--scope global ranks them',
    'all together, layer prunes each weight matrix alike); shapes stay, and `tessera train --from` keeps the zeros.',
    'heads / neurons: structured; the lowest-scoring attention heads / MLP hidden units (L2 norm of the weights each',
    'owns) are removed, so the matrices, config.json (pruned_heads, n_inner) and the forward pass shrink. Neurons: the',
    'same count in every layer. Heads: the same count per layer (--scope layer, default) or ranked across layers (global).',
    'The output is an ordinary model directory (with the tokenizer) for generate, serve, export and train --from.',
  ].join('\n'),
  options: {
    model: { type: 'string', placeholder: '<dir>', help: 'model directory: tessera train output or a Hugging Face GPT-2 / GPT-2 classifier (required)' },
    amount: { type: 'number', help: 'fraction to remove, in [0, 1) (required)' },
    method: { type: 'string', choices: PRUNE_METHODS, default: 'magnitude', help: 'what to remove' },
    scope: { type: 'string', choices: PRUNE_SCOPES, help: "ranking scope (default: global for magnitude, layer for heads and neurons)" },
    out: { type: 'string', placeholder: '<dir>', help: 'directory to write the pruned model to (required; a directory Tessera wrote is replaced)' },
  },
  examples: [
    'tessera prune --model checkpoints/moby --amount 0.5 --method magnitude --out checkpoints/moby-50',
    'tessera prune --model checkpoints/moby --amount 0.25 --method neurons --out checkpoints/moby-slim',
    'tessera train --from checkpoints/moby-50 --steps 200 --out checkpoints/moby-50-ft',
  ],
});

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const millions = (n: number): string => `${(n / 1e6).toFixed(3)}M`;

export const prune = command(spec, async ({ options: o }, io) => {
  if (o.model === undefined) throw new CliError('tessera prune needs --model <dir> (a directory written by tessera train, or a Hugging Face GPT-2)');
  if (o.amount === undefined) throw new CliError('tessera prune needs --amount <x> (the fraction to remove, in [0, 1))');
  if (o.out === undefined) throw new CliError('tessera prune needs --out <dir> (where to write the pruned model)');
  await recoverCheckpointDir(o.model);
  await requireDir(o.model, 'cannot read --model');
  await ready();
  const model = await loadGpt2Directory(o.model, 'tessera prune');
  let pruned: GPT2 | GPT2ForSequenceClassification | undefined;
  try {
    const before = model.numParameters();
    pruned = await pruneModel(model, { amount: o.amount, method: o.method as PruneMethod, scope: o.scope as PruneScope | undefined });
    const after = pruned.numParameters();
    const zeros = await sparsity(pruned);
    await replaceDirAtomic(o.out, (tmp) => pruned!.savePretrained(tmp), ['config.json', 'model.safetensors']);
    const c = pruned.config;
    const shape =
      o.method === 'magnitude'
        ? `${pct(zeros.overall.fraction)} of the Linear/Conv1D weights are zero (${zeros.overall.zeros.toLocaleString('en-US')} of ${zeros.overall.size.toLocaleString('en-US')})`
        : o.method === 'neurons'
          ? `n_inner ${model.config.n_inner ?? 4 * model.config.n_embd} -> ${c.n_inner}`
          : `heads per layer ${[...pruned.transformer.h].map((b) => b.attn.numHeads).join(', ')} (of ${c.n_head}); pruned_heads ${JSON.stringify(c.pruned_heads)}`;
    io.stdout.write(`${o.out}: ${model.typeName} pruned by ${o.method} (amount ${o.amount}): ${shape}; parameters ${millions(before)} -> ${millions(after)}\n`);
  } finally {
    if (pruned !== model) pruned?.dispose();
    model.dispose();
  }
  return 0;
});
