/**
 * GPT-2 with a language-model head tied to the token embedding (HF
 * `GPT2LMHeadModel`): training forward and loss, KV-cache generation, and
 * Hugging Face model directories.
 */

import { ArgumentError, ShapeError, UnsupportedError, fmtShape, hash32 } from '@tessera/core';
import { Tensor, crossEntropy, matmul, memory, quantizedMatmul, tidy, type QuantizedWeight } from '@tessera/tensor';
import { StateDictError } from '../nn/errors.js';
import { gpt2Init } from '../nn/init.js';
import { Module, type LoadStateDictOptions, type LoadStateDictResult, type StateDictInput, type StateDictValue } from '../nn/module.js';
import { FlatParameters, placeholderParameters } from '../nn/parameters.js';
import { checkGpt2Size, gpt2Config, gpt2ParameterCounts, type GPT2Config, type GPT2ConfigInput } from './config.js';
import { decodeStepHidden } from './batched-decoder.js';
import { generateTokens, streamTokens, type GenerateOptions } from './generate.js';
import { KVCache } from './kv-cache.js';
import { buildGPT2FromFiles, gpt2CheckpointParams, loadGPT2Directory, saveGPT2Directory } from './hf-checkpoint.js';
import { MODEL_FILES, type PretrainedFiles, type PretrainedSource, type SavableTokenizer } from './pretrained.js';
import { GPT2Model, checkIds } from './transformer.js';

/** Options of the GPT2 constructor. */
export interface GPT2Options {
  /** Seed of the initial weights (default: the global generator, see `manualSeed`). */
  seed?: number;
  /** Initialise the weights with GPT-2's scheme (default true); false leaves zeros (e.g. before loading). */
  init?: boolean;
  /**
   * @internal Build with placeholder parameters (nothing of the model's size allocated), for
   * a loader that releases the quantized weights and repacks the rest (`repackParameters`).
   */
  placeholders?: boolean;
}

/** Options of `loss`. */
export interface LMLossOptions {
  /** Targets equal to this are ignored (default -100, like HF labels). */
  ignoreIndex?: number;
  /** [B, T] 1 token / 0 padding, passed to attention. */
  attentionMask?: Tensor | null;
}

/**
 * The values of a state-dict value on the host, read synchronously (loadStateDict is
 * synchronous). A tensor on a backend that only reads asynchronously (WebGPU) cannot
 * be: that is an UnsupportedError naming the tied-head check and what to pass instead.
 */
function hostValues(value: StateDictValue, backendName: string): ArrayLike<number> {
  if (!(value instanceof Tensor)) return value.data;
  try {
    return value.dataSync();
  } catch (e) {
    if (!(e instanceof UnsupportedError)) throw e;
    throw new UnsupportedError(
      `GPT2.loadStateDict: cannot check lm_head.weight against transformer.wte.weight without synchronous reads (the model is on backend '${backendName}'); pass transformer.wte.weight in the same dict with host-readable values (arrays, or tensors on wasm/reference), or leave lm_head.weight out`,
    );
  }
}

/** Exact equality of `a` and `b` after rounding both to f32 (what an f32 parameter holds of either). */
function sameF32(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (Math.fround(a[i]) !== Math.fround(b[i])) return false;
  return true;
}

/**
 * Whether the checkpoint's `lm_head.weight` equals `transformer.wte.weight`
 * after loading. When the dict also holds the embedding (`loaded`), the head is
 * compared with it on the host, so the model is not read back (no transfer of the
 * [V, C] table, and it works on backends that only read asynchronously); only a
 * head loaded on its own is compared with the model's embedding.
 */
function headMatchesEmbedding(head: StateDictValue, wte: Tensor, loaded: StateDictValue | undefined): boolean {
  // The very tensor loaded into the embedding (its f32 values are what the embedding holds).
  if (head === loaded && head instanceof Tensor && head.dtype === 'f32') return true;
  const name = wte.backend.name;
  return sameF32(hostValues(head, name), hostValues(loaded ?? wte, name));
}

/**
 * GPT-2 language model. Parameters have Hugging Face's names and layouts
 * (`transformer.h.0.attn.c_attn.weight` is a Conv1D weight [C, 3C]) and live
 * in one flat block (`model.flat`), so a fused optimizer step covers the
 * whole model; the LM head reuses `transformer.wte.weight`.
 *
 * @example
 * const model = new GPT2({ n_layer: 2, n_head: 2, n_embd: 32, vocab_size: 64, n_positions: 32 }, { seed: 0 });
 * const loss = model.loss(ids, targets); loss.backward();
 * const opt = new AdamW(model.flat.groups(0.1), { lr: 1e-3 }); opt.step(); model.zeroGrad();
 * const tokens = await model.generate([1, 2, 3], { maxNewTokens: 10, topK: 40, seed: 1 });
 */
export class GPT2 extends Module {
  readonly config: GPT2Config;
  readonly transformer: GPT2Model;
  /**
   * The parameter block (see FlatParameters): `flat.groups(wd)` for an optimizer, `flat.all`
   * for one fused step. `quantize` / `dequantize` replace it (it then holds only the f32
   * parameters left), so take it after them.
   */
  flat: FlatParameters;
  /** The tokenizer loaded by `fromPretrained` (null otherwise); `savePretrained` saves it by default. */
  tokenizer: SavableTokenizer | null = null;

  constructor(config: GPT2ConfigInput | GPT2Config = {}, options: GPT2Options = {}) {
    super();
    this.config = gpt2Config(config);
    if (options.seed !== undefined && !Number.isInteger(options.seed)) throw new ArgumentError(`GPT2: seed must be an integer, got ${options.seed}`);
    checkGpt2Size(this.config, memory().maxBytes);
    this.flat = new FlatParameters(options.placeholders ? { decay: 0, noDecay: 0 } : gpt2ParameterCounts(this.config));
    this.transformer = this.registerModule('transformer', new GPT2Model(this.config, { factory: options.placeholders ? placeholderParameters : this.flat, seed: options.seed }));
    this.flat.finish();
    if (options.init !== false && !options.placeholders) {
      gpt2Init(this.namedParameters(), { nLayer: this.config.n_layer, std: this.config.initializer_range, seed: options.seed === undefined ? undefined : hash32(options.seed, 0x677074) | 0 });
    }
  }

  override get typeName(): string {
    return 'GPT2LMHeadModel';
  }

  /**
   * Parameter count from the config alone (no allocation); 124,439,808 for GPT-2 124M.
   * @example GPT2.numParameters(gpt2Config()) // 124439808
   */
  static numParameters(config: GPT2ConfigInput | GPT2Config = {}): number {
    const { decay, noDecay } = gpt2ParameterCounts(gpt2Config(config));
    return decay + noDecay;
  }

  /**
   * Logits [B, T, vocab_size] for i32 token ids [B, T]. In eval mode the first call packs the
   * weight matrices for the matmul kernel (prepackWeights(): inference's fast path at every
   * prompt length, about the weights' size again) and later calls reuse them; train(),
   * releasePackedWeights() or dispose() frees them. In training mode weights are read as
   * they are (each step writes them).
   * @example const logits = model.forward(tensor([[464, 2068]], undefined, 'i32'));
   */
  forward(ids: Tensor, options: { attentionMask?: Tensor | null } = {}): Tensor {
    this.flat.prepareForward();
    if (!this.training) this.prepackWeights();
    return tidy(() => this.head(this.transformer.forward(ids, options.attentionMask ?? null)));
  }

  /**
   * Mean cross-entropy of next-token predictions: logits of `ids` [B, T]
   * against i32 `targets` [B, T] (already shifted; `ignoreIndex` entries skipped).
   * @example model.loss(batch.narrow(1, 0, T), batch.narrow(1, 1, T))
   */
  loss(ids: Tensor, targets: Tensor, options: LMLossOptions = {}): Tensor {
    checkIds('GPT2.loss', ids, this.config);
    if (targets.rank !== 2 || targets.shape[0] !== ids.shape[0] || targets.shape[1] !== ids.shape[1]) {
      throw new ShapeError(`GPT2.loss: targets ${fmtShape(targets.shape)} must have the ids' shape ${fmtShape(ids.shape)}`);
    }
    const V = this.config.vocab_size;
    return tidy(() => {
      const logits = this.forward(ids, { attentionMask: options.attentionMask });
      return crossEntropy(logits.reshape([-1, V]), targets.reshape([-1]), { ignoreIndex: options.ignoreIndex ?? -100 });
    });
  }

  /** A KV cache for this model (batch 1, n_positions long); dispose it when done. */
  createKVCache(): KVCache {
    return new KVCache(this.config);
  }

  /**
   * Batch-1 incremental forward: feeds `ids` after the cache's positions and
   * returns the logits of the last of them [1, V] (or of every one [T, V] with
   * `allLogits`). Inference only: no dropout, and call it under noGrad.
   * @example const cache = model.createKVCache(); const l = model.forwardCached(prompt, cache);
   */
  forwardCached(ids: readonly number[], cache: KVCache, options: { allLogits?: boolean } = {}): Tensor {
    if (!this.training) this.prepackWeights();
    return tidy(() => {
      let h = this.transformer.forwardCached(ids, cache); // [T, C]
      if (!options.allLogits && h.shape[0] > 1) h = h.narrow(0, h.shape[0] - 1, 1);
      return this.head(h);
    });
  }

  /**
   * One decode step for B sequences in one forward: `tokens[b]` continues the sequence in
   * `caches[b]` (each at its own length), whose cache advances by one. Returns logits [B, V].
   * The layers' products run on the stacked [B, C] rows; attention runs per row against its own
   * cache. Inference only; call it under noGrad. `BatchedDecoder` drives it with sampling per row.
   * @example const logits = model.decodeBatch([nextA, nextB], [cacheA, cacheB]); // [2, V]
   */
  decodeBatch(tokens: readonly number[], caches: readonly KVCache[]): Tensor {
    return tidy(() => this.head(decodeStepHidden(this.transformer, tokens, caches)));
  }

  /**
   * The LM head's quantized weight: the token embedding's quantized copy (`quantize(model)`
   * or a quantized checkpoint; the head is tied, so the lookup and the head share it), or null.
   */
  get quantizedHead(): QuantizedWeight | null {
    return this.transformer.wte.quantizedWeight;
  }

  /**
   * The tied LM head reads `transformer.wte.weight` transposed (h @ wte^T, about a third of a
   * GPT-2 124M forward's FLOPs), so prepackWeights() packs it with the layers' weights: every
   * prompt length then reads its panels instead of packing 50257 x 768 floats per call. A
   * quantized head multiplies by its own copy and leaves nothing to pack.
   */
  protected override matmulWeights(): { weight: Tensor; transposed: boolean }[] {
    return this.quantizedHead ? [] : [{ weight: this.transformer.wte.weight, transposed: true }];
  }

  /** Logits of hidden states h [..., C]: h @ wte^T (the tied head), through the quantized table when there is one. */
  private head(h: Tensor): Tensor {
    const q = this.quantizedHead;
    return q ? quantizedMatmul(h, q) : matmul(h, this.transformer.wte.weight.T);
  }

  /**
   * Generates up to `maxNewTokens` ids after `promptIds` with the KV cache
   * (see GenerateOptions: greedy / temperature / topK / topP, seed, stopTokens,
   * onToken); resolves to the new ids (the prompt and a stop token excluded).
   * An empty prompt starts from bos_token_id. In eval mode the weights are prepacked (see
   * forward), so generation takes the fast path without a call.
   * @example await model.generate(tok.encode('Hello'), { maxNewTokens: 20, temperature: 0.8, topK: 40, seed: 1 })
   */
  generate(promptIds: readonly number[], options: GenerateOptions = {}): Promise<number[]> {
    return generateTokens(this, promptIds, options);
  }

  /**
   * Like `generate`, yielding each id as it is chosen.
   * @example for await (const id of model.stream(prompt, { maxNewTokens: 50 })) process.stdout.write(tok.decode([id]));
   */
  stream(promptIds: readonly number[], options: GenerateOptions = {}): AsyncGenerator<number, void, undefined> {
    return streamTokens(this, promptIds, options);
  }

  /** Zero-fills the flat gradient block (one kernel call); `setToNone` is accepted for API parity and ignored. */
  override zeroGrad(_setToNone = true): void {
    this.flat.zeroGrad();
  }

  /**
   * Loads parameters by name. Also accepts Hugging Face checkpoints as they
   * are: names without the `transformer.` prefix, the `attn.bias` /
   * `attn.masked_bias` buffers (ignored) and `lm_head.weight` (checked to equal
   * `transformer.wte.weight`, since the head is tied; a different one throws).
   */
  override loadStateDict(dict: StateDictInput, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const { params, head } = gpt2CheckpointParams(this, dict);
    if (!head) return super.loadStateDict(params, options);
    const wte = this.transformer.wte.weight;
    const shape = head.shape;
    if (shape.length !== 2 || shape[0] !== wte.shape[0] || shape[1] !== wte.shape[1]) {
      throw StateDictError.of('GPT2.loadStateDict', [], [], [{ key: 'lm_head.weight', expected: wte.shape, got: shape }]);
    }
    const result = super.loadStateDict(params, options);
    if (!headMatchesEmbedding(head, wte, params.get('transformer.wte.weight'))) {
      throw new StateDictError(
        'GPT2.loadStateDict: lm_head.weight differs from transformer.wte.weight; this GPT-2 ties the LM head to the token embedding and cannot hold an untied head',
        [],
        ['lm_head.weight'],
        [],
      );
    }
    return result;
  }

  /**
   * Loads a Hugging Face GPT-2 directory: config.json, model.safetensors
   * (F32/F16/BF16; names with or without `transformer.`) and, when present,
   * the tokenizer files (set as `model.tokenizer`). A quantized directory (written by
   * `savePretrained` of a quantized model) loads quantized, its f32 weights never
   * allocated. Node only.
   * @example const model = await GPT2.fromPretrained('models/gpt2'); model.tokenizer!.encode('Hi')
   */
  static fromPretrained(dir: string, options: { tokenizer?: boolean } = {}): Promise<GPT2> {
    return loadGPT2Directory(dir, options, GPT2.buildEmpty, (model, dict) => model.loadStateDict(dict));
  }

  /**
   * `fromPretrained` for the files of a model directory already in memory, in any runtime
   * (a browser with a picked folder or a zip): `config` is config.json's object, `weights`
   * model.safetensors opened with `openSafetensors(bytes)`, `tokenizer` the tokenizer or
   * null (set as `model.tokenizer`). Quantized checkpoints load quantized, as there.
   * `source` names the files in messages (default: "model files").
   * @example GPT2.fromFiles({ config: JSON.parse(text), weights: openSafetensors(bytes), tokenizer: null })
   */
  static fromFiles(files: PretrainedFiles, source: PretrainedSource = { label: 'model files', config: MODEL_FILES.config, weights: MODEL_FILES.weights }): GPT2 {
    return buildGPT2FromFiles(files, source, GPT2.buildEmpty, (model, dict) => model.loadStateDict(dict));
  }

  /** An uninitialised GPT-2 for a checkpoint to fill (placeholders where the weights come quantized). */
  private static buildEmpty(config: GPT2Config, how: { quantized: boolean }): GPT2 {
    return new GPT2(config, { init: false, placeholders: how.quantized });
  }

  /**
   * Writes config.json (HF keys, architectures ["GPT2LMHeadModel"]),
   * model.safetensors (HF names; the tied head is not stored, as HF does; a quantized
   * model's int8 / int4 weights with their scales and a `quantization_config`) and
   * the tokenizer (default: `model.tokenizer`) into `dir`, each file atomically.
   * Node only.
   * @example await model.savePretrained('checkpoints/step-1000', { tokenizer: tok });
   */
  savePretrained(dir: string, options: { tokenizer?: SavableTokenizer | null } = {}): Promise<void> {
    return saveGPT2Directory(dir, this, 'GPT2LMHeadModel', options);
  }

  /** Frees the parameter block, the gradients and every view. */
  override dispose(): void {
    super.dispose();
    this.flat.dispose();
  }
}

/** The same class under Hugging Face's name. */
export { GPT2 as GPT2LMHeadModel };
