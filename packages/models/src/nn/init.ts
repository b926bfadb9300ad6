/**
 * Parameter initialisers, PyTorch's `torch.nn.init` rules, writing in place
 * (under noGrad) from the backend's counter-based generator: with a `seed`
 * the values are the same on every backend; without one they come from the
 * global stream (`manualSeed`).
 */

import { ArgumentError, fmtShape, hash32 } from '@tessera/core';
import { noGrad, rand, randn, tidy, type Tensor } from '@tessera/tensor';

/** Options every random initialiser takes. */
export interface InitOptions {
  /** Seed of a reproducible draw; the global generator when omitted. */
  seed?: number;
}

/** Which dimension holds the inputs: PyTorch's Linear is `[out, in]`, HF's Conv1D is `[in, out]`. */
export type WeightLayout = 'outIn' | 'inOut';

/** fan_in / fan_out of a weight (PyTorch's rule: dims past the first two are a receptive field). */
export function computeFans(shape: readonly number[], layout: WeightLayout = 'outIn'): { fanIn: number; fanOut: number } {
  if (shape.length < 2) throw new ArgumentError(`init: fan in and fan out need a weight with at least 2 dims, got ${fmtShape(shape)}`);
  let receptive = 1;
  for (let i = 2; i < shape.length; i++) receptive *= shape[i];
  const [a, b] = layout === 'outIn' ? [shape[1], shape[0]] : [shape[0], shape[1]];
  return { fanIn: a * receptive, fanOut: b * receptive };
}

/** The recommended gain for a nonlinearity (`torch.nn.init.calculate_gain`). */
export function calculateGain(nonlinearity: 'linear' | 'sigmoid' | 'tanh' | 'relu' | 'leaky_relu' | 'gelu', param = 0.01): number {
  switch (nonlinearity) {
    case 'linear':
    case 'sigmoid':
    case 'gelu':
      return 1;
    case 'tanh':
      return 5 / 3;
    case 'relu':
      return Math.SQRT2;
    case 'leaky_relu':
      return Math.sqrt(2 / (1 + param * param));
    default:
      throw new ArgumentError(`calculateGain: unknown nonlinearity '${String(nonlinearity)}'`);
  }
}

function checkFinite(op: string, name: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new ArgumentError(`${op}: ${name} must be a finite number, got ${v}`);
}

/** Copies `make()` into t without recording gradients; intermediates are freed. */
function fill(t: Tensor, make: () => Tensor): Tensor {
  noGrad(() => tidy(() => void t.assign(make())));
  return t;
}

/**
 * Fills t with N(mean, std^2) samples.
 * @example normal_(w, { std: 0.02, seed: 1 })
 */
export function normal_(t: Tensor, options: InitOptions & { mean?: number; std?: number } = {}): Tensor {
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  checkFinite('normal_', 'mean', mean);
  checkFinite('normal_', 'std', std);
  if (std < 0) throw new ArgumentError(`normal_: std must be >= 0, got ${std}`);
  // Same values as randn(shape, { seed, mean, std }), scaled in place to skip two temporaries.
  noGrad(() => {
    const z = randn(t.shape, { seed: options.seed });
    try {
      t.assign(z);
    } finally {
      z.dispose();
    }
    if (std !== 1) t.mul_(std);
    if (mean !== 0) t.add_(mean);
  });
  return t;
}

/**
 * Fills t with U(low, high) samples.
 * @example uniform_(b, { low: -0.1, high: 0.1 })
 */
export function uniform_(t: Tensor, options: InitOptions & { low?: number; high?: number } = {}): Tensor {
  const low = options.low ?? 0;
  const high = options.high ?? 1;
  checkFinite('uniform_', 'low', low);
  checkFinite('uniform_', 'high', high);
  if (high < low) throw new ArgumentError(`uniform_: need low <= high, got ${low} and ${high}`);
  return fill(t, () => rand(t.shape, { seed: options.seed }).mul(high - low).add(low));
}

/** Fills t with `value`. */
export function constant_(t: Tensor, value: number): Tensor {
  checkFinite('constant_', 'value', value);
  noGrad(() => t.fill_(value));
  return t;
}

/** Fills t with zeros. */
export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}

/** Fills t with ones. */
export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

/** Options of the Xavier/Glorot initialisers. */
export interface XavierOptions extends InitOptions {
  gain?: number;
  layout?: WeightLayout;
}

/**
 * Xavier/Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fanIn + fanOut)).
 * @example xavierUniform_(linear.weight, { seed: 0 })
 */
export function xavierUniform_(t: Tensor, options: XavierOptions = {}): Tensor {
  const { fanIn, fanOut } = computeFans(t.shape, options.layout);
  const a = (options.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, { low: -a, high: a, seed: options.seed });
}

/** Xavier/Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fanIn + fanOut)). */
export function xavierNormal_(t: Tensor, options: XavierOptions = {}): Tensor {
  const { fanIn, fanOut } = computeFans(t.shape, options.layout);
  return normal_(t, { std: (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)), seed: options.seed });
}

/** Options of the Kaiming/He initialisers. */
export interface KaimingOptions extends InitOptions {
  /** Negative slope of leaky_relu (default 0). */
  a?: number;
  /** Preserve the variance of the forward ('fanIn', default) or backward ('fanOut') pass. */
  mode?: 'fanIn' | 'fanOut';
  nonlinearity?: 'relu' | 'leaky_relu' | 'linear' | 'tanh' | 'sigmoid' | 'gelu';
  layout?: WeightLayout;
}

function kaimingStd(t: Tensor, o: KaimingOptions): number {
  const { fanIn, fanOut } = computeFans(t.shape, o.layout);
  const fan = (o.mode ?? 'fanIn') === 'fanIn' ? fanIn : fanOut;
  return calculateGain(o.nonlinearity ?? 'leaky_relu', o.a ?? 0) / Math.sqrt(fan);
}

/**
 * Kaiming/He uniform: U(-b, b) with b = gain * sqrt(3 / fan).
 * @example kaimingUniform_(w, { nonlinearity: 'relu' })
 */
export function kaimingUniform_(t: Tensor, options: KaimingOptions = {}): Tensor {
  const b = Math.sqrt(3) * kaimingStd(t, options);
  return uniform_(t, { low: -b, high: b, seed: options.seed });
}

/** Kaiming/He normal: N(0, std^2) with std = gain / sqrt(fan). */
export function kaimingNormal_(t: Tensor, options: KaimingOptions = {}): Tensor {
  return normal_(t, { std: kaimingStd(t, options), seed: options.seed });
}

export { xavierUniform_ as glorotUniform_, xavierNormal_ as glorotNormal_, kaimingUniform_ as heUniform_, kaimingNormal_ as heNormal_ };

/** A per-parameter seed derived from a model seed (undefined stays undefined: the global stream). */
export function deriveSeed(seed: number | undefined, index: number): number | undefined {
  return seed === undefined ? undefined : hash32(seed | 0, index) | 0;
}

/**
 * GPT-2's scheme (HF `GPT2PreTrainedModel._init_weights`, nanoGPT): every
 * matrix and embedding N(0, std^2), biases 0, LayerNorm weight 1 and bias 0,
 * and residual projections (`*.c_proj.weight`) N(0, (std / sqrt(2 * nLayer))^2).
 * Parameters are told apart by name; `seed` gives each one its own stream.
 * @example gpt2Init(model.namedParameters(), { nLayer: 12, std: 0.02, seed: 0 })
 */
export function gpt2Init(params: Iterable<[string, Tensor]>, options: { nLayer: number; std?: number; seed?: number }): void {
  const std = options.std ?? 0.02;
  if (!Number.isInteger(options.nLayer) || options.nLayer < 1) throw new ArgumentError(`gpt2Init: nLayer must be a positive integer, got ${options.nLayer}`);
  let i = 0;
  for (const [name, p] of params) {
    const seed = deriveSeed(options.seed, i++);
    const leaf = name.slice(name.lastIndexOf('.') + 1);
    const isNorm = /(^|\.)(ln_\w+|ln|norm\w*)\.(weight|bias)$/.test(name);
    if (isNorm) constant_(p, leaf === 'weight' ? 1 : 0);
    else if (leaf === 'bias') zeros_(p);
    else if (name.endsWith('c_proj.weight')) normal_(p, { std: std / Math.sqrt(2 * options.nLayer), seed });
    else normal_(p, { std, seed });
  }
}
