/** The settings of a language-model training run (browser-safe: part of `@tessera/cli/train-core`). */

/** Everything that determines a training run's numbers. A resume must not change any of it. */
export interface TrainSettings {
  tokenizer: 'char' | 'gpt2';
  /** The --data path, or null for Moby Dick. */
  data: string | null;
  /** SHA-256 of the corpus text, so a resume on different data is refused. */
  corpusSha256: string;
  layers: number;
  heads: number;
  embd: number;
  context: number;
  batch: number;
  steps: number;
  lr: number;
  minLr: number;
  warmup: number;
  weightDecay: number;
  /** Global gradient-norm limit; 0 turns clipping off. */
  gradClip: number;
  dropout: number;
  seed: number;
}

/** How often a run validates and saves (changeable on resume: it does not affect the weights). */
export interface Cadence {
  evalEvery: number;
  evalIters: number;
  saveEvery: number;
}

/** `[step, loss]` pairs. */
export type History = [number, number][];
