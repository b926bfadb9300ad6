/**
 * The Optimizer base class: parameter groups with per-group options
 * (PyTorch style), per-parameter state (a step count plus buffers shaped like
 * the parameter, living on the parameter's backend), zeroGrad, and a
 * JSON-able state dict that resumes training bit-exactly.
 */

import { ArgumentError, DisposedError, ShapeError, fmtShape } from '@tessera/core';
import { Tensor, keep, noGrad, tidy } from '@tessera/tensor';

/** A pair of numbers such as Adam's `betas`. */
export type Pair = [number, number];

/** A hyper-parameter value: a number, a flag or a pair. */
export type OptionValue = number | boolean | Pair;

/** Options every optimizer has. */
export interface BaseOptions {
  /** Learning rate (schedulers rewrite it every step). */
  lr: number;
}

/** One parameter group: its tensors and its own, mutable copy of the options. */
export type ParamGroup<O extends BaseOptions> = O & { readonly params: readonly Tensor[] };

/** A group as passed to a constructor: tensors plus the options that differ from the defaults. */
export type ParamGroupInput<O extends BaseOptions> = Partial<O> & { params: Iterable<Tensor> };

/** What a constructor accepts: tensors (one group) or a list of groups. */
export type ParamsInput<O extends BaseOptions> = Iterable<Tensor> | readonly ParamGroupInput<O>[];

/** Per-parameter state: the updates applied so far and named buffers shaped like the parameter. */
export interface ParamState {
  step: number;
  buffers: Map<string, Tensor>;
}

/** A buffer in a state dict: Float32Array from `stateDict()` / `stateDictSync()`, or number[] after a JSON round trip. */
export type StateBuffer = Float32Array | readonly number[];

/** One parameter's entry in a state dict. */
export interface ParamStateDict {
  /** The parameter's shape (checked on load). */
  shape: number[];
  step: number;
  buffers: Record<string, StateBuffer>;
}

/** One group's entry in a state dict. */
export interface ParamGroupStateDict {
  /** Indices of the group's parameters in the optimizer's flat parameter order. */
  params: number[];
  options: Record<string, number | boolean | number[]>;
}

/**
 * An optimizer's complete state as plain data: group options, step counts and
 * buffers (f32 values, exact). `JSON.stringify` it after converting the
 * Float32Arrays with `Array.from` (or any encoding that keeps f32 values);
 * `loadStateDict` accepts either form.
 */
export interface OptimizerStateDict {
  /** The optimizer class, e.g. 'AdamW'; loading into another class is refused. */
  optimizer: string;
  paramGroups: ParamGroupStateDict[];
  /** Indexed like `paramGroups[].params`; null for a parameter that has no state yet. */
  state: (ParamStateDict | null)[];
}

const fmtValue = (v: unknown): string => (Array.isArray(v) ? `[${v.join(', ')}]` : String(v));

/** Throws unless `v` is a finite number >= 0. */
export function checkNonNegative(opt: string, name: string, v: number, where: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    throw new ArgumentError(`${opt}: ${name} must be a finite number >= 0, got ${fmtValue(v)} (${where})`);
  }
}

/** Throws unless `v` is in [0, 1). */
export function checkUnitInterval(opt: string, name: string, v: number, where: string): void {
  if (typeof v !== 'number' || !(v >= 0 && v < 1)) {
    throw new ArgumentError(`${opt}: ${name} must be in [0, 1), got ${fmtValue(v)} (${where})`);
  }
}

/** Throws unless `v` is in [0, 1] (a decay or momentum factor: past 1 it amplifies, below 0 it flips signs). */
export function checkClosedUnit(opt: string, name: string, v: number, where: string): void {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) {
    throw new ArgumentError(`${opt}: ${name} must be in [0, 1], got ${fmtValue(v)} (${where})`);
  }
}

/** Throws unless `v` is a finite number. */
export function checkFinite(opt: string, name: string, v: number, where: string): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new ArgumentError(`${opt}: ${name} must be a finite number, got ${fmtValue(v)} (${where})`);
  }
}

function isTensorList(v: unknown): v is Iterable<Tensor> {
  if (v instanceof Tensor) return false;
  if (!Array.isArray(v)) return v !== null && typeof v === 'object' && Symbol.iterator in v;
  return v.length === 0 || v[0] instanceof Tensor;
}

/**
 * Base of every optimizer. Subclasses name their buffers, validate their
 * options and update one parameter at a time.
 *
 * @example
 * const opt = new AdamW([{ params: decayed }, { params: biases, weightDecay: 0 }], { lr: 3e-4 });
 * loss.backward(); opt.step(); opt.zeroGrad();
 */
export abstract class Optimizer<O extends BaseOptions = BaseOptions> {
  /** The groups; each holds its parameters and its own options (write `lr` to change it). */
  readonly paramGroups: ParamGroup<O>[] = [];
  /** The options a group gets when it does not set them. */
  readonly defaults: Readonly<O>;
  /** State per parameter, created on the parameter's first update. */
  protected readonly state = new Map<Tensor, ParamState>();
  /** Pruning masks by parameter (see setMask): 1 where the parameter trains, 0 where it stays zero. */
  private readonly masks = new Map<Tensor, Tensor>();
  private disposed = false;

  protected constructor(
    /** The optimizer's name in errors and state dicts, e.g. 'AdamW'. */
    readonly name: string,
    params: ParamsInput<O>,
    builtin: O,
    options: Partial<O> | undefined,
    /** Names of the per-parameter buffers this optimizer keeps. */
    protected readonly bufferNames: readonly string[],
  ) {
    this.defaults = Object.freeze(this.resolveOptions(builtin, options ?? {}, 'options'));
    let groups: readonly ParamGroupInput<O>[];
    if (isTensorList(params)) {
      const list = [...params];
      if (list.length === 0) throw new ArgumentError(`${name}: got an empty parameter list`);
      groups = [{ params: list } as unknown as ParamGroupInput<O>];
    } else if (Array.isArray(params)) groups = params;
    else throw new ArgumentError(`${name}: params must be an iterable of tensors or an array of { params, ...options } groups, got ${fmtValue(params)}`);
    for (const g of groups) this.addParamGroup(g);
  }

  /**
   * Adds a group of parameters with its own options (the rest from `defaults`),
   * e.g. to unfreeze layers during fine-tuning.
   * @example opt.addParamGroup({ params: head.parameters(), lr: 1e-3 });
   */
  addParamGroup(input: ParamGroupInput<O>): void {
    this.assertLive('addParamGroup');
    const gi = this.paramGroups.length;
    const where = `param group ${gi}`;
    if (input === null || typeof input !== 'object' || !('params' in input)) {
      throw new ArgumentError(`${this.name}: ${where} must be an object with a 'params' list, got ${fmtValue(input)}`);
    }
    const { params, ...overrides } = input;
    if (params instanceof Tensor || params === null || typeof params !== 'object' || !(Symbol.iterator in params)) {
      throw new ArgumentError(`${this.name}: ${where}: 'params' must be an iterable of tensors (wrap a single tensor in an array)`);
    }
    const list = [...params];
    if (list.length === 0) throw new ArgumentError(`${this.name}: ${where} has no parameters`);
    const seen = new Map<Tensor, string>();
    this.paramGroups.forEach((g, i) => g.params.forEach((p, j) => seen.set(p, `param group ${i}, index ${j}`)));
    list.forEach((p, j) => {
      const at = `${where}, index ${j}`;
      if (!(p instanceof Tensor)) throw new ArgumentError(`${this.name}: ${at} is not a Tensor (got ${fmtValue(p)})`);
      if (p.isDisposed) throw new DisposedError(`${this.name}: the parameter of shape ${fmtShape(p.shape)} at ${at} was disposed`);
      if (!p.requiresGrad) {
        throw new ArgumentError(`${this.name}: the parameter of shape ${fmtShape(p.shape)} at ${at} does not require grad; create it with { requiresGrad: true } or call requiresGrad_()`);
      }
      if (p.gradFn !== null) {
        throw new ArgumentError(`${this.name}: the tensor of shape ${fmtShape(p.shape)} at ${at} is not a leaf (it was computed by ${p.gradFn.name}); optimize the leaf it came from`);
      }
      if (!p.isContiguous()) {
        throw new ArgumentError(`${this.name}: the parameter of shape ${fmtShape(p.shape)} with strides ${fmtShape(p.strides)} at ${at} is not contiguous`);
      }
      const prev = seen.get(p);
      if (prev !== undefined) {
        throw new ArgumentError(`${this.name}: the parameter of shape ${fmtShape(p.shape)} appears twice (${prev} and ${at}); each parameter may belong to one group once`);
      }
      seen.set(p, at);
    });
    const options = this.resolveOptions(this.defaults, overrides as unknown as Partial<O>, where);
    this.paramGroups.push({ ...options, params: Object.freeze(list) } as ParamGroup<O>);
  }

  /**
   * Applies one update to every parameter that has a gradient (parameters
   * whose `grad` is null are skipped and keep their state untouched).
   */
  step(): void {
    this.assertLive('step');
    noGrad(() => {
      this.paramGroups.forEach((group, gi) => {
        this.checkOptions(group, `param group ${gi}`);
        for (const p of group.params) {
          const g = p.grad;
          if (g === null || p.size === 0) continue;
          if (g.backend !== p.backend) {
            throw new ArgumentError(`${this.name}.step: the gradient of the parameter of shape ${fmtShape(p.shape)} lives on '${g.backend.name}', the parameter on '${p.backend.name}'`);
          }
          const state = this.stateOf(p);
          state.step += 1;
          const mask = this.masks.get(p);
          // A masked position's gradient is zeroed first, so its moment buffers (zeroed by setMask)
          // stay zero and every rule's update there is exactly 0; the parameter is multiplied by
          // the mask afterwards as well, which makes the zeros hold whatever the rule.
          if (mask) g.mul_(mask);
          if (g.isContiguous()) this.update(p, g, group, state);
          else tidy(() => this.update(p, g.contiguous(), group, state));
          if (mask) p.mul_(mask);
        }
      });
    });
  }

  /**
   * Masks `param` (one of this optimizer's parameters) for pruning: wherever `mask` is 0 the
   * parameter is set to 0 now and stays exactly 0 through every later step, whatever the
   * rule, momentum or weight decay (its gradient and state buffers are zeroed there too);
   * where `mask` is 1 the step is unchanged. `mask` is an f32 tensor of 0s and 1s with the
   * parameter's shape on its backend; the optimizer keeps its own copy (dispose yours when
   * you like). `null` removes the mask. Parameters without a mask are updated exactly as
   * before. `@tessera/models`' `restoreMasks(model, optimizer)` sets the masks of a pruned model.
   * @example opt.setMask(w, ne(w, 0)) // keep w's zeros zero
   */
  setMask(param: Tensor, mask: Tensor | null): void {
    this.assertLive('setMask');
    if (!this.paramGroups.some((g) => g.params.includes(param))) {
      throw new ArgumentError(`${this.name}.setMask: the tensor of shape ${param instanceof Tensor ? fmtShape(param.shape) : fmtValue(param)} is not one of this optimizer's parameters`);
    }
    const old = this.masks.get(param);
    if (mask === null) {
      old?.dispose();
      this.masks.delete(param);
      return;
    }
    if (!(mask instanceof Tensor)) throw new ArgumentError(`${this.name}.setMask: mask must be a Tensor or null, got ${fmtValue(mask)}`);
    if (mask.isDisposed) throw new DisposedError(`${this.name}.setMask: the mask of shape ${fmtShape(mask.shape)} was disposed`);
    if (mask.shape.length !== param.shape.length || mask.shape.some((d, i) => d !== param.shape[i])) {
      throw new ShapeError(`${this.name}.setMask: mask ${fmtShape(mask.shape)} must have the parameter's shape ${fmtShape(param.shape)}`);
    }
    if (mask.dtype !== 'f32') throw new ArgumentError(`${this.name}.setMask: mask must be f32 (0s and 1s), got ${mask.dtype}`);
    if (mask.backend !== param.backend) {
      throw new ArgumentError(`${this.name}.setMask: the mask lives on '${mask.backend.name}', the parameter on '${param.backend.name}'`);
    }
    const copy = noGrad(() => tidy(() => keep(mask.contiguous().clone())));
    old?.dispose();
    this.masks.set(param, copy);
    noGrad(() => this.applyMask(param, copy));
  }

  /** The mask set on `param` with setMask, or null. */
  maskOf(param: Tensor): Tensor | null {
    return this.masks.get(param) ?? null;
  }

  /** Zeroes `p`, its gradient and its state buffers where `mask` is 0 (inside noGrad). */
  private applyMask(p: Tensor, mask: Tensor): void {
    p.mul_(mask);
    if (p.grad !== null && !p.grad.isDisposed) p.grad.mul_(mask);
    for (const b of this.state.get(p)?.buffers.values() ?? []) b.mul_(mask);
  }

  /**
   * Clears every parameter's gradient: disposes it and sets `grad` to null
   * (`setToNone`, the default, as in PyTorch), or fills it with zeros in place.
   * Either way the next backward pass starts from zero.
   */
  zeroGrad(setToNone = true): void {
    for (const group of this.paramGroups) for (const p of group.params) if (!p.isDisposed) p.zeroGrad(setToNone);
  }

  /** The optimizer's state as plain data, its buffers read with `await` (every backend). */
  async stateDict(): Promise<OptimizerStateDict> {
    this.assertLive('stateDict');
    const reads: Promise<void>[] = [];
    const sd = this.collect((t, put) => {
      reads.push(t.data().then((d) => put(d as Float32Array)));
      return new Float32Array(0);
    });
    await Promise.all(reads);
    return sd;
  }

  /**
   * `stateDict()` read synchronously (the backend must have `features.syncRead`,
   * else use `await stateDict()`).
   */
  stateDictSync(): OptimizerStateDict {
    this.assertLive('stateDictSync');
    return this.collect((t) => t.dataSync() as Float32Array);
  }

  /** @deprecated Renamed `stateDict()` (unsuffixed names work on every backend); removed in the next release. */
  stateDictAsync(): Promise<OptimizerStateDict> {
    return this.stateDict();
  }

  /**
   * Restores a state dict saved by an optimizer of the same class over
   * parameters of the same shapes, in the same group layout. Options, step
   * counts and buffers are replaced; nothing changes if the dict does not fit.
   */
  loadStateDict(sd: OptimizerStateDict): void {
    this.assertLive('loadStateDict');
    const name = this.name;
    if (sd === null || typeof sd !== 'object' || !Array.isArray(sd.paramGroups) || !Array.isArray(sd.state)) {
      throw new ArgumentError(`${name}.loadStateDict: expected { optimizer, paramGroups, state }, got ${fmtValue(sd)}`);
    }
    if (sd.optimizer !== name) throw new ArgumentError(`${name}.loadStateDict: the state dict was saved by '${sd.optimizer}', not '${name}'`);
    if (sd.paramGroups.length !== this.paramGroups.length) {
      throw new ArgumentError(`${name}.loadStateDict: the state dict has ${sd.paramGroups.length} param groups, this optimizer has ${this.paramGroups.length}`);
    }
    const params: Tensor[] = [];
    const options = this.paramGroups.map((group, gi) => {
      const saved = sd.paramGroups[gi];
      const n = Array.isArray(saved?.params) ? saved.params.length : -1;
      if (n !== group.params.length) {
        throw new ArgumentError(`${name}.loadStateDict: param group ${gi} has ${n} parameters in the state dict, ${group.params.length} here`);
      }
      // Saved ids map to this optimizer's parameters in order, as in PyTorch.
      saved.params.forEach((id, j) => {
        if (!Number.isInteger(id) || id < 0 || id >= sd.state.length) {
          throw new ArgumentError(`${name}.loadStateDict: param group ${gi} names parameter id ${id}, but the state list has ${sd.state.length} entries`);
        }
        params[id] = group.params[j];
      });
      const { params: _params, ...current } = group;
      return this.resolveOptions(current as unknown as O, (saved.options ?? {}) as Partial<O>, `param group ${gi} of the state dict`);
    });
    const total = this.paramGroups.reduce((s, g) => s + g.params.length, 0);
    if (sd.state.length !== total) {
      throw new ArgumentError(`${name}.loadStateDict: the state dict has state for ${sd.state.length} parameters, this optimizer has ${total}`);
    }
    const checked = sd.state.map((entry, id) => {
      const p = params[id];
      if (p === undefined) throw new ArgumentError(`${name}.loadStateDict: no param group lists parameter id ${id}`);
      if (entry === null || entry === undefined) return null;
      const shape = entry.shape;
      if (!Array.isArray(shape) || shape.length !== p.shape.length || shape.some((d, i) => d !== p.shape[i])) {
        throw new ShapeError(`${name}.loadStateDict: state for parameter ${id} has shape ${fmtShape(shape ?? [])}, the parameter has shape ${fmtShape(p.shape)}`);
      }
      if (!Number.isInteger(entry.step) || entry.step < 0) {
        throw new ArgumentError(`${name}.loadStateDict: state for parameter ${id} has step ${entry.step}, expected an integer >= 0`);
      }
      for (const [b, data] of Object.entries(entry.buffers ?? {})) {
        if (!this.bufferNames.includes(b)) {
          throw new ArgumentError(`${name}.loadStateDict: state for parameter ${id} has an unknown buffer '${b}'; ${name} keeps ${this.bufferNames.join(', ')}`);
        }
        if (data === null || typeof data !== 'object' || data.length !== p.size) {
          throw new ShapeError(`${name}.loadStateDict: buffer '${b}' of parameter ${id} has ${data?.length} values, the parameter of shape ${fmtShape(p.shape)} has ${p.size}`);
        }
      }
      return { p, entry };
    });
    // Everything fits: replace options and state.
    this.paramGroups.forEach((group, gi) => Object.assign(group, options[gi]));
    this.clearState();
    noGrad(() => {
      for (const c of checked) {
        if (c === null) continue;
        const buffers = new Map<string, Tensor>();
        for (const [b, data] of Object.entries(c.entry.buffers ?? {})) {
          buffers.set(b, this.bufferFrom(c.p, data instanceof Float32Array ? data : Float32Array.from(data)));
        }
        this.state.set(c.p, { step: c.entry.step, buffers });
      }
      // Loaded moments may be nonzero where a mask now holds the parameter at zero.
      for (const [p, mask] of this.masks) this.applyMask(p, mask);
    });
  }

  /** Frees every state buffer; the optimizer cannot be used afterwards. Parameters are untouched. */
  dispose(): void {
    if (this.disposed) return;
    this.clearState();
    for (const m of this.masks.values()) m.dispose();
    this.masks.clear();
    this.disposed = true;
  }

  /** Validates one group's options; `where` names the group in errors. */
  protected abstract checkOptions(options: O, where: string): void;

  /** Updates `p` in place from its (contiguous) gradient `g`; `state.step` already counts this update. */
  protected abstract update(p: Tensor, g: Tensor, group: ParamGroup<O>, state: ParamState): void;

  /** The named buffer of `p`, created filled with `init` (on p's backend) when missing. */
  protected buffer(p: Tensor, state: ParamState, name: string, init = 0): Tensor {
    let b = state.buffers.get(name);
    if (!b) {
      b = noGrad(() => keep(p.clone().fill_(init)));
      state.buffers.set(name, b);
    }
    return b;
  }

  private bufferFrom(p: Tensor, data: Float32Array): Tensor {
    const b = noGrad(() => keep(p.clone()));
    const d = b.dense({ write: true });
    b.backend.write(d.storage, data, d.offset);
    return b;
  }

  private stateOf(p: Tensor): ParamState {
    let s = this.state.get(p);
    if (!s) {
      s = { step: 0, buffers: new Map() };
      this.state.set(p, s);
    }
    return s;
  }

  private clearState(): void {
    for (const s of this.state.values()) for (const b of s.buffers.values()) b.dispose();
    this.state.clear();
  }

  private assertLive(op: string): void {
    if (this.disposed) throw new DisposedError(`${this.name}.${op}: the optimizer was disposed`);
  }

  private collect(read: (t: Tensor, put: (d: Float32Array) => void) => Float32Array): OptimizerStateDict {
    const paramGroups: ParamGroupStateDict[] = [];
    const state: (ParamStateDict | null)[] = [];
    for (const group of this.paramGroups) {
      const ids: number[] = [];
      for (const p of group.params) {
        ids.push(state.length);
        const s = this.state.get(p);
        if (!s) {
          state.push(null);
          continue;
        }
        const buffers: Record<string, StateBuffer> = {};
        for (const [b, t] of s.buffers) buffers[b] = read(t, (d) => (buffers[b] = d));
        state.push({ shape: [...p.shape], step: s.step, buffers });
      }
      const options: Record<string, number | boolean | number[]> = {};
      for (const key of Object.keys(this.defaults)) {
        const v = (group as unknown as Record<string, OptionValue>)[key];
        options[key] = Array.isArray(v) ? [...v] : (v as number | boolean);
      }
      paramGroups.push({ params: ids, options });
    }
    return { optimizer: this.name, paramGroups, state };
  }

  /** `base` with `overrides` applied, type-checked against the defaults' keys and validated. */
  private resolveOptions(base: O, overrides: Partial<O>, where: string): O {
    const out = {} as Record<string, OptionValue>;
    const known = Object.keys(base);
    for (const key of known) {
      const v = (base as unknown as Record<string, OptionValue>)[key];
      out[key] = Array.isArray(v) ? ([...v] as Pair) : v;
    }
    for (const [key, v] of Object.entries(overrides)) {
      if (v === undefined) continue;
      if (!known.includes(key)) {
        throw new ArgumentError(`${this.name}: unknown option '${key}' (${where}); ${this.name} takes ${known.join(', ')}`);
      }
      const want = out[key];
      const ok = Array.isArray(want)
        ? Array.isArray(v) && v.length === want.length && v.every((x: unknown) => typeof x === 'number')
        : typeof v === typeof want;
      if (!ok) throw new ArgumentError(`${this.name}: option '${key}' must be ${Array.isArray(want) ? `a pair of numbers` : `a ${typeof want}`}, got ${fmtValue(v)} (${where})`);
      out[key] = Array.isArray(v) ? ([...v] as Pair) : (v as OptionValue);
    }
    const opts = out as unknown as O;
    this.checkOptions(opts, where);
    return opts;
  }
}
