/**
 * GPT-2 with a classification head (HF `GPT2ForSequenceClassification`):
 * the hidden state of each sequence's last real token goes through
 * `score` (Linear C -> numLabels, no bias).
 */

import { ArgumentError, ShapeError, fmtShape, hash32 } from '@tessera/core';
import { add, arange, argmax, crossEntropy, full, indexSelect, memory, mse, mul, ne, tensor, tidy, type Tensor } from '@tessera/tensor';
import { ConfigError } from '../nn/errors.js';
import { gpt2Init, normal_ } from '../nn/init.js';
import { Linear } from '../nn/linear.js';
import { Module, type LoadStateDictOptions, type LoadStateDictResult, type StateDictInput } from '../nn/module.js';
import { FlatParameters, placeholderParameters } from '../nn/parameters.js';
import { checkGpt2Size, gpt2Config, gpt2ParameterCounts, type GPT2Config, type GPT2ConfigInput } from './config.js';
import { gpt2CheckpointParams, loadGPT2Directory, saveGPT2Directory } from './hf-checkpoint.js';
import type { GPT2Options } from './model.js';
import type { SavableTokenizer } from './pretrained.js';
import { GPT2Model, checkIds, checkMask } from './transformer.js';

/** Options of GPT2ForSequenceClassification. */
export interface SequenceClassificationOptions extends GPT2Options {
  /** Number of classes (1 means regression with an MSE loss, as in HF). Default: from config `id2label`, else 2. */
  numLabels?: number;
}

/** Labels: i32 class ids [B] (f32 targets [B] for regression), or a plain array. */
export type Labels = Tensor | readonly number[];

/** The seed of `score.weight`'s init derived from `seed` (undefined: the global generator). */
function scoreSeed(seed: number | undefined): number | undefined {
  return seed === undefined ? undefined : hash32(seed, 0x73636f) | 0;
}

function labelsFromConfig(config: GPT2Config): number | undefined {
  const id2label = config.extra.id2label;
  return id2label && typeof id2label === 'object' ? Object.keys(id2label).length : undefined;
}

/**
 * Row indices (b * T + t) [B] (i32) of the token each sequence is classified
 * by: the last position where `mask` is nonzero, else the last id that is not
 * `pad_token_id`, else the last position. A row with no real token uses
 * position 0, as HF's argmax over an all-zero row does. Computed on device.
 */
export function lastTokenRows(ids: Tensor, mask: Tensor | null, padTokenId: number | null): Tensor {
  const [B, T] = ids.shape;
  return tidy(() => {
    let pos: Tensor; // f32 [B]
    if (mask || padTokenId !== null) {
      const real = mask ? ne(mask, 0) : ne(ids, padTokenId!); // f32 0/1 [B, T]
      pos = argmax(mul(real, arange(T)), -1).float(); // HF: (arange(T) * non_pad).argmax(-1)
    } else pos = full([B], T - 1);
    return add(pos, arange(0, B * T, T)).int();
  });
}

/**
 * Sequence classifier on a GPT-2 body with HF names (`transformer.*`,
 * `score.weight` [numLabels, C]). Parameters live in one flat block like GPT2's.
 * @example
 * const clf = new GPT2ForSequenceClassification({ ...small, pad_token_id: 0 }, { numLabels: 2, seed: 0 });
 * const loss = clf.loss(ids, [0, 1]); loss.backward();
 */
export class GPT2ForSequenceClassification extends Module {
  readonly config: GPT2Config;
  readonly numLabels: number;
  readonly transformer: GPT2Model;
  readonly score: Linear;
  /** The parameter block (see GPT2.flat); `quantize` / `dequantize` replace it. */
  flat: FlatParameters;
  tokenizer: SavableTokenizer | null = null;

  constructor(config: GPT2ConfigInput | GPT2Config = {}, options: SequenceClassificationOptions = {}) {
    super();
    this.config = gpt2Config(config);
    const numLabels = options.numLabels ?? labelsFromConfig(this.config) ?? 2;
    if (!Number.isSafeInteger(numLabels) || numLabels < 1) throw new ConfigError(`GPT2ForSequenceClassification: numLabels must be a positive integer, got ${numLabels}`);
    this.numLabels = numLabels;
    checkGpt2Size(this.config, memory().maxBytes, numLabels * this.config.n_embd, 'GPT2ForSequenceClassification');
    const counts = gpt2ParameterCounts(this.config);
    this.flat = new FlatParameters(options.placeholders ? { decay: 0, noDecay: 0 } : { decay: counts.decay + numLabels * this.config.n_embd, noDecay: counts.noDecay });
    const factory = options.placeholders ? placeholderParameters : this.flat;
    this.transformer = this.registerModule('transformer', new GPT2Model(this.config, { factory, seed: options.seed }));
    this.score = this.registerModule('score', new Linear(this.config.n_embd, numLabels, { bias: false, factory, init: false }));
    this.flat.finish();
    if (options.init !== false && !options.placeholders) {
      const seed = options.seed === undefined ? undefined : hash32(options.seed, 0x677074) | 0;
      gpt2Init(this.transformer.namedParameters('transformer'), { nLayer: this.config.n_layer, std: this.config.initializer_range, seed });
      normal_(this.score.weight, { std: this.config.initializer_range, seed: scoreSeed(seed) });
    }
  }

  override get typeName(): string {
    return 'GPT2ForSequenceClassification';
  }

  /**
   * Logits [B, numLabels] for i32 ids [B, T]; `attentionMask` [B, T] (1 token,
   * 0 padding) also picks the pooled token, else `pad_token_id` does.
   */
  forward(ids: Tensor, attentionMask: Tensor | null = null): Tensor {
    checkIds('GPT2ForSequenceClassification.forward', ids, this.config);
    if (attentionMask) checkMask('GPT2ForSequenceClassification.forward', attentionMask, ids);
    this.flat.prepareForward();
    const [B, T] = ids.shape;
    const C = this.config.n_embd;
    return tidy(() => {
      const hidden = this.transformer.forward(ids, attentionMask).reshape([B * T, C]);
      return this.score.forward(indexSelect(hidden, 0, lastTokenRows(ids, attentionMask, this.config.pad_token_id)));
    });
  }

  /** Cross-entropy against class ids (MSE against targets when numLabels is 1). */
  loss(ids: Tensor, labels: Labels, attentionMask: Tensor | null = null): Tensor {
    return tidy(() => classificationLoss('GPT2ForSequenceClassification.loss', this.forward(ids, attentionMask), labels, this.numLabels));
  }

  override zeroGrad(_setToNone = true): void {
    this.flat.zeroGrad();
  }

  /** Loads by name; accepts HF checkpoints as GPT2.loadStateDict does (a `lm_head.weight` is ignored here). */
  override loadStateDict(dict: StateDictInput, options: LoadStateDictOptions = {}): LoadStateDictResult {
    return super.loadStateDict(gpt2CheckpointParams(this, dict).params, options);
  }

  /**
   * Loads a HF directory: a saved classifier, or a GPT-2 language model whose
   * body is reused with a new, randomly initialised `score` (fine-tuning).
   * @example const clf = await GPT2ForSequenceClassification.fromPretrained('models/gpt2', { numLabels: 2, seed: 0 });
   */
  static fromPretrained(dir: string, options: SequenceClassificationOptions & { tokenizer?: boolean } = {}): Promise<GPT2ForSequenceClassification> {
    return loadGPT2Directory(
      dir,
      options,
      (config, how) => new GPT2ForSequenceClassification(config, { ...options, init: false, placeholders: how.quantized }),
      (model, dict) => {
        const { missingKeys, unexpectedKeys } = model.loadStateDict(dict, { strict: false });
        const stray = missingKeys.filter((k) => k !== 'score.weight');
        if (stray.length > 0 || unexpectedKeys.length > 0) {
          throw new ArgumentError(
            `GPT2ForSequenceClassification.fromPretrained: ${dir} does not fit: ` +
              [stray.length ? `missing ${stray.slice(0, 5).join(', ')}` : '', unexpectedKeys.length ? `unexpected ${unexpectedKeys.slice(0, 5).join(', ')}` : ''].filter(Boolean).join('; '),
          );
        }
        // A language model's directory: the body is loaded, the head starts from GPT-2's init.
        if (missingKeys.includes('score.weight')) normal_(model.score.weight, { std: model.config.initializer_range, seed: scoreSeed(options.seed) });
      },
    );
  }

  /** Writes a HF directory (architectures ["GPT2ForSequenceClassification"], `id2label` / `label2id` for numLabels). */
  savePretrained(dir: string, options: { tokenizer?: SavableTokenizer | null } = {}): Promise<void> {
    const extraConfig: Record<string, unknown> = {};
    if (labelsFromConfig(this.config) !== this.numLabels) {
      const id2label: Record<string, string> = {};
      const label2id: Record<string, number> = {};
      for (let i = 0; i < this.numLabels; i++) {
        id2label[String(i)] = `LABEL_${i}`;
        label2id[`LABEL_${i}`] = i;
      }
      Object.assign(extraConfig, { id2label, label2id });
    }
    return saveGPT2Directory(dir, this, 'GPT2ForSequenceClassification', { tokenizer: options.tokenizer, extraConfig });
  }

  override dispose(): void {
    super.dispose();
    this.flat.dispose();
  }
}

/** Cross-entropy of logits [B, L] against class ids, or MSE against targets when L is 1. */
export function classificationLoss(op: string, logits: Tensor, labels: Labels, numLabels: number): Tensor {
  const B = logits.shape[0];
  return tidy(() => {
    let y: Tensor;
    if (Array.isArray(labels)) {
      y = numLabels === 1 ? tensor(labels as number[], [labels.length]) : tensor(labels as number[], [labels.length], 'i32');
    } else y = labels as Tensor;
    if (y.rank !== 1 || y.shape[0] !== B) throw new ShapeError(`${op}: labels ${fmtShape(y.shape)} must be [batch] = [${B}]`);
    if (numLabels === 1) return mse(logits.reshape([B]), y.dtype === 'f32' ? y : y.float());
    return crossEntropy(logits, y);
  });
}
