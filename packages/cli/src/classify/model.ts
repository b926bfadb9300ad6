/**
 * The two classifier architectures behind one interface, and their model directories:
 *
 * - `GPT2ForSequenceClassification` (HF layout; from scratch, or a `tessera train` GPT-2 whose
 *   body is reused with a new score head),
 * - `TransformerEncoderClassifier` (bidirectional encoder + mean pooling), saved as
 *   config.json (`architectures: ["TransformerEncoderClassifier"]`) + model.safetensors.
 */

import { join } from 'node:path';
import type { Tensor } from '@tessera/tensor';
import type { ParamGroupInput, AdamWOptions } from '@tessera/optim';
import {
  GPT2ForSequenceClassification,
  TransformerEncoderClassifier,
  loadModelDirectory,
  parametersToSave,
  readPretrained,
  writePretrained,
  type Module,
  type SavableTokenizer,
  type StateDictValue,
} from '@tessera/models';
import { CliError } from '../errors.js';
import { readText } from '../data/files.js';

export type Architecture = 'encoder' | 'gpt2';

/** Encoder hyper-parameters as saved in config.json. */
export interface EncoderConfig {
  architectures: ['TransformerEncoderClassifier'];
  model_type: 'tessera_encoder_classifier';
  vocab_size: number;
  num_labels: number;
  max_length: number;
  d_model: number;
  num_heads: number;
  num_layers: number;
  dropout: number;
}

/** A classifier, whichever architecture. */
export interface Classifier {
  readonly architecture: Architecture;
  readonly module: Module;
  /** Longest input the model takes. */
  readonly maxLength: number;
  readonly vocabSize: number;
  /** Logits [B, numLabels] for ids [B, T] (i32) and mask [B, T] (1 real token, 0 padding). */
  forward(ids: Tensor, mask: Tensor): Tensor;
  /** Mean cross-entropy against labels [B]. */
  loss(ids: Tensor, mask: Tensor, labels: Int32Array): Tensor;
  /** Optimizer groups: weight decay on matrices and embeddings only. */
  paramGroups(weightDecay: number): ParamGroupInput<AdamWOptions>[];
  zeroGrad(): void;
  save(dir: string, tokenizer: SavableTokenizer): Promise<void>;
  dispose(): void;
}

/** Options of a from-scratch classifier. */
export interface ScratchOptions {
  architecture: Architecture;
  vocabSize: number;
  maxLength: number;
  layers: number;
  heads: number;
  embd: number;
  dropout: number;
  seed: number;
}

/** A new, randomly initialised classifier with two labels. */
export function createClassifier(o: ScratchOptions): Classifier {
  if (o.architecture === 'gpt2') {
    const m = new GPT2ForSequenceClassification(
      {
        vocab_size: o.vocabSize,
        n_positions: o.maxLength,
        n_embd: o.embd,
        n_layer: o.layers,
        n_head: o.heads,
        resid_pdrop: o.dropout,
        embd_pdrop: o.dropout,
        attn_pdrop: o.dropout,
        pad_token_id: 0,
      },
      { numLabels: 2, seed: o.seed },
    );
    return wrapGPT2(m);
  }
  const config: EncoderConfig = {
    architectures: ['TransformerEncoderClassifier'],
    model_type: 'tessera_encoder_classifier',
    vocab_size: o.vocabSize,
    num_labels: 2,
    max_length: o.maxLength,
    d_model: o.embd,
    num_heads: o.heads,
    num_layers: o.layers,
    dropout: o.dropout,
  };
  return wrapEncoder(encoderFromConfig(config, o.seed), config);
}

/** A GPT-2 language model directory (e.g. from `tessera train`) with a new two-label score head. */
export async function classifierFromLanguageModel(dir: string, seed: number): Promise<{ classifier: Classifier; tokenizer: SavableTokenizer }> {
  let m: GPT2ForSequenceClassification;
  try {
    m = await GPT2ForSequenceClassification.fromPretrained(dir, { numLabels: 2, seed });
  } catch (e) {
    throw new CliError(`cannot load --from ${dir}: ${(e as Error).message}`);
  }
  if (!m.tokenizer) {
    m.dispose();
    throw new CliError(`--from ${dir} has no tokenizer files; the classifier must read text the way the model was trained`);
  }
  return { classifier: wrapGPT2(m), tokenizer: m.tokenizer };
}

/** Loads a classifier saved by `Classifier.save` (either architecture) with its tokenizer. */
export async function loadClassifier(dir: string): Promise<{ classifier: Classifier; tokenizer: SavableTokenizer }> {
  const configText = await readText(join(dir, 'config.json'), 'cannot read the classifier config');
  let arch: unknown;
  try {
    arch = (JSON.parse(configText) as { architectures?: unknown[] }).architectures?.[0];
  } catch (e) {
    throw new CliError(`${join(dir, 'config.json')} is not valid JSON: ${(e as Error).message}`);
  }
  if (arch === 'GPT2ForSequenceClassification') {
    const m = await GPT2ForSequenceClassification.fromPretrained(dir);
    if (!m.tokenizer) throw new CliError(`${dir} has no tokenizer files`);
    return { classifier: wrapGPT2(m), tokenizer: m.tokenizer };
  }
  if (arch !== 'TransformerEncoderClassifier') {
    throw new CliError(`${dir} holds a ${JSON.stringify(arch)} model; tessera eval reads GPT2ForSequenceClassification or TransformerEncoderClassifier directories written by tessera finetune`);
  }
  // loadModelDirectory also reads a quantized directory (tessera quantize) as one.
  let config: EncoderConfig | undefined;
  const { model: m, tokenizer } = await loadModelDirectory(
    dir,
    {},
    (c) => encoderFromConfig((config = c as unknown as EncoderConfig), 0),
    (model, dict) => model.loadStateDict(dict),
  );
  if (!tokenizer) {
    m.dispose();
    throw new CliError(`${dir} has no tokenizer files`);
  }
  return { classifier: wrapEncoder(m, config!), tokenizer };
}

function encoderFromConfig(c: EncoderConfig, seed: number): TransformerEncoderClassifier {
  return new TransformerEncoderClassifier({
    vocabSize: c.vocab_size,
    numLabels: c.num_labels,
    maxLength: c.max_length,
    dModel: c.d_model,
    numHeads: c.num_heads,
    numLayers: c.num_layers,
    dropout: c.dropout,
    seed,
  });
}

function wrapGPT2(m: GPT2ForSequenceClassification): Classifier {
  return {
    architecture: 'gpt2',
    module: m,
    maxLength: m.config.n_positions,
    vocabSize: m.config.vocab_size,
    forward: (ids, mask) => m.forward(ids, mask),
    loss: (ids, mask, labels) => m.loss(ids, Array.from(labels), mask),
    paramGroups: (wd) => m.flat.groups(wd),
    zeroGrad: () => m.zeroGrad(),
    save: (dir, tokenizer) => m.savePretrained(dir, { tokenizer }),
    dispose: () => m.dispose(),
  };
}

function wrapEncoder(m: TransformerEncoderClassifier, config: EncoderConfig): Classifier {
  return {
    architecture: 'encoder',
    module: m,
    maxLength: config.max_length,
    vocabSize: config.vocab_size,
    forward: (ids, mask) => m.forward(ids, mask),
    loss: (ids, mask, labels) => m.loss(ids, Array.from(labels), mask),
    paramGroups: (wd) => {
      // Decay matrices and embeddings (rank >= 2), not biases or LayerNorm parameters.
      const params = m.parameters();
      return [
        { params: params.filter((p) => p.rank >= 2), weightDecay: wd },
        { params: params.filter((p) => p.rank < 2), weightDecay: 0 },
      ];
    },
    zeroGrad: () => m.zeroGrad(),
    save: async (dir, tokenizer) => writePretrained(dir, { config: { ...config }, tensors: await parametersToSave(m.namedParameters()), tokenizer }),
    dispose: () => m.dispose(),
  };
}
