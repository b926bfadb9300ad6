/** `prune(model, { amount, method })`: the entry point of unstructured and structured pruning. */

import { ArgumentError, UnsupportedError } from '@tessera/core';
import { GPT2 } from '../gpt2/model.js';
import { GPT2ForSequenceClassification } from '../gpt2/sequence-classification.js';
import type { Module } from '../nn/module.js';
import { magnitudePrune } from './magnitude.js';
import { TransformerEncoderClassifier } from '../classifiers/transformer-encoder-classifier.js';
import { encoderNeuronPrune, structuredPrune } from './structured.js';
import { checkNotQuantized } from './targets.js';

/** The pruning methods. */
export const PRUNE_METHODS = ['magnitude', 'heads', 'neurons'] as const;
export type PruneMethod = (typeof PRUNE_METHODS)[number];

/** The scopes a method ranks over. */
export const PRUNE_SCOPES = ['global', 'layer'] as const;
export type PruneScope = (typeof PRUNE_SCOPES)[number];

/** Options of prune(). */
export interface PruneOptions {
  /** The fraction to remove, in [0, 1): of the prunable weights (magnitude), of the heads, or of each layer's MLP units. */
  amount: number;
  /**
   * 'magnitude': unstructured; the weights of smallest |w| become 0 in place (shapes unchanged).
   * 'heads' / 'neurons': structured; a new, smaller model without the lowest-scoring attention
   * heads / MLP hidden units (GPT-2 and GPT2ForSequenceClassification; neurons also for
   * TransformerEncoderClassifier, whose dFF shrinks).
   */
  method: PruneMethod;
  /**
   * Magnitude: 'global' (default) ranks all prunable weights together, 'layer' removes `amount`
   * of each weight. Heads: 'layer' (default) removes the same count from each layer, 'global'
   * ranks every head together. Neurons are always per layer (GPT-2 has one n_inner).
   */
  scope?: PruneScope;
}

/**
 * Prunes `model`. Magnitude pruning zeroes weights in place and resolves to the same model; give
 * an optimizer its masks with `restoreMasks(model, optimizer)` so training keeps them zero.
 * Structured pruning resolves to a new model of the same class with smaller matrices and config
 * (`n_inner`, `pruned_heads`), which saves, loads and runs as an ordinary GPT-2; `model` is left
 * unchanged (dispose it when done).
 *
 * Throws an ArgumentError for an amount outside [0, 1), an unknown method or scope, or an amount
 * that removes every head of a layer or every MLP unit; an UnsupportedError for a structured
 * method on a model that lacks it (naming the method and the model class: heads on a
 * TransformerEncoderClassifier, whose attention has one head count for all blocks) or for a
 * quantized model.
 * @example const small = await prune(model, { amount: 0.25, method: 'neurons' });
 * @example await prune(model, { amount: 0.5, method: 'magnitude', scope: 'layer' }); console.log((await sparsity(model)).overall)
 */
export async function prune<M extends Module>(model: M, options: PruneOptions): Promise<M> {
  if (options === null || typeof options !== 'object') throw new ArgumentError(`prune: options must be { amount, method, scope? }, got ${String(options)}`);
  const { amount, method } = options;
  if (typeof amount !== 'number' || !(amount >= 0 && amount < 1)) throw new ArgumentError(`prune: amount must be a fraction in [0, 1), got ${JSON.stringify(amount)}`);
  if (!(PRUNE_METHODS as readonly unknown[]).includes(method)) throw new ArgumentError(`prune: unknown method ${JSON.stringify(method)}; use one of ${PRUNE_METHODS.join(', ')}`);
  const scope = options.scope ?? (method === 'magnitude' ? 'global' : 'layer');
  if (!(PRUNE_SCOPES as readonly unknown[]).includes(scope)) throw new ArgumentError(`prune: unknown scope ${JSON.stringify(scope)}; use one of ${PRUNE_SCOPES.join(', ')}`);
  if (method === 'neurons' && scope !== 'layer') {
    throw new ArgumentError(`prune: method 'neurons' prunes the same count from every layer (GPT-2 has one n_inner), so scope must be 'layer', got '${scope}'`);
  }
  checkNotQuantized('prune', model);
  if (method === 'magnitude') {
    await magnitudePrune(model, amount, scope);
    return model;
  }
  if (method === 'neurons' && model instanceof TransformerEncoderClassifier) return (await encoderNeuronPrune(model, amount)) as unknown as M;
  if (!(model instanceof GPT2 || model instanceof GPT2ForSequenceClassification)) {
    const also = method === 'neurons' ? ', TransformerEncoderClassifier' : '';
    throw new UnsupportedError(
      `prune: method '${method}' (structured) is implemented for GPT2LMHeadModel, GPT2ForSequenceClassification${also}, not ${model.typeName}; use method 'magnitude' for it`,
    );
  }
  return (await structuredPrune(model, method, amount, scope)) as unknown as M;
}
