/**
 * The language-model training step of `tessera train`, without files, signals or a terminal, so
 * that the browser studio (`apps/studio`, through `@tessera/cli/train-core`) runs exactly the code
 * the CLI runs: the same model initialisation, AdamW with the same groups and betas, warmup then
 * cosine decay, batch sampling, dropout seeding, gradient clipping and validation batches. Equal
 * settings and seed give equal losses in both places.
 *
 * Every host read is awaited (`item()`, `clipGradNorm`), so the step runs on every backend,
 * WebGPU included; on wasm the values are those of the synchronous reads.
 */

import { hash32 } from '@tessera/core';
import { manualSeed, noGrad, tensor, type Tensor } from '@tessera/tensor';
import { AdamW, WarmupCosineLR, clipGradNorm } from '@tessera/optim';
import { CharTokenizer, GPT2, loadGPT2Tokenizer, type SavableTokenizer } from '@tessera/models';
import { CliError } from '../errors.js';
import { TokenSplit, type Batch } from '../data/split.js';
import { Rng } from '../rng.js';
import { PRESETS, type PresetName } from './presets.js';
import type { TrainSettings } from './settings.js';

/** Adam's moment decay rates (nanoGPT's choice for small character models). */
export const BETAS: [number, number] = [0.9, 0.99];

/** Settings `tessera train` would use; undefined overrides keep the default. */
export type SettingsOverrides = { [K in keyof TrainSettings]?: TrainSettings[K] | undefined };

/**
 * The settings of `tessera train --preset <preset> --steps <steps>` with the flags in `overrides`:
 * the preset's shape and learning rate, lr / 10 at the end of the decay, 5% warmup, weight decay
 * 0.1, gradient clip 1, no dropout, character tokens, seed 1337.
 * @example presetSettings('tiny', { steps: 30, seed: 7 })
 */
export function presetSettings(preset: PresetName, overrides: SettingsOverrides & { steps: number }): TrainSettings {
  const p = PRESETS[preset];
  if (!p) throw new CliError(`unknown preset ${JSON.stringify(preset)}; the presets are ${Object.keys(PRESETS).join(', ')}`);
  const given = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) as Partial<TrainSettings> & { steps: number };
  const lr = given.lr ?? p.lr;
  return {
    tokenizer: 'char',
    data: null,
    corpusSha256: '',
    layers: p.layers,
    heads: p.heads,
    embd: p.embd,
    context: p.context,
    batch: p.batch,
    minLr: lr / 10,
    warmup: Math.round(given.steps / 20),
    weightDecay: 0.1,
    gradClip: 1,
    dropout: 0,
    seed: 1337,
    ...given,
    lr,
  };
}

/**
 * The tokenizer of a run (`tokenizer` when one is given, as on resume; else a character
 * vocabulary of `text` or GPT-2's) and the text's token ids split for training and validation.
 */
export async function tokenizeCorpus(
  text: string,
  name: string,
  settings: Pick<TrainSettings, 'tokenizer' | 'context'>,
  tokenizer: SavableTokenizer | null = null,
): Promise<{ tokenizer: SavableTokenizer; split: TokenSplit }> {
  const tok = tokenizer ?? (settings.tokenizer === 'char' ? CharTokenizer.fromCorpus(text) : await loadGPT2Tokenizer());
  let ids: number[];
  try {
    ids = tok.encode(text);
  } catch (e) {
    throw new CliError(`cannot tokenize ${name} with the ${settings.tokenizer} tokenizer: ${(e as Error).message}`);
  }
  return { tokenizer: tok, split: new TokenSplit(Int32Array.from(ids), settings.context) };
}

/**
 * A fresh GPT-2 for `settings`. Initial weights come from the global generator, so the seed fixes
 * them; dropout stays unseeded (the global stream, reseeded every step) so that a resumed run
 * draws the same masks as an uninterrupted one.
 */
export function newModel(settings: TrainSettings, tokenizer: SavableTokenizer): GPT2 {
  manualSeed(settings.seed);
  const eos = tokenizer.eosTokenId;
  return new GPT2({
    vocab_size: tokenizer.vocabSize,
    n_positions: settings.context,
    n_embd: settings.embd,
    n_layer: settings.layers,
    n_head: settings.heads,
    resid_pdrop: settings.dropout,
    embd_pdrop: settings.dropout,
    attn_pdrop: settings.dropout,
    ...(eos !== undefined ? { bos_token_id: eos, eos_token_id: eos } : {}),
  });
}

/** What one step did. */
export interface StepResult {
  /** The step just completed (1-based). */
  step: number;
  /** Training loss of its batch (the mean over ranks under data parallelism). */
  loss: number;
  /** The learning rate it used. */
  lr: number;
  /** Tokens in its batch (all ranks). */
  tokens: number;
}

/** How data parallelism changes a step (the CLI's `--nproc`); a single process passes none. */
export interface StepHooks {
  /** The rows of the global batch this process trains on. */
  rows?: (b: Batch) => Batch;
  /** This process's dropout seed from the step's seed. */
  dropoutSeed?: (seed: number) => number;
  /** Called after backward with the local loss; returns the loss to report (e.g. the mean over ranks after an all-reduce of the gradients). */
  reduce?: (loss: number) => Promise<number>;
}

/**
 * A model, its AdamW optimizer and schedule, and the batch generator: `step()` trains on one
 * batch, `evaluate()` measures the held-out loss. The fields are public so that the CLI can save
 * and restore them (checkpoints, resume).
 */
export class TrainLoop {
  readonly opt: AdamW;
  readonly sched: WarmupCosineLR;
  /** The batch sampler's generator (replaced on resume). */
  rng: Rng;
  /** Optimizer steps completed. */
  step = 0;

  constructor(
    readonly model: GPT2,
    readonly split: TokenSplit,
    readonly settings: TrainSettings,
  ) {
    this.opt = new AdamW(model.flat.groups(settings.weightDecay), { lr: settings.lr, betas: BETAS, weightDecay: settings.weightDecay });
    this.sched = new WarmupCosineLR(this.opt, { warmupSteps: settings.warmup, totalSteps: settings.steps, minLr: settings.minLr });
    this.rng = new Rng(settings.seed);
    model.train();
  }

  /** One optimizer step on a batch drawn from the training part. Throws `CliError` when the loss is not finite. */
  async trainStep(hooks: StepHooks = {}): Promise<StepResult> {
    const { model, settings } = this;
    const seed = hash32(settings.seed, this.step) | 0;
    manualSeed(hooks.dropoutSeed ? hooks.dropoutSeed(seed) : seed);
    const b = this.split.sample(this.rng, settings.batch);
    let loss = await lossOf(model, hooks.rows ? hooks.rows(b) : b, (l) => l.backward());
    if (hooks.reduce) loss = await hooks.reduce(loss);
    if (!Number.isFinite(loss)) {
      throw new CliError(`the loss became ${loss} at step ${this.step + 1}; lower the learning rate (--lr, now ${settings.lr}) or the gradient-norm limit (--grad-clip)`);
    }
    if (settings.gradClip > 0) await clipGradNorm([model.flat.all], settings.gradClip);
    this.opt.step();
    model.zeroGrad();
    const lr = this.opt.paramGroups[0].lr;
    this.sched.step();
    this.step++;
    return { step: this.step, loss, lr, tokens: b.batch * b.context };
  }

  /** Mean validation loss over `iters` fixed batches (eval mode, no graph). */
  async evaluate(iters: number): Promise<number> {
    const { model } = this;
    model.eval();
    let total = 0;
    try {
      for (let i = 0; i < iters; i++) total += await lossOf(model, this.split.valBatch(i, iters, this.settings.batch), undefined, true);
    } finally {
      model.train();
    }
    return total / iters;
  }

  /** Frees the optimizer's moment buffers (the model is the caller's). */
  dispose(): void {
    this.opt.dispose();
  }
}

/** The model's loss on one batch as a number (tensors freed); `keep` sees the loss tensor first (backward). */
async function lossOf(model: GPT2, b: Batch, keep?: (loss: Tensor) => void, inference = false): Promise<number> {
  const x = tensor(b.x, [b.batch, b.context], 'i32');
  const y = tensor(b.y, [b.batch, b.context], 'i32');
  try {
    const loss = inference ? noGrad(() => model.loss(x, y)) : model.loss(x, y);
    try {
      keep?.(loss);
      return await loss.item();
    } finally {
      loss.dispose();
    }
  } finally {
    x.dispose();
    y.dispose();
  }
}
