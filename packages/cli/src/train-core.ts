/**
 * @tessera/cli/train-core: the browser-safe half of `tessera train` (no `node:` imports): presets,
 * settings, the corpus split and batch sampler, the seeded generator and the training step. The
 * CLI's trainer is built on it, and so is the browser studio, so both compute the same losses for
 * the same settings.
 * @example
 * const settings = presetSettings('tiny', { steps: 30 });
 * const { tokenizer, split } = await tokenizeCorpus(text, 'my text', settings);
 * const loop = new TrainLoop(newModel(settings, tokenizer), split, settings);
 * for (let i = 0; i < settings.steps; i++) console.log((await loop.trainStep()).loss);
 */
export { PRESETS, PRESET_NAMES, type Preset, type PresetName } from './train/presets.js';
export type { Cadence, History, TrainSettings } from './train/settings.js';
export { BETAS, TrainLoop, newModel, presetSettings, tokenizeCorpus, type SettingsOverrides, type StepHooks, type StepResult } from './train/core.js';
export { TokenSplit, VAL_FRACTION, type Batch } from './data/split.js';
export { decodeCorpus } from './data/decode.js';
export { Rng, type RngState } from './rng.js';
export { CliError } from './errors.js';
export { fmtDuration, fmtRate } from './ui/progress.js';
export { TokenPrinter, encodePrompt } from './ui/token-printer.js';
