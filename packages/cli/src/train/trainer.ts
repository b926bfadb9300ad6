/**
 * The language-model training loop behind `tessera train`: AdamW over the model's flat parameter
 * block, linear warmup then cosine decay, global grad-norm clipping, periodic validation
 * (loss and perplexity on the held-out last 10%), atomic checkpoints, bit-exact resume and a
 * checkpoint on Ctrl-C.
 *
 * Determinism: the batch offsets come from `Rng` (its state is checkpointed) and dropout draws
 * from Tessera's global generator reseeded from (seed, step) before every step, so a run that
 * stops and resumes computes exactly what an uninterrupted run computes.
 */

import { createHash } from 'node:crypto';
import { perplexityFromLosses } from '@tessera/metrics';
import { CharTokenizer, GPT2, restoreMasks, sparsity, type SavableTokenizer } from '@tessera/models';
import { DistributedDataParallel, type ProcessGroup } from '@tessera/distributed';
import type { Io } from '../command.js';
import { CliError } from '../errors.js';
import { loadCorpus } from '../data/corpus.js';
import { recoverCheckpointDir, requireDir } from '../data/files.js';
import { Rng } from '../rng.js';
import { Progress, fmtDuration, fmtRate } from '../ui/progress.js';
import { lossCurveSvg } from '../ui/svg.js';
import { TokenPrinter, encodePrompt } from '../ui/token-printer.js';
import { loadCheckpointState, saveCheckpoint, type Cadence, type History, type TrainSettings, type TrainerState } from './checkpoint.js';
import { newModel, tokenizeCorpus, TrainLoop, type StepHooks } from './core.js';
import { dropoutSeed, rowBlock } from './distributed.js';

/** What `train` needs beyond the settings. */
export interface TrainRun {
  settings: TrainSettings;
  /** Checkpoint directory. */
  out: string;
  /** Continue the checkpoint in `out` (its settings win; see `resumeSettings`). */
  resume: boolean;
  /**
   * Start a new run (new optimizer and schedule) from the weights and tokenizer of this model
   * directory; its config fixes the architecture. Pruned weights (exact zeros) stay zero.
   */
  from?: string;
  /** Validation/checkpoint cadence; when resuming, undefined fields come from the checkpoint. */
  cadence: Partial<Cadence>;
  /** Stop (with a checkpoint) after this step; a later resume continues. */
  stopAt?: number;
  /** Characters/tokens of sample text printed at the end (0: none). */
  sampleTokens: number;
  samplePrompt: string;
  /** Data-parallel group: each rank trains on its row block of every batch; only rank 0 validates and checkpoints. */
  group?: ProcessGroup;
}

/** The end of a run. */
export interface TrainResult {
  step: number;
  interrupted: boolean;
  finalVal?: { loss: number; perplexity: number };
  seconds: number;
}

/** Loads the corpus and tokenizer for `settings` (the checkpoint's tokenizer when resuming). */
async function prepareData(settings: TrainSettings, tokenizer: SavableTokenizer | null) {
  const corpus = await loadCorpus(settings.data ?? undefined);
  const sha = createHash('sha256').update(corpus.text).digest('hex');
  return { corpus, sha, ...(await tokenizeCorpus(corpus.text, corpus.name, settings, tokenizer)) };
}

/** Resolves after pending signals and I/O had a chance to run. */
const yieldToEvents = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Trains (or resumes) and returns how the run ended. Progress and results go to `io`. */
export async function train(run: TrainRun, io: Io): Promise<TrainResult> {
  const log = (line: string) => io.stdout.write(`${line}\n`);
  let settings = run.settings;
  let loaded: GPT2 | undefined;
  let saved: Awaited<ReturnType<typeof loadCheckpointState>> | undefined;
  if (run.resume) {
    saved = await loadCheckpointState(run.out);
    settings = saved.state.settings;
    try {
      loaded = await GPT2.fromPretrained(saved.dir);
    } catch (e) {
      throw new CliError(`cannot resume from ${saved.dir}: ${(e as Error).message}`);
    }
    // The trainer state must describe the weights it sits beside.
    const c = loaded.config;
    for (const [key, mine] of [['layers', c.n_layer], ['heads', c.n_head], ['embd', c.n_embd], ['context', c.n_positions]] as const) {
      if (settings[key] !== mine) {
        loaded.dispose();
        throw new CliError(`cannot resume: ${saved.dir}/trainer_state.json has settings.${key} ${String(settings[key])} but the weights' config.json has ${mine}`);
      }
    }
  } else if (run.from !== undefined) {
    await recoverCheckpointDir(run.from);
    await requireDir(run.from, 'cannot read --from');
    try {
      loaded = await GPT2.fromPretrained(run.from);
    } catch (e) {
      throw new CliError(`cannot train --from ${run.from}: ${(e as Error).message}`);
    }
    if (!loaded.tokenizer) {
      loaded.dispose();
      throw new CliError(`cannot train --from ${run.from}: it has no tokenizer files (tokenizer.json, vocab.json + merges.txt, or char_tokenizer.json)`);
    }
    const c = loaded.config;
    settings = {
      ...settings,
      tokenizer: loaded.tokenizer instanceof CharTokenizer ? 'char' : 'gpt2',
      layers: c.n_layer,
      heads: c.n_head,
      embd: c.n_embd,
      context: c.n_positions,
      dropout: c.resid_pdrop,
    };
  }

  const data = await prepareData(settings, loaded?.tokenizer ?? null);
  if (saved && data.sha !== settings.corpusSha256) {
    throw new CliError(`cannot resume: the corpus (${data.corpus.name}) differs from the one this checkpoint was trained on (sha256 ${settings.corpusSha256.slice(0, 12)}…)`);
  }
  if (!saved) settings = { ...settings, corpusSha256: data.sha };
  const promptIds = run.sampleTokens > 0 ? encodePrompt(data.tokenizer, run.samplePrompt) : [];
  const model = loaded ?? newModel(settings, data.tokenizer);
  const evalEvery = run.cadence.evalEvery ?? saved?.state.cadence.evalEvery ?? 100;
  const cadence: Cadence = {
    evalEvery,
    evalIters: run.cadence.evalIters ?? saved?.state.cadence.evalIters ?? 10,
    saveEvery: run.cadence.saveEvery ?? (run.cadence.evalEvery === undefined ? saved?.state.cadence.saveEvery : undefined) ?? evalEvery,
  };
  const loop = new TrainLoop(model, data.split, settings);
  const { opt, sched } = loop;
  const group = run.group;
  const lead = (group?.rank ?? 0) === 0;
  let step = 0;
  let tokensSeen = 0;
  let elapsedBefore = 0;
  const history: { train: History; val: History } = { train: [], val: [] };
  if (saved) {
    try {
      opt.loadStateDict(saved.optimizer);
      sched.loadStateDict(saved.state.scheduler);
    } catch (e) {
      model.dispose();
      throw new CliError(`cannot resume: ${saved.dir}/trainer_state.json: ${(e as Error).message}`);
    }
    loop.rng = Rng.fromState(saved.state.rng);
    loop.step = step = saved.state.step;
    tokensSeen = saved.state.tokensSeen;
    elapsedBefore = saved.state.elapsedSeconds;
    history.train = saved.state.history.train;
    history.val = saved.state.history.val;
  }
  // A loaded model may be pruned: its exact zeros are the masks the optimizer keeps at zero.
  const masked = loaded ? await restoreMasks(model, opt) : [];

  // Rank 0's weights on every rank (they agree already when no rank resumed differently).
  const ddp = group ? await DistributedDataParallel.create(model, opt, group) : null;
  const params = model.numParameters();
  const { train: trainTokens, val: valTokens } = data.split;
  log(
    `${saved ? `resuming ${saved.dir} at step ${step}` : 'training'}: GPT-2 ${plural(settings.layers, 'layer')}, ${plural(settings.heads, 'head')}, ${settings.embd} wide, context ${settings.context}, ` +
      `${(params / 1e6).toFixed(2)}M parameters; ${settings.tokenizer} tokenizer (${data.tokenizer.vocabSize} tokens)`,
  );
  if (run.from !== undefined && !saved) log(`starting from ${run.from} (new optimizer and schedule)`);
  if (masked.length > 0) {
    const { overall } = await sparsity(model);
    log(`pruned: ${(100 * overall.fraction).toFixed(1)}% of the Linear/Conv1D weights are zero and stay zero (${masked.length} masked matrices)`);
  }
  log(`data: ${data.corpus.name}, ${trainTokens.length.toLocaleString('en-US')} training / ${valTokens.length.toLocaleString('en-US')} validation tokens; batch ${settings.batch} x ${settings.context}, ${settings.steps} steps, lr ${num(settings.lr)} (warmup ${settings.warmup}, cosine to ${num(settings.minLr)})`);

  // Ctrl-C: finish the current step, save, exit 130. Repeated signals while saving are ignored.
  let interrupted = false;
  const onSigint = (): void => {
    if (!interrupted) io.stderr.write('\ninterrupted: saving a checkpoint after this step (Ctrl-\\ to quit without saving)\n');
    interrupted = true;
  };
  process.on('SIGINT', onSigint);

  const progress = new Progress(io.stderr, settings.steps, step);
  const started = performance.now();
  const runSeconds = () => (performance.now() - started) / 1000;
  let tokensThisRun = 0;
  let lastSaved = saved ? step : -1;

  const checkpoint = async (why: string): Promise<void> => {
    await saveCheckpoint(run.out, {
      model,
      tokenizer: data.tokenizer,
      optimizer: opt.stateDictSync(),
      state: {
        format: 'tessera-trainer',
        version: 1,
        step,
        settings,
        cadence,
        rng: loop.rng.state(),
        tokensSeen,
        elapsedSeconds: elapsedBefore + runSeconds(),
        history,
        scheduler: sched.stateDict(),
      },
      lossCurveSvg: lossCurveSvg(history.train, history.val, `GPT-2 on ${data.corpus.name.replace(/ \(.*\)$/, '')}: loss`),
    });
    lastSaved = step;
    progress.log(`checkpoint: step ${step} saved to ${run.out} (${why})`);
  };

  const validate = async (): Promise<{ loss: number; perplexity: number }> => {
    const loss = await loop.evaluate(cadence.evalIters);
    const perplexity = perplexityFromLosses([loss]);
    history.val.push([step, loss]);
    progress.log(`step ${step}: val loss ${loss.toFixed(4)}, perplexity ${perplexity.toFixed(2)}`);
    return { loss, perplexity };
  };

  let finalVal: { loss: number; perplexity: number } | undefined;
  try {
    if (lead && step === 0 && cadence.evalEvery > 0) await validate();
    const end = Math.min(settings.steps, run.stopAt ?? Infinity);
    const hooks: StepHooks = group
      ? {
          rows: (b) => rowBlock(b, group),
          dropoutSeed: (seed) => dropoutSeed(seed, group),
          // One collective: the mean gradient, the mean loss, and whether any rank was interrupted (all stop at one step).
          reduce: async (loss) => {
            const [mean, stop] = await ddp!.allReduceGradients([loss, interrupted ? 1 : 0]);
            interrupted ||= stop > 0;
            return mean;
          },
        }
      : {};
    while (step < end && !interrupted) {
      const { loss, lr, tokens } = await loop.trainStep(hooks);
      step = loop.step;
      tokensSeen += tokens;
      tokensThisRun += tokens;
      history.train.push([step, loss]);
      progress.update({ step, loss, lr, rate: tokensThisRun / runSeconds(), rateUnit: 'tok' });
      if (lead && cadence.evalEvery > 0 && step % cadence.evalEvery === 0 && step !== settings.steps) await validate();
      if (lead && cadence.saveEvery > 0 && step % cadence.saveEvery === 0 && step !== settings.steps && step !== end) await checkpoint('periodic');
      await yieldToEvents();
    }
    if (lead && step === settings.steps && !interrupted) finalVal = history.val.at(-1)?.[0] === step ? toVal(history.val.at(-1)![1]) : await validate();
    if (lead && lastSaved !== step) await checkpoint(interrupted ? 'interrupted' : step === settings.steps ? 'final' : `--stop-at ${run.stopAt}`);
    progress.finish();
  } finally {
    process.off('SIGINT', onSigint);
  }

  const seconds = runSeconds();
  log(`${interrupted ? 'stopped' : 'done'} at step ${step}/${settings.steps} in ${fmtDuration(seconds)} (${fmtRate(tokensThisRun / seconds)} tokens/s)`);
  if (finalVal) {
    log(`validation loss ${finalVal.loss.toFixed(4)} nats/token, perplexity ${finalVal.perplexity.toFixed(2)}`);
    log(`checkpoint and loss curve: ${run.out}/ (loss.svg)`);
  }
  if (finalVal && run.sampleTokens > 0) {
    model.eval();
    io.stdout.write(`\nsample (temperature 0.8, top-k 40, seed ${settings.seed}):\n${run.samplePrompt}`);
    const printer = new TokenPrinter(data.tokenizer);
    for await (const id of model.stream(promptIds, { maxNewTokens: run.sampleTokens, temperature: 0.8, topK: 40, seed: settings.seed, stopTokens: [] })) {
      io.stdout.write(printer.push(id));
    }
    io.stdout.write(`${printer.flush()}\n`);
  }
  loop.dispose();
  model.dispose();
  return { step, interrupted, finalVal, seconds };
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const num = (x: number): string => String(Number(x.toPrecision(4)));

function toVal(loss: number): { loss: number; perplexity: number } {
  return { loss, perplexity: perplexityFromLosses([loss]) };
}

export type { TrainSettings, TrainerState };
