/**
 * A small bidirectional Transformer text classifier: token embedding +
 * learned positions, a pre-LN TransformerEncoder, mean pooling over real
 * tokens, and a Linear head.
 */

import { ShapeError, fmtShape, fmtValue } from '@tessera/core';
import { div, maximum, mul, ne, sum, tidy, type Tensor } from '@tessera/tensor';
import { classificationLoss, type Labels } from '../gpt2/sequence-classification.js';
import { checkMask } from '../gpt2/transformer.js';
import { Dropout } from '../nn/dropout.js';
import { Embedding } from '../nn/embedding.js';
import { ConfigError } from '../nn/errors.js';
import { deriveSeed } from '../nn/init.js';
import { Linear, checkPositiveInt } from '../nn/linear.js';
import { Module } from '../nn/module.js';
import { checkLayerCount, loadModelDirectory, saveModelDirectory, type SavableTokenizer } from '../gpt2/pretrained.js';
import { LearnedPositionalEmbedding } from '../nn/positional.js';
import { TransformerEncoder } from '../nn/transformer-encoder.js';
import { checkParameterBudget, transformerBlockParameters } from '../nn/size.js';

/** Options of TransformerEncoderClassifier. */
export interface TransformerEncoderClassifierOptions {
  vocabSize: number;
  numLabels: number;
  /** Longest input (size of the position table). */
  maxLength: number;
  /** Width (default 128). */
  dModel?: number;
  /** Attention heads (default 4). */
  numHeads?: number;
  /** Encoder blocks (default 2). */
  numLayers?: number;
  /** Feed-forward hidden size (default 4 * dModel). */
  dFF?: number;
  /** Dropout on embeddings, residual branches and attention (default 0.1). */
  dropout?: number;
  /** Id of padding: masked out of attention and pooling when no mask is passed. */
  padTokenId?: number;
  seed?: number;
}

/**
 * ids [B, T] -> logits [B, numLabels].
 * @example
 * const clf = new TransformerEncoderClassifier({ vocabSize: 100, numLabels: 2, maxLength: 64, padTokenId: 0, seed: 0 });
 * const loss = clf.loss(ids, labels); loss.backward();
 */
export class TransformerEncoderClassifier extends Module {
  readonly tokens: Embedding;
  readonly positions: LearnedPositionalEmbedding;
  readonly drop: Dropout;
  readonly encoder: TransformerEncoder;
  readonly head: Linear;
  readonly numLabels: number;
  readonly padTokenId: number | undefined;
  /** The options this model was built with, defaults filled in (what savePretrained writes). */
  readonly options: Required<Omit<TransformerEncoderClassifierOptions, 'padTokenId' | 'seed'>> & { padTokenId?: number };

  constructor(options: TransformerEncoderClassifierOptions) {
    super();
    const { vocabSize, numLabels, maxLength, seed } = options;
    checkPositiveInt('TransformerEncoderClassifier', 'vocabSize', vocabSize);
    checkPositiveInt('TransformerEncoderClassifier', 'numLabels', numLabels);
    checkPositiveInt('TransformerEncoderClassifier', 'maxLength', maxLength);
    const dModel = options.dModel ?? 128;
    const dropout = options.dropout ?? 0.1;
    checkPositiveInt('TransformerEncoderClassifier', 'dModel', dModel);
    const sizes = { vocabSize, maxLength, numLabels, dModel, numLayers: options.numLayers ?? 2, dFF: options.dFF ?? 4 * dModel };
    checkPositiveInt('TransformerEncoderClassifier', 'numLayers', sizes.numLayers);
    checkPositiveInt('TransformerEncoderClassifier', 'dFF', sizes.dFF);
    checkParameterBudget(
      'TransformerEncoderClassifier',
      sizes,
      (s) => (s.vocabSize + s.maxLength) * s.dModel + s.numLayers * transformerBlockParameters(s.dModel, s.dFF) + 2 * s.dModel + (s.dModel + 1) * s.numLabels,
      { vocabSize: 50257, maxLength: 1024, numLabels: 2, dModel: 128, numLayers: 2, dFF: 512 },
    );
    if (options.padTokenId !== undefined && (!Number.isInteger(options.padTokenId) || options.padTokenId < 0 || options.padTokenId >= vocabSize)) {
      throw new ConfigError(`TransformerEncoderClassifier: padTokenId must be an id in [0, ${vocabSize}), got ${options.padTokenId}`);
    }
    this.numLabels = numLabels;
    this.padTokenId = options.padTokenId;
    this.options = {
      vocabSize, numLabels, maxLength, dModel, numHeads: options.numHeads ?? 4, numLayers: options.numLayers ?? 2,
      dFF: options.dFF ?? 4 * dModel, dropout, ...(options.padTokenId === undefined ? {} : { padTokenId: options.padTokenId }),
    };
    // Modules allocate as they are built: a later one refusing its options must not leak the earlier ones.
    try {
      this.tokens = this.registerModule('tokens', new Embedding(vocabSize, dModel, { std: 0.02, seed: deriveSeed(seed, 0) }));
      this.positions = this.registerModule('positions', new LearnedPositionalEmbedding(maxLength, dModel, { std: 0.02, seed: deriveSeed(seed, 1) }));
      this.drop = this.registerModule('drop', new Dropout(dropout, { seed: deriveSeed(seed, 2) }));
      this.encoder = this.registerModule(
        'encoder',
        new TransformerEncoder(options.numLayers ?? 2, { dModel, numHeads: options.numHeads ?? 4, dFF: options.dFF, dropout, causal: false, seed: deriveSeed(seed, 3) }),
      );
      this.head = this.registerModule('head', new Linear(dModel, numLabels, { seed: deriveSeed(seed, 4) }));
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /**
   * Logits [B, numLabels] for i32 ids [B, T]; `mask` [B, T] (1 token, 0
   * padding; default: ids != padTokenId when that is set) limits attention
   * and the mean pooling to real tokens.
   */
  forward(ids: Tensor, mask: Tensor | null = null): Tensor {
    if (ids.rank !== 2) throw new ShapeError(`TransformerEncoderClassifier.forward: ids must be [batch, time], got ${fmtShape(ids.shape)}`);
    if (mask) checkMask('TransformerEncoderClassifier.forward', mask, ids);
    return tidy(() => {
      const m = mask ?? (this.padTokenId !== undefined ? ne(ids, this.padTokenId) : null);
      const x = this.drop.forward(this.positions.forward(this.tokens.forward(ids)));
      const h = this.encoder.forward(x, { paddingMask: m }); // [B, T, C]
      let pooled: Tensor;
      if (m) {
        const w = (m.dtype === 'f32' ? m : m.float()).unsqueeze(-1); // [B, T, 1]
        pooled = div(sum(mul(h, w), 1), maximum(sum(w, 1), 1)); // masked mean [B, C]
      } else pooled = h.mean(1);
      return this.head.forward(pooled);
    });
  }

  /** Cross-entropy against class ids [B] (MSE against targets when numLabels is 1). */
  loss(ids: Tensor, labels: Labels, mask: Tensor | null = null): Tensor {
    return tidy(() => classificationLoss('TransformerEncoderClassifier.loss', this.forward(ids, mask), labels, this.numLabels));
  }

  /**
   * Writes `dir/config.json` (`model_type` "tessera-encoder-classifier" and the
   * options) and `dir/model.safetensors` (the state dict by its dotted names),
   * each file written aside and renamed into place; `tokenizer` adds its files.
   * @example await clf.savePretrained('checkpoints/clf'); const again = await TransformerEncoderClassifier.fromPretrained('checkpoints/clf');
   */
  savePretrained(dir: string, options: { tokenizer?: SavableTokenizer | null } = {}): Promise<void> {
    return saveModelDirectory(dir, this, {
      config: { model_type: ENCODER_MODEL_TYPE, architectures: ['TransformerEncoderClassifier'], ...this.options },
      tokenizer: options.tokenizer,
    });
  }

  /**
   * Loads what savePretrained wrote. The config is checked like the constructor's
   * options (ConfigError naming the key) and the weights must fit exactly
   * (StateDictError naming missing, unexpected or mis-shaped tensors).
   */
  static async fromPretrained(dir: string): Promise<TransformerEncoderClassifier> {
    const { model } = await loadModelDirectory(
      dir,
      { tokenizer: false },
      (c, how) => {
        const options = encoderOptionsFromConfig(dir, c);
        checkLayerCount(`model directory ${dir}`, how.weights, /^encoder\.layers\.(\d+)\./, 'numLayers', options.numLayers!);
        return new TransformerEncoderClassifier(options);
      },
      (m, dict) => m.loadStateDict(dict, { strict: true }),
    );
    return model;
  }
}

/** The constructor options saved in `dir`/config.json, checked (ConfigError naming the key). */
function encoderOptionsFromConfig(dir: string, c: Record<string, unknown>): TransformerEncoderClassifierOptions {
  if (c.model_type !== ENCODER_MODEL_TYPE) {
    throw new ConfigError(`TransformerEncoderClassifier.fromPretrained: ${dir}/config.json has model_type ${JSON.stringify(c.model_type)}, expected "${ENCODER_MODEL_TYPE}"`);
  }
  const keys = ['vocabSize', 'numLabels', 'maxLength', 'dModel', 'numHeads', 'numLayers', 'dFF'] as const;
  for (const k of keys) {
    if (!Number.isInteger(c[k]) || (c[k] as number) <= 0) throw new ConfigError(`TransformerEncoderClassifier.fromPretrained: config key ${k} must be a positive integer, got ${fmtValue(c[k])}`);
  }
  if (typeof c.dropout !== 'number' || !(c.dropout >= 0 && c.dropout <= 1)) {
    throw new ConfigError(`TransformerEncoderClassifier.fromPretrained: config key dropout must be a number in [0, 1], got ${fmtValue(c.dropout)}`);
  }
  return {
    ...(Object.fromEntries(keys.map((k) => [k, c[k] as number])) as Pick<TransformerEncoderClassifierOptions, (typeof keys)[number]>),
    dropout: c.dropout,
    padTokenId: c.padTokenId === undefined ? undefined : (c.padTokenId as number),
  };
}

const ENCODER_MODEL_TYPE = 'tessera-encoder-classifier';
