/**
 * Hugging Face I/O shared by the GPT-2-bodied models (`GPT2LMHeadModel`,
 * `GPT2ForSequenceClassification`): checkpoint names with or without the
 * `transformer.` prefix, the attention buffers HF checkpoints carry, and model
 * directories (config.json with HF's keys + model.safetensors + tokenizer).
 */

import type { Module, StateDictInput, StateDictValue } from '../nn/module.js';
import type { FlatParameters } from '../nn/parameters.js';
import { StateDictError } from '../nn/errors.js';
import { gpt2Config, gpt2ConfigToJson, type GPT2Config, type GPT2ConfigInput } from './config.js';
import { buildPretrained, checkLayerCount, loadModelDirectory, pretrainedTensors, writePretrained, type PretrainedFiles, type PretrainedSource, type SavableTokenizer } from './pretrained.js';
import type { SafetensorsReader, TensorToSave } from '../io/safetensors.js';

/** Keys HF checkpoints may carry that are not parameters here: causal-mask buffers. */
export const HF_BUFFER = /(^|\.)h\.\d+\.attn\.(bias|masked_bias)$/;

/**
 * Splits a checkpoint's entries into parameters (names as this model has
 * them, with or without the `transformer.` prefix) and the values under
 * `extraKeys` (e.g. `lm_head.weight`); HF's attention buffers are dropped.
 */
export function normalizeGPT2Keys(
  dict: StateDictInput,
  has: (name: string) => boolean,
  extraKeys: readonly string[] = [],
): { params: Map<string, StateDictValue>; extras: Map<string, StateDictValue> } {
  const entries = dict instanceof Map ? [...dict.entries()] : Object.entries(dict as Record<string, StateDictValue>);
  const params = new Map<string, StateDictValue>();
  const extras = new Map<string, StateDictValue>();
  const source = new Map<string, string>();
  for (const [key, value] of entries) {
    if (HF_BUFFER.test(key)) continue;
    if (extraKeys.includes(key)) {
      extras.set(key, value);
      continue;
    }
    const name = !has(key) && has(`transformer.${key}`) ? `transformer.${key}` : key;
    // The same parameter under two names (with and without the prefix): which one wins would be silent.
    const first = source.get(name);
    if (first !== undefined) {
      throw new StateDictError(`the checkpoint gives the parameter ${JSON.stringify(name)} twice, as ${JSON.stringify(first)} and as ${JSON.stringify(key)}; keep one`, [], [key], []);
    }
    source.set(name, key);
    params.set(name, value);
  }
  return { params, extras };
}

/**
 * `normalizeGPT2Keys` against `model`'s own parameter names, with HF's
 * `lm_head.weight` set apart (tied to the embedding in GPT-2; not a parameter of
 * either model).
 */
export function gpt2CheckpointParams(model: Module, dict: StateDictInput): { params: Map<string, StateDictValue>; head: StateDictValue | undefined } {
  const names = new Set(model.namedParameters().map(([n]) => n));
  const { params, extras } = normalizeGPT2Keys(dict, (n) => names.has(n), ['lm_head.weight']);
  return { params, head: extras.get('lm_head.weight') };
}

/** What a GPT-2-bodied model has that its directory I/O reads and writes. */
export interface GPT2PretrainedModel extends Module {
  readonly config: GPT2Config;
  flat: FlatParameters;
  tokenizer: SavableTokenizer | null;
}

/** `build` of a GPT-2 directory: config.json's object (its quantization_config aside) as a GPT2Config, the layer count checked against the weights. */
function gpt2Build<M extends GPT2PretrainedModel>(label: string, build: (config: GPT2Config, how: { quantized: boolean }) => M) {
  return (json: Record<string, unknown>, how: { quantized: boolean; weights: SafetensorsReader }): M => {
    const { quantization_config: _, ...rest } = json;
    const config = gpt2Config(rest as GPT2ConfigInput, { allowUnknown: true });
    checkLayerCount(label, how.weights, /^(?:transformer\.)?h\.(\d+)\./, 'n_layer', config.n_layer);
    return build(config, how);
  };
}

/**
 * Loads a Hugging Face GPT-2 directory into the model `build` makes from its
 * config (unknown config keys kept, so they are written back): `load` gets the
 * weights without HF's attention buffers; the directory's tokenizer becomes
 * `model.tokenizer`.
 */
export async function loadGPT2Directory<M extends GPT2PretrainedModel>(
  dir: string,
  options: { tokenizer?: boolean },
  build: (config: GPT2Config, how: { quantized: boolean }) => M,
  load: (model: M, dict: Map<string, StateDictValue>) => void,
): Promise<M> {
  const { model, tokenizer } = await loadModelDirectory(dir, { tokenizer: options.tokenizer, skip: HF_BUFFER }, gpt2Build(`model directory ${dir}`, build), load);
  model.tokenizer = tokenizer;
  return model;
}

/**
 * `loadGPT2Directory` for files already opened (config.json's object, an opened
 * model.safetensors, the tokenizer or null), in any runtime: the same checks, quantized
 * checkpoints included. `source` names them in messages.
 */
export function buildGPT2FromFiles<M extends GPT2PretrainedModel>(
  files: PretrainedFiles,
  source: PretrainedSource,
  build: (config: GPT2Config, how: { quantized: boolean }) => M,
  load: (model: M, dict: Map<string, StateDictValue>) => void,
): M {
  const model = buildPretrained(files, source, { skip: HF_BUFFER }, gpt2Build(source.label, build), load);
  model.tokenizer = files.tokenizer;
  return model;
}

/**
 * What a GPT-2-bodied model's directory holds besides the tokenizer, in memory: config.json's
 * object with HF's keys and `architectures: [architecture]` (plus `extraConfig`; a
 * `quantization_config` when quantized) and the tensors of model.safetensors by HF name.
 */
export function gpt2PretrainedTensors(
  model: GPT2PretrainedModel,
  architecture: string,
  extraConfig: Record<string, unknown> = {},
): Promise<{ config: Record<string, unknown>; tensors: Record<string, TensorToSave> }> {
  return pretrainedTensors(model, { config: { ...gpt2ConfigToJson(model.config, [architecture]), ...extraConfig }, flat: model.flat });
}

/**
 * Saves a GPT-2-bodied model as a Hugging Face directory: `gpt2PretrainedTensors` and
 * `tokenizer` (undefined: the model's own; null: none).
 */
export async function saveGPT2Directory(
  dir: string,
  model: GPT2PretrainedModel,
  architecture: string,
  options: { tokenizer?: SavableTokenizer | null; extraConfig?: Record<string, unknown> } = {},
): Promise<void> {
  await writePretrained(dir, {
    ...(await gpt2PretrainedTensors(model, architecture, options.extraConfig)),
    tokenizer: options.tokenizer === undefined ? model.tokenizer : options.tokenizer,
  });
}
