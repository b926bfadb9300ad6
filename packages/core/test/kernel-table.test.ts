// The kernel table seam: bindKernels installs validate-then-dispatch methods from a table,
// refuses a table without a primitive, and KERNEL_NAMES / FUSED_KERNELS come from the one
// validator table.
import { describe, expect, it, vi } from 'vitest';
import {
  EXTENSION_KERNELS,
  FUSED_KERNELS,
  KERNEL_NAMES,
  PRIMITIVE_KERNELS,
  fusedKernel,
  requireFusedKernel,
  type Backend,
  type KernelName,
  type PrimitiveKernelName,
} from '../src/backend.js';
import { ArgumentError, BoundsError, UnsupportedError } from '../src/errors.js';
import { bindKernels, kernelsOf, kernelsVia, type KernelTable } from '../src/kernel-table.js';
import { ReferenceBackend } from '../src/reference/backend.js';
import { VALIDATORS } from '../src/validate.js';

/** A table of spies for every primitive (no fused kernels), over context `ctx`. */
function spyTable() {
  return Object.fromEntries(PRIMITIVE_KERNELS.map((k) => [k, vi.fn()])) as unknown as { [K in PrimitiveKernelName]: ReturnType<typeof vi.fn> };
}

describe('kernel names', () => {
  it('KERNEL_NAMES are the validator table keys: primitives plus fused and extension kernels, each once', () => {
    expect([...KERNEL_NAMES].sort()).toEqual(Object.keys(VALIDATORS).sort());
    expect(new Set(KERNEL_NAMES).size).toBe(KERNEL_NAMES.length);
    expect([...PRIMITIVE_KERNELS, ...FUSED_KERNELS, ...EXTENSION_KERNELS].sort()).toEqual([...KERNEL_NAMES].sort());
  });
});

describe('bindKernels', () => {
  it('throws an UnsupportedError naming the primitive a table lacks, before installing anything', () => {
    for (const missing of ['gather', 'matmul', 'scatterAdd'] as const) {
      const table: Partial<Record<KernelName, unknown>> = spyTable();
      delete table[missing];
      const target = { name: 'partial' };
      const bind = () => bindKernels(target, null, table as KernelTable<null>);
      expect(bind).toThrow(UnsupportedError);
      expect(bind).toThrow(new RegExp(`no '${missing}' kernel`));
      expect(Object.keys(Object.getOwnPropertyDescriptors(target))).toEqual(['name']);
    }
  });

  it('throws an ArgumentError naming a table entry that is not a kernel, or not a function', () => {
    const extra = { ...spyTable(), matmull: vi.fn() } as unknown as KernelTable<null>;
    expect(() => bindKernels({ name: 'typo' }, null, extra)).toThrow(ArgumentError);
    expect(() => bindKernels({ name: 'typo' }, null, extra)).toThrow(/'matmull' is not a kernel/);
    const notFn = { ...spyTable(), softmax: 3 } as unknown as KernelTable<null>;
    expect(() => bindKernels({ name: 'bad' }, null, notFn)).toThrow(/'softmax' is a number, not a function/);
  });

  it('installs validate-then-dispatch methods for the kernels present only; fused kernels left out stay undefined', () => {
    const ref = new ReferenceBackend();
    const table = spyTable();
    // The target shares the reference backend's storage (same name), so its validators accept it.
    const target = { name: 'reference' } as unknown as Backend;
    const ctx = { tag: 'ctx' };
    bindKernels(target, ctx, table as unknown as KernelTable<typeof ctx>);
    for (const k of PRIMITIVE_KERNELS) expect(typeof target[k], k).toBe('function');
    for (const k of FUSED_KERNELS) expect(target[k], k).toBeUndefined();
    expect(fusedKernel(target, 'softmax')).toBeUndefined();
    expect(() => requireFusedKernel(target, 'softmax', 'softmax()')).toThrow(UnsupportedError);

    const x = ref.alloc(16);
    const out = ref.alloc(16);
    const p = { op: 'neg' as const, x: { storage: x, offset: 0, strides: [1] }, out: { storage: out, offset: 0 }, shape: [4] };
    target.unary(p);
    expect(table.unary).toHaveBeenCalledTimes(1);
    expect(table.unary).toHaveBeenCalledWith(ctx, p);
    // A bad operand is refused by the shared validator; the entry never runs.
    expect(() => target.unary({ ...p, shape: [5] })).toThrow(BoundsError);
    expect(() => target.unary({ ...p, op: 'nope' as 'neg' })).toThrow(/unknown unary op 'nope'/);
    expect(table.unary).toHaveBeenCalledTimes(1);
  });

  it('runs the hooks around each call: before ahead of validation, after once the kernel returned', () => {
    const ref = new ReferenceBackend();
    const calls: string[] = [];
    const table = spyTable();
    table.fill.mockImplementation(() => calls.push('kernel'));
    const target = { name: 'reference' } as unknown as Backend;
    bindKernels(target, null, table as unknown as KernelTable<null>, {
      before: (name) => calls.push(`before ${name}`),
      after: (name) => calls.push(`after ${name}`),
    });
    const out = ref.alloc(16);
    target.fill({ out: { storage: out, offset: 0 }, n: 4, value: 1, dtype: 'f32' });
    expect(calls).toEqual(['before fill', 'kernel', 'after fill']);
    calls.length = 0;
    expect(() => target.fill({ out: { storage: out, offset: 0 }, n: 5, value: 1, dtype: 'f32' })).toThrow(BoundsError);
    expect(calls).toEqual(['before fill']);
  });
});

describe('kernelsOf / kernelsVia', () => {
  it('take a family module\'s kernel-named exports only, and kernelsVia calls them on a part of the context', () => {
    const family = { unary: vi.fn(), softmax: vi.fn(), rowParts: () => 0, EW_PARALLEL_MIN: 65536 };
    const other = { fill: vi.fn(), prepackB: () => 0 };
    expect(Object.keys(kernelsOf(family, other)).sort()).toEqual(['fill', 'softmax', 'unary']);
    const via = kernelsVia((outer: { inner: string }) => outer.inner, family);
    expect(Object.keys(via).sort()).toEqual(['softmax', 'unary']);
    const p = { rows: 1, cols: 1 } as never;
    via.softmax({ inner: 'gpu' }, p);
    expect(family.softmax).toHaveBeenCalledWith('gpu', p);
  });
});
