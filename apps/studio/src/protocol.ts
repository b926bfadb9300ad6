/** Messages between the page and the training worker (which owns the backend and the model). */

import type { BackendChoice, BackendRequest } from './backend-choice.js';
import type { PresetName } from '@tessera/cli/train-core';

/** Sampling settings of a generation (the `model.stream` options). */
export interface SampleSettings {
  prompt: string;
  maxNewTokens: number;
  /** 0: greedy. */
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
}

/**
 * The training text, read by the worker (fetching and decoding a megabyte on the page's thread
 * would block it for longer than a frame): a URL (Moby Dick), file bytes (decoded as the CLI
 * decodes --data) or pasted text.
 */
export type CorpusSource = { kind: 'url'; url: string; name: string } | { kind: 'bytes'; bytes: Uint8Array; name: string } | { kind: 'text'; text: string; name: string };

/** Page → worker. */
export type Request =
  | { type: 'init'; backend: BackendRequest }
  | { type: 'train'; corpus: CorpusSource; preset: PresetName; steps: number; seed: number; evalEvery: number; evalIters: number }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'stop' }
  | { type: 'generate'; settings: SampleSettings }
  | { type: 'export'; format: 'zip' }
  | { type: 'persist' }
  | { type: 'restore' }
  | { type: 'open'; name: string; files: Map<string, Uint8Array> };

/** A description of the model the worker holds. */
export interface ModelInfo {
  /** Where it came from: "trained here (tiny, 30 steps)", "model.zip", "gpt2.Q8_0.gguf", ... */
  source: string;
  /** Every weight, the quantized ones counted by their values. */
  parameters: number;
  layers: number;
  heads: number;
  embd: number;
  context: number;
  vocab: number;
  tokenizer: 'char' | 'gpt2' | 'none';
  /**
   * A quantized model's weights ("int8, groups of 32: 14 weights, 0.52 MB"), null for f32. Such
   * a model generates but cannot be trained (its quantized weights have no gradient).
   */
  quantized: string | null;
}

/** Worker → page. */
export type Reply =
  | { type: 'backend'; choice: BackendChoice; threads: number; note: string | null }
  | { type: 'started'; corpus: string; characters: number; steps: number; parameters: number; trainTokens: number; valTokens: number; settings: Record<string, unknown> }
  | { type: 'step'; step: number; loss: number; lr: number; tokensPerSecond: number; elapsed: number; firstStepMs: number }
  | { type: 'val'; step: number; loss: number }
  | { type: 'paused' }
  | { type: 'resumed' }
  | { type: 'trained'; step: number; stopped: boolean; seconds: number }
  | { type: 'model'; info: ModelInfo | null }
  | { type: 'token'; id: number; text: string }
  | { type: 'generated'; ids: number[]; text: string; ms: number }
  | { type: 'exported'; name: string; bytes: Uint8Array }
  | { type: 'persisted'; bytes: number }
  | { type: 'error'; message: string; during: Request['type'] };
