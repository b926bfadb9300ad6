/**
 * GPT-2 configuration with Hugging Face's keys (`config.json` of a
 * `GPT2LMHeadModel`), defaults of GPT-2 124M, validation, and the parameter
 * count computed from the shapes alone.
 */

import { UnsupportedError, fmtValue } from '@tessera/core';
import { ConfigError } from '../nn/errors.js';
import { checkParameterBudget } from '../nn/size.js';

/** Activations GPT-2 configs name that are the tanh-approximate GELU this package computes. */
export const GPT2_ACTIVATIONS = ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'relu'] as const;

/** GPT-2 configuration, Hugging Face key names. */
export interface GPT2Config {
  vocab_size: number;
  /** Maximum sequence length (the position table's size). */
  n_positions: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  layer_norm_epsilon: number;
  /** MLP hidden size; null means 4 * n_embd. */
  n_inner: number | null;
  activation_function: (typeof GPT2_ACTIVATIONS)[number];
  resid_pdrop: number;
  embd_pdrop: number;
  attn_pdrop: number;
  initializer_range: number;
  model_type: 'gpt2';
  architectures: string[];
  bos_token_id: number;
  eos_token_id: number;
  /** Padding id (sequence classification pools the last non-padding token); null when unset. */
  pad_token_id: number | null;
  /**
   * Heads removed by structured pruning, per layer (HF's `pruned_heads`: layer index as a string
   * -> the removed heads' indices among the original n_head, ascending). Layer l keeps
   * n_head - pruned_heads[l].length heads, so its c_attn is [C, 3 H_l D] and its attention
   * c_proj [H_l D, C] (D = n_embd / n_head). Empty for an unpruned model.
   */
  pruned_heads: Readonly<Record<string, readonly number[]>>;
  /** Other keys of a loaded config.json (e.g. `n_ctx`, `task_specific_params`), written back on save. */
  extra: Record<string, unknown>;
}

/** What a caller may pass: any subset of the HF keys. */
export type GPT2ConfigInput = Partial<Omit<GPT2Config, 'extra'>> & { extra?: Record<string, unknown> };

const KNOWN = new Set<string>([
  'vocab_size',
  'n_positions',
  'n_embd',
  'n_layer',
  'n_head',
  'layer_norm_epsilon',
  'n_inner',
  'activation_function',
  'resid_pdrop',
  'embd_pdrop',
  'attn_pdrop',
  'initializer_range',
  'model_type',
  'architectures',
  'bos_token_id',
  'eos_token_id',
  'pad_token_id',
  'pruned_heads',
  'extra',
]);

/** GPT-2 124M (HF `gpt2`). */
export const GPT2_DEFAULTS: Readonly<Omit<GPT2Config, 'bos_token_id' | 'eos_token_id' | 'extra' | 'pruned_heads'>> = Object.freeze({
  vocab_size: 50257,
  n_positions: 1024,
  n_embd: 768,
  n_layer: 12,
  n_head: 12,
  layer_norm_epsilon: 1e-5,
  n_inner: null,
  activation_function: 'gelu_new',
  resid_pdrop: 0.1,
  embd_pdrop: 0.1,
  attn_pdrop: 0.1,
  initializer_range: 0.02,
  model_type: 'gpt2',
  architectures: ['GPT2LMHeadModel'],
  pad_token_id: null,
});

function posInt(key: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new ConfigError(`GPT2Config: ${key} must be a positive integer, got ${fmtValue(v)}`);
  return v;
}

function prob(key: string, v: unknown): number {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) throw new ConfigError(`GPT2Config: ${key} must be a probability in [0, 1), got ${fmtValue(v)}`);
  return v;
}

function tokenId(key: string, v: unknown, vocab: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v >= vocab) {
    throw new ConfigError(`GPT2Config: ${key} must be an integer id in [0, ${vocab}) (vocab_size ${vocab}), got ${fmtValue(v)}`);
  }
  return v;
}

/**
 * A complete, validated config: defaults (GPT-2 124M) filled in. bos/eos
 * default to 50256 (`<|endoftext|>`), or to the last id when the vocabulary
 * is smaller. Throws `ConfigError` naming the bad key (unknown keys included,
 * unless `allowUnknown`, which keeps them in `extra`), `UnsupportedError` for
 * an activation other than the tanh GELU variants and relu.
 * @example gpt2Config({ n_layer: 2, n_head: 2, n_embd: 32, vocab_size: 64, n_positions: 32 })
 */
export function gpt2Config(input: GPT2ConfigInput = {}, options: { allowUnknown?: boolean } = {}): GPT2Config {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ConfigError('GPT2Config: expected an object of Hugging Face config keys');
  const extra: Record<string, unknown> = { ...(input.extra ?? {}) };
  for (const key of Object.keys(input)) {
    if (KNOWN.has(key)) continue;
    if (!options.allowUnknown) throw new ConfigError(`GPT2Config: unknown key '${key}'; GPT-2 keys are ${[...KNOWN].filter((k) => k !== 'extra').join(', ')}`);
    extra[key] = (input as Record<string, unknown>)[key];
  }
  const pick = <K extends keyof typeof GPT2_DEFAULTS>(k: K): (typeof GPT2_DEFAULTS)[K] =>
    (input[k] === undefined ? GPT2_DEFAULTS[k] : input[k]) as (typeof GPT2_DEFAULTS)[K];
  const vocab = posInt('vocab_size', pick('vocab_size'));
  const nEmbd = posInt('n_embd', pick('n_embd'));
  const nHead = posInt('n_head', pick('n_head'));
  if (nEmbd % nHead !== 0) throw new ConfigError(`GPT2Config: n_embd ${nEmbd} must be divisible by n_head ${nHead}`);
  const nInner = pick('n_inner');
  if (nInner !== null) posInt('n_inner', nInner);
  const act = pick('activation_function');
  if (!(GPT2_ACTIVATIONS as readonly string[]).includes(act)) {
    throw new UnsupportedError(`GPT2Config: activation_function '${act}' is not supported; use one of ${GPT2_ACTIVATIONS.join(', ')} (the first three are the same tanh GELU)`);
  }
  const eps = pick('layer_norm_epsilon');
  if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) throw new ConfigError(`GPT2Config: layer_norm_epsilon must be a finite number > 0, got ${fmtValue(eps)}`);
  const range = pick('initializer_range');
  if (typeof range !== 'number' || !(range >= 0) || !Number.isFinite(range)) throw new ConfigError(`GPT2Config: initializer_range must be a finite number >= 0, got ${fmtValue(range)}`);
  const modelType = pick('model_type');
  if (modelType !== 'gpt2') throw new ConfigError(`GPT2Config: model_type must be 'gpt2', got ${fmtValue(modelType)}`);
  const arch = pick('architectures');
  if (!Array.isArray(arch) || arch.some((a) => typeof a !== 'string')) throw new ConfigError(`GPT2Config: architectures must be an array of strings, got ${fmtValue(arch)}`);
  // Attention variants HF configs can switch on that this implementation does not compute.
  const unsupported: [string, unknown][] = [
    ['scale_attn_weights', false],
    ['scale_attn_by_inverse_layer_idx', true],
    ['reorder_and_upcast_attn', true],
    ['add_cross_attention', true],
  ];
  for (const [key, bad] of unsupported) {
    if (extra[key] === bad) throw new UnsupportedError(`GPT2Config: ${key} = ${String(bad)} is not supported`);
  }
  const nLayer = posInt('n_layer', pick('n_layer'));
  const prunedHeads = checkPrunedHeads(input.pruned_heads ?? {}, nLayer, nHead);
  const defaultSpecial = Math.min(50256, vocab - 1);
  const pad = input.pad_token_id ?? null;
  return {
    vocab_size: vocab,
    n_positions: posInt('n_positions', pick('n_positions')),
    n_embd: nEmbd,
    n_layer: nLayer,
    n_head: nHead,
    layer_norm_epsilon: eps,
    n_inner: nInner,
    activation_function: act,
    resid_pdrop: prob('resid_pdrop', pick('resid_pdrop')),
    embd_pdrop: prob('embd_pdrop', pick('embd_pdrop')),
    attn_pdrop: prob('attn_pdrop', pick('attn_pdrop')),
    initializer_range: range,
    model_type: 'gpt2',
    architectures: [...arch],
    bos_token_id: tokenId('bos_token_id', input.bos_token_id ?? defaultSpecial, vocab),
    eos_token_id: tokenId('eos_token_id', input.eos_token_id ?? defaultSpecial, vocab),
    pad_token_id: pad === null ? null : tokenId('pad_token_id', pad, vocab),
    pruned_heads: prunedHeads,
    extra,
  };
}

/**
 * `pruned_heads` validated and normalised: keys are layer indices in [0, n_layer) written as
 * decimal strings, values distinct head indices in [0, n_head), sorted; a layer with no
 * pruned head is left out, and a layer may not lose every head (HF keeps at least one too).
 */
function checkPrunedHeads(v: unknown, nLayer: number, nHead: number): Readonly<Record<string, readonly number[]>> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`GPT2Config: pruned_heads must be an object of layer index -> head indices, got ${JSON.stringify(v)}`);
  const out: Record<string, readonly number[]> = {};
  for (const [key, heads] of Object.entries(v)) {
    const layer = Number(key);
    if (!/^\d+$/.test(key) || layer >= nLayer) throw new ConfigError(`GPT2Config: pruned_heads key '${key}' must be a layer index in [0, n_layer = ${nLayer})`);
    if (!Array.isArray(heads) || heads.some((h) => !Number.isInteger(h) || h < 0 || h >= nHead)) {
      throw new ConfigError(`GPT2Config: pruned_heads['${key}'] must be a list of head indices in [0, n_head = ${nHead}), got ${JSON.stringify(heads)}`);
    }
    const sorted = [...new Set(heads as number[])].sort((a, b) => a - b);
    if (sorted.length !== heads.length) throw new ConfigError(`GPT2Config: pruned_heads['${key}'] lists a head twice: ${JSON.stringify(heads)}`);
    if (sorted.length === nHead) throw new ConfigError(`GPT2Config: pruned_heads['${key}'] removes all ${nHead} heads of layer ${key}; a layer must keep at least one`);
    if (sorted.length > 0) out[String(layer)] = Object.freeze(sorted);
  }
  return Object.freeze(out);
}

/** Attention heads layer `layer` keeps (n_head less its pruned heads). */
export function layerHeads(config: GPT2Config, layer: number): number {
  return config.n_head - (config.pruned_heads[String(layer)]?.length ?? 0);
}

/** The MLP hidden size (n_inner, or 4 * n_embd). */
export function innerSize(config: GPT2Config): number {
  return config.n_inner ?? 4 * config.n_embd;
}

/**
 * Parameter elements of the GPT-2 body (`transformer.*`), split into the
 * weight-decayed matrices/embeddings and the biases/LayerNorms.
 */
export function gpt2ParameterCounts(config: GPT2Config): { decay: number; noDecay: number } {
  const C = config.n_embd;
  const I = innerSize(config);
  const D = C / config.n_head;
  let decay = config.vocab_size * C + config.n_positions * C;
  let noDecay = 2 * C; // ln_f
  for (let l = 0; l < config.n_layer; l++) {
    const A = layerHeads(config, l) * D; // the layer's attention width (C unless heads were pruned)
    decay += C * 3 * A + A * C + C * I + I * C;
    // ln_1 (2C), c_attn bias (3A), attn c_proj bias (C), ln_2 (2C), c_fc bias (I), mlp c_proj bias (C).
    noDecay += 2 * C + 3 * A + C + 2 * C + I + C;
  }
  return { decay, noDecay };
}

/** The config as Hugging Face writes it to config.json (known keys, then `extra`). */
export function gpt2ConfigToJson(config: GPT2Config, architectures?: readonly string[]): Record<string, unknown> {
  const { extra, ...known } = config;
  const out: Record<string, unknown> = { ...known, architectures: [...(architectures ?? config.architectures)] };
  if (out.pad_token_id === null) delete out.pad_token_id;
  if (Object.keys(config.pruned_heads).length === 0) delete out.pruned_heads;
  for (const [k, v] of Object.entries(extra)) if (!(k in out)) out[k] = v;
  return out;
}

/**
 * Refuses, before anything is allocated, a config whose parameters (the GPT-2 body plus
 * `extraParams`, as f32) need more than `maxBytes` (the backend's largest allocation,
 * `memory().maxBytes`): a ConfigError naming the key that makes the model that large (the one
 * whose GPT-2 124M default shrinks the count most) and the sizes involved.
 */
export function checkGpt2Size(config: GPT2Config, maxBytes: number, extraParams = 0, what = 'GPT2'): void {
  checkParameterBudget(
    what,
    { n_layer: config.n_layer, n_embd: config.n_embd, n_inner: innerSize(config), vocab_size: config.vocab_size, n_positions: config.n_positions },
    (s) => {
      const { decay, noDecay } = gpt2ParameterCounts({ ...config, ...s });
      return decay + noDecay + extraParams;
    },
    { n_layer: GPT2_DEFAULTS.n_layer, n_embd: GPT2_DEFAULTS.n_embd, n_inner: 4 * GPT2_DEFAULTS.n_embd, vocab_size: GPT2_DEFAULTS.vocab_size, n_positions: GPT2_DEFAULTS.n_positions },
    maxBytes,
  );
}
