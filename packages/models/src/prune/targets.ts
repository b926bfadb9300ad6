/**
 * What pruning works on: the weight matrices of a model's Linear and Conv1D layers, read to the
 * host in one transfer where the model keeps its parameters in a FlatParameters block.
 */

import { UnsupportedError } from '@tessera/core';
import type { Tensor } from '@tessera/tensor';
import { GPT2 } from '../gpt2/model.js';
import { Conv1D } from '../nn/conv1d.js';
import { Linear } from '../nn/linear.js';
import type { Module } from '../nn/module.js';
import { FlatParameters } from '../nn/parameters.js';
import { parametersToSave } from '../gpt2/pretrained.js';

/** A prunable weight: its dotted name and parameter. */
export interface PrunableWeight {
  name: string;
  weight: Tensor;
}

/**
 * The weights unstructured pruning ranks and masks: every Linear and Conv1D weight, in module
 * order. Biases, LayerNorms and embeddings are left dense (GPT-2's LM head is the token
 * embedding, so it stays dense too), as in the usual recipe (and PyTorch's examples): they are
 * a small part of the parameters and zeroing them shifts every activation.
 */
export function prunableWeights(model: Module): PrunableWeight[] {
  const out: PrunableWeight[] = [];
  for (const [name, m] of model.namedModules()) {
    if (m instanceof Linear || m instanceof Conv1D) out.push({ name: `${name ? `${name}.` : ''}weight`, weight: m.weight });
  }
  return out;
}

/** The model's parameter block, when it keeps its parameters in one (GPT-2 and its classifier do). */
export function flatOf(model: Module): FlatParameters | undefined {
  const flat = (model as { flat?: unknown }).flat;
  return flat instanceof FlatParameters ? flat : undefined;
}

/**
 * Refuses a quantized model: pruning edits the f32 weights, and the quantized copies the forward
 * multiplies by would keep the old values. `op` names the caller.
 */
export function checkNotQuantized(op: string, model: Module): void {
  for (const [name, m] of model.namedModules()) {
    if ((m instanceof Linear || m instanceof Conv1D) && m.quantizedWeight !== null) {
      throw new UnsupportedError(`${op}: ${name || 'the model'} is quantized; prune the f32 model first, then quantize it (or dequantize(model) before pruning)`);
    }
    if (m instanceof GPT2 && m.quantizedHead !== null) {
      throw new UnsupportedError(`${op}: the model's LM head is quantized; prune the f32 model first, then quantize it (or dequantize(model) before pruning)`);
    }
  }
}

/** Host copies (f32) of `named` parameters, by name; one read of the block for a flat model. */
export async function hostValues(model: Module, named: readonly [string, Tensor][]): Promise<Map<string, Float32Array>> {
  const saved = await parametersToSave(named, flatOf(model));
  return new Map(Object.entries(saved).map(([name, t]) => [name, t.data as Float32Array]));
}
