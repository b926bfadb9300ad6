/**
 * The Module base class, PyTorch style: parameters and child modules are
 * registered by name, so `namedParameters()` yields dotted paths
 * (`transformer.h.0.attn.c_attn.weight`) that are also the state-dict keys.
 */

import { ArgumentError, DTypeError, fmtShape, sizeOf } from '@tessera/core';
import { Tensor, keep, noGrad, prepackMatmulWeights, releaseMatmulPacks, tensor } from '@tessera/tensor';
import { QuantizedModelError, StateDictError, type ShapeMismatch } from './errors.js';

/** A state-dict value: a tensor, or host data such as a loaded safetensors entry. */
export type StateDictValue = Tensor | { readonly shape: readonly number[]; readonly data: ArrayLike<number> };

/** The dtype of a host state-dict value: its `dtype` field when it has one, else what its data array holds. */
function hostDType(value: { readonly data: ArrayLike<number> }): string {
  const d = (value as { dtype?: unknown }).dtype;
  if (typeof d === 'string') return d;
  const data = value.data;
  if (data instanceof Int32Array || data instanceof Uint8Array || data instanceof Int8Array || data instanceof Int16Array || data instanceof Uint16Array || data instanceof Uint32Array) return data.constructor.name;
  return 'f32';
}

/** A state dict to load: a Map or a plain object from parameter names to values. */
export type StateDictInput = ReadonlyMap<string, StateDictValue> | Readonly<Record<string, StateDictValue>>;

/** Options of `loadStateDict`. */
export interface LoadStateDictOptions {
  /** Throw on missing or unexpected keys (default true). Shape mismatches always throw. */
  strict?: boolean;
}

/** What `loadStateDict` did not match (both empty after a strict load). */
export interface LoadStateDictResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

const NAME = /^[A-Za-z0-9_]+$/;

function checkName(kind: string, name: string): void {
  if (!NAME.test(name)) throw new ArgumentError(`${kind} name ${JSON.stringify(name)} must be letters, digits or '_' (dots separate levels)`);
}

function entriesOf(dict: StateDictInput): [string, StateDictValue][] {
  if (dict instanceof Map) return [...dict.entries()];
  if (dict === null || typeof dict !== 'object') throw new ArgumentError('loadStateDict: expected a Map or an object of tensors');
  return Object.entries(dict as Record<string, StateDictValue>);
}

function shapeOfValue(v: StateDictValue): readonly number[] {
  return v instanceof Tensor ? v.shape : v.shape;
}

/** Indents every line after the first by two spaces (PyTorch's `_addindent`). */
function indent(s: string): string {
  return s.split('\n').join('\n  ');
}

/**
 * Base class of every layer and model. Subclasses register parameters and
 * children in their constructor and define their own `forward`.
 *
 * @example
 * class TwoLayer extends Module {
 *   readonly fc1 = this.registerModule('fc1', new Linear(4, 8));
 *   readonly fc2 = this.registerModule('fc2', new Linear(8, 1));
 *   forward(x: Tensor): Tensor { return this.fc2.forward(relu(this.fc1.forward(x))); }
 * }
 */
export class Module {
  /** True in training mode (dropout active); set by `train()` / `eval()`. */
  training = true;
  /** Parameters by name; null marks one whose f32 tensor was freed (a quantized weight), keeping its place in the order. */
  readonly #params = new Map<string, Tensor | null>();
  readonly #buffers = new Map<string, Tensor>();
  readonly #children = new Map<string, Module>();

  /** The name printed by `toString()` (the class name unless overridden). */
  get typeName(): string {
    return this.constructor.name;
  }

  /** Registers a parameter (a leaf that requires grad) under `name`; returns it. */
  protected registerParameter(name: string, t: Tensor): Tensor {
    checkName('parameter', name);
    if (this.#params.has(name) || this.#children.has(name) || this.#buffers.has(name)) {
      throw new ArgumentError(`${this.typeName}: '${name}' is already registered`);
    }
    if (!(t instanceof Tensor)) throw new ArgumentError(`${this.typeName}: parameter '${name}' is not a Tensor`);
    if (!t.requiresGrad || t.gradFn !== null) throw new ArgumentError(`${this.typeName}: parameter '${name}' must be a leaf tensor that requires grad`);
    this.#params.set(name, keep(t)); // owned by the module, never by an enclosing tidy()
    return t;
  }

  /**
   * The parameter registered as `name`. A parameter released by quantization (its f32 values
   * freed, see `quantize`) throws a QuantizedModelError naming it.
   */
  protected parameter(name: string): Tensor {
    const p = this.#params.get(name);
    if (p) return p;
    if (p === null) {
      throw new QuantizedModelError(`${this.typeName}.${name}: this weight is quantized and its f32 values were freed; the layer computes with its quantized copy (dequantize(model) makes it f32 again)`, name);
    }
    throw new ArgumentError(`${this.typeName}: no parameter '${name}'`);
  }

  /**
   * @internal Replaces parameter `name` with `t`, or releases it (null: it leaves
   * `parameters()` and the state dict but keeps its place, so restoring it keeps the
   * order). Returns the previous tensor, which the caller now owns (it is not disposed).
   */
  _swapParameter(name: string, t: Tensor | null): Tensor | null {
    if (!this.#params.has(name)) throw new ArgumentError(`${this.typeName}: no parameter '${name}'`);
    const old = this.#params.get(name) ?? null;
    this.#params.set(name, t === null ? null : keep(t));
    return old;
  }

  /** @internal Names (local to this module) of the parameters released by `_swapParameter(name, null)`. */
  _releasedParameters(): string[] {
    return [...this.#params].filter(([, p]) => p === null).map(([n]) => n);
  }

  /** Registers a tensor the module owns but does not train (not in the state dict); returns it. */
  protected registerBuffer(name: string, t: Tensor): Tensor {
    checkName('buffer', name);
    if (this.#params.has(name) || this.#children.has(name) || this.#buffers.has(name)) {
      throw new ArgumentError(`${this.typeName}: '${name}' is already registered`);
    }
    this.#buffers.set(name, keep(t));
    return t;
  }

  /** Registers a child module under `name`; returns it. */
  protected registerModule<M extends Module>(name: string, m: M): M {
    checkName('module', name);
    if (this.#params.has(name) || this.#children.has(name) || this.#buffers.has(name)) {
      throw new ArgumentError(`${this.typeName}: '${name}' is already registered`);
    }
    if (!(m instanceof Module)) throw new ArgumentError(`${this.typeName}: child '${name}' is not a Module`);
    this.#children.set(name, m);
    return m;
  }

  /** Direct children with their names, in registration order. */
  namedChildren(): [string, Module][] {
    return [...this.#children.entries()];
  }

  /** Direct children, in registration order. */
  children(): Module[] {
    return [...this.#children.values()];
  }

  /** This module and every descendant with its dotted path ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    // A loop, not push(...child list): a spread of a model's 10^5+ modules overflows the stack.
    for (const [name, child] of this.#children) for (const entry of child.namedModules(prefix ? `${prefix}.${name}` : name)) out.push(entry);
    return out;
  }

  /**
   * Every parameter with its dotted name, depth first in registration order
   * (a tensor registered twice is listed once, under its first name).
   * @example for (const [name, p] of model.namedParameters()) console.log(name, p.shape);
   */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    const seen = new Set<Tensor>();
    for (const [path, m] of this.namedModules(prefix)) {
      for (const [name, p] of m.#params) {
        if (p === null || seen.has(p)) continue;
        seen.add(p);
        out.push([path ? `${path}.${name}` : name, p]);
      }
    }
    return out;
  }

  /** Every parameter (see `namedParameters`), e.g. for an optimizer. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Total number of parameter elements. */
  numParameters(): number {
    let n = 0;
    for (const p of this.parameters()) n += p.size;
    return n;
  }

  /**
   * Sets training mode on this module and every descendant; returns this. Entering training
   * mode frees the copies prepackWeights() made (the steps to come write the weights, and
   * every product would repack them).
   */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    if (mode) this.releasePackedWeights();
    return this;
  }

  /** Sets evaluation mode (dropout off); returns this. */
  eval(): this {
    return this.train(false);
  }

  /**
   * The weights this module (not its children) multiplies inputs by: `transposed` when the
   * product reads the weight transposed (Linear's x @ W^T). Layers with a weight matrix
   * override it; see prepackWeights.
   */
  protected matmulWeights(): { weight: Tensor; transposed: boolean }[] {
    return [];
  }

  /**
   * Packs every weight matrix of this module tree (Linear, Conv1D) once into the matmul
   * kernel's layout, for inference: later forward passes skip packing them (the wasm
   * backend; others ignore it). Linear weights give the same bits; Conv1D weights are kept
   * transposed, so that a prompt takes the faster dot-form tiles, whose results agree with
   * the unpacked ones to float rounding. Costs a packed copy
   * of each matrix (about the model's weight size again) until releasePackedWeights() or
   * the parameters are freed; a training step that writes the weights makes the next
   * product repack them, so this is for inference, not training.
   * @example const model = (await GPT2.fromPretrained(dir)).eval().prepackWeights();
   */
  prepackWeights(): this {
    for (const [, m] of this.namedModules()) {
      for (const { weight, transposed } of m.matmulWeights()) prepackMatmulWeights([weight], { transposed });
    }
    return this;
  }

  /** Frees what prepackWeights() packed. */
  releasePackedWeights(): this {
    for (const [, m] of this.namedModules()) {
      for (const { weight, transposed } of m.matmulWeights()) releaseMatmulPacks([weight], { transposed });
    }
    return this;
  }

  /** Drops (`setToNone`, default) or zero-fills every parameter's gradient. */
  zeroGrad(setToNone = true): void {
    for (const p of this.parameters()) p.zeroGrad(setToNone);
  }

  /**
   * The parameters by dotted name. The values are the live parameter tensors
   * (not copies): read them, don't dispose them.
   * @example const sd = model.stateDict(); sd.get('fc1.weight')!.shape
   */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters());
  }

  /**
   * Copies values into the parameters by name. Every key and shape is checked
   * before anything is written: a shape mismatch, or (with `strict`, the
   * default) a missing or unexpected key, throws a `StateDictError` naming them
   * and leaves the module unchanged.
   * @example model.loadStateDict(other.stateDict());
   */
  loadStateDict(dict: StateDictInput, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const params = new Map(this.namedParameters());
    const entries = entriesOf(dict);
    const unexpectedKeys: string[] = [];
    const mismatches: ShapeMismatch[] = [];
    const found = new Set<string>();
    for (const [key, value] of entries) {
      const p = params.get(key);
      if (!p) {
        unexpectedKeys.push(key);
        continue;
      }
      found.add(key);
      const shape = shapeOfValue(value);
      if (shape.length !== p.rank || shape.some((d, i) => d !== p.shape[i])) mismatches.push({ key, expected: p.shape, got: shape });
      else if (!(value instanceof Tensor) && value.data.length !== p.size) {
        throw new ArgumentError(`loadStateDict: ${JSON.stringify(key)} has shape ${fmtShape(shape)} but ${value.data.length} values (expected ${sizeOf(shape)})`);
      } else if (value instanceof Tensor && value.dtype !== 'f32') {
        throw new DTypeError(`loadStateDict: ${JSON.stringify(key)} has dtype ${value.dtype}; parameters are f32`);
      } else if (!(value instanceof Tensor) && hostDType(value) !== 'f32') {
        // An integer or bool tensor of a file (read as i32) would otherwise be copied into an f32 parameter as numbers.
        const file = (value as { fileDtype?: unknown }).fileDtype;
        throw new DTypeError(`loadStateDict: ${JSON.stringify(key)} has dtype ${hostDType(value)}${typeof file === 'string' ? ` (${file} in the file)` : ''}; parameters are f32`);
      }
    }
    const released = new Set(this.namedModules().flatMap(([path, m]) => m._releasedParameters().map((n) => (path ? `${path}.${n}` : n))));
    const quantized = unexpectedKeys.find((k) => released.has(k));
    if (quantized !== undefined) {
      throw new QuantizedModelError(`${this.typeName}.loadStateDict: ${JSON.stringify(quantized)} is a quantized weight of this model and cannot take f32 values; dequantize(model) first, or load a quantized checkpoint`, quantized);
    }
    const missingKeys = [...params.keys()].filter((k) => !found.has(k));
    if (mismatches.length > 0 || (strict && (missingKeys.length > 0 || unexpectedKeys.length > 0))) {
      throw StateDictError.of(`${this.typeName}.loadStateDict`, strict ? missingKeys : [], strict ? unexpectedKeys : [], mismatches);
    }
    noGrad(() => {
      for (const [key, value] of entries) {
        const p = params.get(key);
        if (p) writeParameter(p, value);
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /** Extra text inside this module's parentheses in `toString()` (e.g. `in=4, out=8`). */
  extraRepr(): string {
    return '';
  }

  /**
   * The module tree, printed like PyTorch.
   * @example console.log(String(model)) // GPT2LMHeadModel(\n  (transformer): GPT2Model(...
   */
  toString(): string {
    const extra = this.extraRepr();
    const lines: string[] = extra ? extra.split('\n') : [];
    for (const [name, child] of this.#children) lines.push(`(${name}): ${indent(child.toString())}`);
    if (lines.length === 0) return `${this.typeName}()`;
    if (this.#children.size === 0 && lines.length === 1) return `${this.typeName}(${lines[0]})`;
    return `${this.typeName}(\n  ${lines.join('\n  ')}\n)`;
  }

  /** Frees every parameter (with its gradient) and buffer of this module and its descendants, and what each holds besides (`disposeOwned`). */
  dispose(): void {
    for (const [, m] of this.namedModules()) {
      for (const p of m.#params.values()) p?.dispose();
      for (const b of m.#buffers.values()) b.dispose();
      m.disposeOwned();
    }
  }

  /** Frees tensors this module holds outside its parameters and buffers (a quantized weight copy); called by `dispose()`. */
  protected disposeOwned(): void {}

  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** Copies `src` into parameter `p`, moving it to p's backend first when it lives elsewhere. */
function assignFrom(p: Tensor, src: Tensor): void {
  const moved = src.toSync(p.backend); // an alias when src is already there
  try {
    p.assign(moved);
  } finally {
    if (moved !== src) moved.dispose();
  }
}

/**
 * Writes a state-dict value into a parameter; runs inside noGrad. Host values go
 * through a temporary tensor: `tensor()` keeps float64 values exactly where the
 * backend stores float64 (the reference backend's gradient-check mode), so a
 * float64 checkpoint loads without rounding there and is rounded to f32 elsewhere.
 */
function writeParameter(p: Tensor, value: StateDictValue): void {
  if (value instanceof Tensor) {
    if (value !== p) assignFrom(p, value);
    return;
  }
  if (p.size === 0) return;
  const data = value.data;
  const host = data instanceof Float32Array || data instanceof Float64Array ? data : Float64Array.from(data);
  const src = tensor(host, p.shape, 'f32');
  try {
    assignFrom(p, src);
  } finally {
    src.dispose();
  }
}
