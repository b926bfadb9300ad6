/**
 * Training checkpoints. A checkpoint is one directory in Hugging Face's layout plus the state a
 * resumed run needs to continue bit for bit:
 *
 *   config.json, model.safetensors, tokenizer files   GPT2.savePretrained (loadable by `generate`, HF)
 *   training_state.safetensors                        AdamW moment buffers (f32, exact)
 *   trainer_state.json                                step, settings, sampler RNG, scheduler,
 *                                                     optimizer step counts/options, loss history
 *   loss.svg                                          the train/validation loss curve
 *
 * The directory is written aside and renamed into place (`replaceDirAtomic`), so an interrupted
 * save never leaves a mixed or half-written checkpoint.
 */

import { join } from 'node:path';
import type { OptimizerStateDict, SchedulerStateDict } from '@tessera/optim';
import { readSafetensorsFile, writeSafetensorsFile, type GPT2, type LoadedTensor, type SavableTokenizer, type TensorToSave } from '@tessera/models';
import { CliError } from '../errors.js';
import { readText, recoverCheckpointDir, replaceDirAtomic, writeText } from '../data/files.js';
import type { RngState } from '../rng.js';
import type { Cadence, History, TrainSettings } from './settings.js';

export type { Cadence, History, TrainSettings } from './settings.js';

export const TRAINER_STATE_FILE = 'trainer_state.json';
export const TRAINING_STATE_FILE = 'training_state.safetensors';
export const LOSS_CURVE_FILE = 'loss.svg';
/** The files that show a directory is a checkpoint Tessera wrote (the only kind `--overwrite` replaces). */
export const CHECKPOINT_MARKERS: readonly string[] = ['config.json', TRAINER_STATE_FILE];

/** The JSON half of the training state. */
export interface TrainerState {
  format: 'tessera-trainer';
  version: 1;
  /** Optimizer steps completed. */
  step: number;
  settings: TrainSettings;
  /** Validation and checkpoint cadence; a resumed run keeps it unless told otherwise. */
  cadence: Cadence;
  /** The batch sampler's generator after `step` steps. */
  rng: RngState;
  tokensSeen: number;
  /** Training time so far, over all runs of this checkpoint. */
  elapsedSeconds: number;
  history: { train: History; val: History };
  scheduler: SchedulerStateDict;
  /** The optimizer state dict with each buffer replaced by its tensor name in training_state.safetensors. */
  optimizer: Omit<OptimizerStateDict, 'state'> & { state: ({ shape: number[]; step: number; buffers: Record<string, string> } | null)[] };
}

/** The parts of a checkpoint to write. */
export interface CheckpointParts {
  model: GPT2;
  tokenizer: SavableTokenizer;
  optimizer: OptimizerStateDict;
  state: Omit<TrainerState, 'optimizer'>;
  lossCurveSvg: string;
}

/** Writes a complete checkpoint into `dir`, replacing the previous one atomically. */
export async function saveCheckpoint(dir: string, parts: CheckpointParts): Promise<void> {
  const tensors: Record<string, TensorToSave> = {};
  const optimizer: TrainerState['optimizer'] = {
    optimizer: parts.optimizer.optimizer,
    paramGroups: parts.optimizer.paramGroups,
    state: parts.optimizer.state.map((s, i) => {
      if (s === null) return null;
      const buffers: Record<string, string> = {};
      for (const [name, data] of Object.entries(s.buffers)) {
        const key = `optimizer.state.${i}.${name}`;
        tensors[key] = { dtype: 'F32', shape: s.shape, data: data instanceof Float32Array ? data : Float32Array.from(data) };
        buffers[name] = key;
      }
      return { shape: s.shape, step: s.step, buffers };
    }),
  };
  const state: TrainerState = { ...parts.state, optimizer };
  await replaceDirAtomic(dir, async (tmp) => {
    await parts.model.savePretrained(tmp, { tokenizer: parts.tokenizer });
    await writeSafetensorsFile(join(tmp, TRAINING_STATE_FILE), tensors, { format: 'tessera-trainer' });
    await writeText(join(tmp, LOSS_CURVE_FILE), parts.lossCurveSvg);
    await writeText(join(tmp, TRAINER_STATE_FILE), `${JSON.stringify(state, null, 1)}\n`);
  }, CHECKPOINT_MARKERS);
}

/** A checkpoint's training state, read back. */
export interface LoadedCheckpoint {
  /** The directory it was read from (a `*.old-*` sibling after an interrupted save). */
  dir: string;
  state: TrainerState;
  optimizer: OptimizerStateDict;
}

const COUNT = (v: unknown) => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const NUMBER = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
const NON_NEGATIVE = (v: unknown) => NUMBER(v) && (v as number) >= 0;
const ARRAY = (v: unknown) => Array.isArray(v);
const OBJECT = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** Each field a resume reads, with what it must be (`what` for the message). */
const TRAINER_STATE_FIELDS: [path: string, ok: (v: unknown) => boolean, what: string][] = [
  ['step', COUNT, 'an integer >= 0'],
  ['tokensSeen', NON_NEGATIVE, 'a number >= 0'],
  ['elapsedSeconds', NON_NEGATIVE, 'a number >= 0'],
  ['rng', (v) => ARRAY(v) && (v as unknown[]).length === 4 && (v as unknown[]).every(COUNT), 'four unsigned integers'],
  ['cadence', OBJECT, 'an object'],
  ['cadence.evalEvery', COUNT, 'an integer >= 0'],
  ['cadence.evalIters', COUNT, 'an integer >= 0'],
  ['cadence.saveEvery', COUNT, 'an integer >= 0'],
  ['history', OBJECT, 'an object'],
  ['history.train', ARRAY, 'an array of [step, loss] pairs'],
  ['history.val', ARRAY, 'an array of [step, loss] pairs'],
  ['scheduler', OBJECT, 'an object'],
  ['optimizer.paramGroups', ARRAY, 'an array'],
  ['optimizer.state', ARRAY, 'an array'],
  ['settings.tokenizer', (v) => v === 'char' || v === 'gpt2', '"char" or "gpt2"'],
  ['settings.corpusSha256', (v) => typeof v === 'string' && /^[0-9a-f]{64}$/.test(v), 'a SHA-256 as 64 hex digits'],
  ...(['layers', 'heads', 'embd', 'context', 'batch', 'steps', 'warmup', 'seed'] as const).map((k) => [`settings.${k}`, COUNT, 'an integer >= 0'] as [string, (v: unknown) => boolean, string]),
  ...(['lr', 'minLr', 'weightDecay', 'gradClip', 'dropout'] as const).map((k) => [`settings.${k}`, NON_NEGATIVE, 'a number >= 0'] as [string, (v: unknown) => boolean, string]),
];

/** Throws a CliError naming the first field of a trainer state that is missing or of the wrong kind. */
function checkTrainerState(state: TrainerState, path: string): void {
  for (const [field, ok, what] of TRAINER_STATE_FIELDS) {
    let v: unknown = state;
    for (const k of field.split('.')) v = OBJECT(v) ? (v as Record<string, unknown>)[k] : undefined;
    if (v === undefined) throw new CliError(`cannot resume: ${path} lacks ${field}`);
    if (!ok(v)) throw new CliError(`cannot resume: ${path} has ${field} = ${JSON.stringify(v)}, expected ${what}`);
  }
  // Entries of the arrays a resume iterates over.
  for (const key of ['train', 'val'] as const) {
    state.history[key].forEach((pair: unknown, i) => {
      if (!Array.isArray(pair) || pair.length !== 2 || !COUNT(pair[0]) || typeof pair[1] !== 'number') {
        throw new CliError(`cannot resume: ${path} has history.${key}[${i}] = ${JSON.stringify(pair)}, expected a [step, loss] pair`);
      }
    });
  }
  state.optimizer.state.forEach((entry: unknown, i) => {
    if (entry === null) return;
    const e = entry as Record<string, unknown>;
    const field = `optimizer.state[${i}]`;
    if (!OBJECT(entry)) throw new CliError(`cannot resume: ${path} has ${field} = ${JSON.stringify(entry)}, expected null or an object`);
    if (!ARRAY(e.shape) || !(e.shape as unknown[]).every(COUNT)) throw new CliError(`cannot resume: ${path} has ${field}.shape = ${JSON.stringify(e.shape)}, expected an array of sizes`);
    if (!COUNT(e.step)) throw new CliError(`cannot resume: ${path} has ${field}.step = ${JSON.stringify(e.step)}, expected an integer >= 0`);
    if (!OBJECT(e.buffers) || !Object.values(e.buffers as object).every((v) => typeof v === 'string')) {
      throw new CliError(`cannot resume: ${path} has ${field}.buffers = ${JSON.stringify(e.buffers)}, expected an object of tensor names`);
    }
  });
  const data = state.settings.data;
  if (data !== null && typeof data !== 'string') throw new CliError(`cannot resume: ${path} has settings.data = ${JSON.stringify(data)}, expected a path or null`);
  if (state.step > state.settings.steps) throw new CliError(`cannot resume: ${path} has step ${state.step} past settings.steps ${state.settings.steps}`);
}

/** Reads the training state of the checkpoint in `dir`; `CliError` when there is none or it is damaged. */
export async function loadCheckpointState(dir: string): Promise<LoadedCheckpoint> {
  const found = await recoverCheckpointDir(dir);
  if (!found) throw new CliError(`no checkpoint to resume in ${dir}: the directory does not exist`);
  const statePath = join(found, TRAINER_STATE_FILE);
  const text = await readText(statePath, 'cannot resume: no readable training state at');
  let state: TrainerState;
  try {
    state = JSON.parse(text) as TrainerState;
  } catch (e) {
    throw new CliError(`cannot resume: ${statePath} is not valid JSON (${(e as Error).message})`);
  }
  if (state?.format !== 'tessera-trainer' || state.version !== 1 || !Number.isInteger(state.step) || !state.settings || !state.optimizer) {
    throw new CliError(`cannot resume: ${statePath} is not a version-1 tessera trainer state`);
  }
  checkTrainerState(state, statePath);
  let tensors: Map<string, LoadedTensor>;
  try {
    tensors = (await readSafetensorsFile(join(found, TRAINING_STATE_FILE))).tensors;
  } catch (e) {
    throw new CliError(`cannot resume: ${join(found, TRAINING_STATE_FILE)}: ${(e as Error).message}`);
  }
  const optimizer: OptimizerStateDict = {
    optimizer: state.optimizer.optimizer,
    paramGroups: state.optimizer.paramGroups,
    state: state.optimizer.state.map((s) => {
      if (s === null) return null;
      const buffers: Record<string, Float32Array> = {};
      for (const [name, key] of Object.entries(s.buffers)) {
        const t = tensors.get(key);
        if (!t || t.dtype !== 'f32') throw new CliError(`cannot resume: ${TRAINING_STATE_FILE} in ${found} lacks the f32 tensor ${key}`);
        buffers[name] = t.data;
      }
      return { shape: s.shape, step: s.step, buffers };
    }),
  };
  return { dir: found, state, optimizer };
}
