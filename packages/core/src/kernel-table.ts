/**
 * Kernel tables: how a backend supplies its kernels. A backend writes one function per
 * kernel, `(ctx, params) => void`, over whatever context its kernels need (a WasmContext,
 * a GpuContext, the reference backend's typed-array views), and `bindKernels` turns the
 * table into the backend's kernel methods. Each installed method runs the kernel's shared
 * validator (`VALIDATORS`) before the table entry, so every backend validates every call
 * the same way and no backend repeats the validate-then-dispatch step per kernel.
 */

import {
  KERNEL_NAMES,
  PRIMITIVE_KERNELS,
  missingPrimitives,
  type ExtensionKernelName,
  type FusedKernelName,
  type KernelName,
  type OptionalKernelName,
  type ParamsOf,
  type PrimitiveKernelName,
} from './backend.js';
import { ArgumentError, UnsupportedError } from './errors.js';
import { VALIDATORS, type Validator } from './validate.js';

/** One kernel's implementation over context `Ctx`; its params are already validated. */
export type KernelImpl<Ctx, K extends KernelName> = (ctx: Ctx, p: ParamsOf<K>) => void;

/** A backend's kernels over context `Ctx`: every primitive, and the fused and extension kernels it has. */
export type KernelTable<Ctx> = { readonly [K in PrimitiveKernelName]: KernelImpl<Ctx, K> } & {
  readonly [K in OptionalKernelName]?: KernelImpl<Ctx, K>;
};

/**
 * A table with every primitive and fused kernel (a backend typed `AllKernels` binds one);
 * extension kernels stay optional.
 */
export type FullKernelTable<Ctx> = { readonly [K in PrimitiveKernelName | FusedKernelName]: KernelImpl<Ctx, K> } & {
  readonly [K in ExtensionKernelName]?: KernelImpl<Ctx, K>;
};

/**
 * Work around every kernel call of one backend. `before` runs ahead of validation (WebGPU:
 * throw if the device was destroyed), `after` once the kernel returned (WebGPU: bound the
 * index checks still queued). A hook that throws ends the call with its error.
 */
export interface KernelHooks {
  before?(name: KernelName): void;
  after?(name: KernelName): void;
}

const KNOWN: ReadonlySet<string> = new Set(KERNEL_NAMES);

/**
 * Installs on `target` one method per kernel in `table`: it validates its params with the
 * kernel's shared validator (against `target.name`, the backend that owns valid storage),
 * then calls the table entry with `ctx`. Kernels the table leaves out are not installed,
 * so a fused kernel a backend lacks stays undefined (`fusedKernel` sees that).
 *
 * Throws an UnsupportedError naming the first primitive the table lacks (every backend must
 * supply them), and an ArgumentError naming an entry that is not a kernel, both before
 * anything is installed. The methods are own, non-enumerable, writable properties, so tests
 * can still wrap one; being own properties, they also shadow a subclass's method of the same
 * name: a subclass changes a kernel through the table it binds, not by overriding.
 */
export function bindKernels<Ctx>(target: { readonly name: string }, ctx: Ctx, table: KernelTable<Ctx>, hooks: KernelHooks = {}): void {
  const entries = table as Readonly<Partial<Record<string, unknown>>>;
  const missing = missingPrimitives(entries);
  if (missing.length > 0) {
    const names = missing.map((k) => `'${k}'`).join(', ');
    throw new UnsupportedError(
      `backend '${target.name}': its kernel table has no ${names} kernel${missing.length > 1 ? 's' : ''}, and every backend must supply the primitives (${PRIMITIVE_KERNELS.join(', ')})`,
    );
  }
  for (const k of Object.keys(entries)) {
    if (!KNOWN.has(k)) throw new ArgumentError(`backend '${target.name}': kernel table entry '${k}' is not a kernel (kernels: ${KERNEL_NAMES.join(', ')})`);
    // An entry left undefined is a kernel left out (a fused kernel a table adds conditionally).
    if (entries[k] !== undefined && typeof entries[k] !== 'function') {
      throw new ArgumentError(`backend '${target.name}': kernel table entry '${k}' is a ${typeof entries[k]}, not a function`);
    }
  }
  for (const name of KERNEL_NAMES) {
    const impl = entries[name] as KernelImpl<Ctx, typeof name> | undefined;
    if (!impl) continue;
    Object.defineProperty(target, name, { value: kernelMethod(target, name, VALIDATORS[name] as Validator<typeof name>, impl, ctx, hooks), writable: true, configurable: true, enumerable: false });
  }
}

/**
 * The method of kernel `name`. Without hooks it is validate + call and nothing else: small
 * elementwise calls are dominated by this host-side overhead.
 */
function kernelMethod<Ctx, K extends KernelName>(target: { readonly name: string }, name: K, validate: Validator<K>, impl: KernelImpl<Ctx, K>, ctx: Ctx, hooks: KernelHooks): (p: ParamsOf<K>) => void {
  const { before, after } = hooks;
  if (!before && !after) {
    return (p) => {
      validate(target.name, p);
      impl(ctx, p);
    };
  }
  return (p) => {
    before?.call(hooks, name);
    validate(target.name, p);
    impl(ctx, p);
    after?.call(hooks, name);
  };
}

/** The kernel-named members of `M`. */
type KernelKeys<M> = Extract<keyof M, KernelName>;

/** A | B -> A & B (the members of every family, merged). */
type Merged<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

/**
 * The table entries kernel family modules supply: their exports named like a kernel
 * (`unary`, `softmax`, ...), each `(ctx, params) => void`; other exports (helpers,
 * thresholds) are left out. A backend's `FullKernelTable<Ctx>` / `KernelTable<Ctx>` type then
 * checks that every kernel it needs is there with the right signature:
 *
 *   const KERNELS: FullKernelTable<WasmContext> = { ...kernelsOf(ew, red, norm), matmul };
 *
 * A later family's kernel replaces an earlier one's of the same name.
 */
export function kernelsOf<Ms extends readonly object[]>(...families: Ms): Merged<{ [I in keyof Ms]: Pick<Ms[I], KernelKeys<Ms[I]>> }[number]> {
  const out: Record<string, unknown> = {};
  for (const family of families) {
    for (const k of KERNEL_NAMES) if (k in family) out[k] = (family as Record<string, unknown>)[k];
  }
  return out as Merged<{ [I in keyof Ms]: Pick<Ms[I], KernelKeys<Ms[I]>> }[number]>;
}

/**
 * `kernelsOf(...families)` for families whose kernels take a part of the backend's context:
 * each entry calls the family's kernel on `inner(ctx)` (WebGPU: the GpuContext of a context
 * that also holds the index checks).
 */
export function kernelsVia<Outer, Inner, Ms extends readonly Partial<FullKernelTable<Inner>>[]>(
  inner: (ctx: Outer) => Inner,
  ...families: Ms
): Merged<{ [I in keyof Ms]: { [K in KernelKeys<Ms[I]>]: KernelImpl<Outer, K> } }[number]> {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(kernelsOf(...families) as Record<string, unknown>)) {
    const impl = f as KernelImpl<Inner, KernelName>;
    out[k] = (ctx: Outer, p: ParamsOf<KernelName>) => impl(inner(ctx), p);
  }
  return out as Merged<{ [I in keyof Ms]: { [K in KernelKeys<Ms[I]>]: KernelImpl<Outer, K> } }[number]>;
}
