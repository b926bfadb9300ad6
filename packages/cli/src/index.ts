/**
 * @tessera/cli: the `tessera` command (train, generate, finetune, eval, bench) and the pieces it is
 * built from, for programs that want to drive them directly.
 */
export { main, errorLine } from './main.js';
export { EXIT } from './exit.js';
export * from './args.js';
export { CliError, UsageError } from './errors.js';
export type { Command, Io } from './command.js';
export { Rng, type RngState } from './rng.js';
export { replaceDirAtomic, writeFileAtomic, findCheckpointDir } from './data/files.js';
export { DATA_PACKAGES, MissingDataPackageError, dataPackageDir, setPackageResolver, type DataPackage, type PackageResolver } from './data/packages.js';
export { loadCorpus, mobyDick, TokenSplit, VAL_FRACTION, type Batch } from './data/corpus.js';
export { loadSpamAssassin, stratifiedSplit, emailText, LABELS, HAM_GROUPS, SPAM_GROUPS, type Email, type Split } from './data/spam.js';
export { lineChartSvg, lossCurveSvg, rocCurveSvg, escapeXml, type Chart, type Series } from './ui/svg.js';
export { Progress, fmtDuration, fmtRate } from './ui/progress.js';
export { TokenPrinter } from './ui/token-printer.js';
export { PRESETS, PRESET_NAMES, type Preset, type PresetName } from './train/presets.js';
export { saveCheckpoint, loadCheckpointState, TRAINER_STATE_FILE, TRAINING_STATE_FILE, LOSS_CURVE_FILE, type TrainSettings, type TrainerState } from './train/checkpoint.js';
export { train, type TrainRun, type TrainResult } from './train/trainer.js';
export { BETAS, TrainLoop, newModel, presetSettings, tokenizeCorpus, type SettingsOverrides, type StepHooks, type StepResult } from './train/core.js';
export { decodeCorpus } from './data/decode.js';
