/**
 * Sparsity reports and the masks of unstructured pruning. The mask of a pruned weight is its
 * exact zeros: magnitude pruning writes zeros, an optimizer given the masks (`restoreMasks`)
 * keeps them zero, and a saved model is an ordinary checkpoint whose zeros are re-read as the
 * mask when it is loaded to train again. No mask file exists to lose or to disagree with the weights.
 */

import { noGrad, tensor, tidy, type Tensor } from '@tessera/tensor';
import type { Module } from '../nn/module.js';
import { countZeros } from './magnitude.js';
import { flatOf, hostValues, prunableWeights } from './targets.js';

/** Zeros in one weight (or in all of them). */
export interface SparsityEntry {
  /** The weight's dotted name (e.g. `transformer.h.0.mlp.c_fc.weight`). */
  name: string;
  zeros: number;
  size: number;
  /** zeros / size (0 for an empty weight). */
  fraction: number;
}

/** What `sparsity` reports. */
export interface SparsityReport {
  /** One entry per prunable weight (Linear / Conv1D weight), in module order. */
  layers: SparsityEntry[];
  /** Over every prunable weight together. */
  overall: { zeros: number; size: number; fraction: number };
  /** Over every parameter (biases, LayerNorms and embeddings included). */
  parameters: { zeros: number; size: number; fraction: number };
}

const ratio = (zeros: number, size: number): number => (size === 0 ? 0 : zeros / size);

/**
 * The fraction of exact zeros of each prunable weight (every Linear and Conv1D weight), of all of
 * them together, and of every parameter. Reads the parameters once.
 * @example const { overall, layers } = await sparsity(model); console.log(overall.fraction)
 */
export async function sparsity(model: Module): Promise<SparsityReport> {
  const named = model.namedParameters();
  const host = await hostValues(model, named);
  const layers = prunableWeights(model).map(({ name }) => {
    const data = host.get(name)!;
    const zeros = countZeros(data);
    return { name, zeros, size: data.length, fraction: ratio(zeros, data.length) };
  });
  const sum = (entries: { zeros: number; size: number }[]): { zeros: number; size: number; fraction: number } => {
    const zeros = entries.reduce((s, e) => s + e.zeros, 0);
    const size = entries.reduce((s, e) => s + e.size, 0);
    return { zeros, size, fraction: ratio(zeros, size) };
  };
  const all = named.map(([name]) => {
    const data = host.get(name)!;
    return { zeros: countZeros(data), size: data.length };
  });
  return { layers, overall: sum(layers), parameters: sum(all) };
}

/**
 * An optimizer that honours masks: `@tessera/optim`'s optimizers (`setMask`). Written
 * structurally so this package does not import the optimizers.
 */
export interface MaskableOptimizer {
  readonly paramGroups: readonly { readonly params: readonly Tensor[] }[];
  /** Keeps `param` zero wherever `mask` is 0 after every step (the optimizer copies the mask; null removes it). */
  setMask(param: Tensor, mask: Tensor | null): void;
}

/**
 * Gives `optimizer` the masks of `model`'s pruned weights, so training keeps them pruned: every
 * prunable weight (Linear / Conv1D weight) that holds exact zeros is masked at those zeros. An
 * optimizer parameter may be a weight itself or a region of the model's parameter block
 * (`model.flat.groups(wd)`, `model.flat.all`); a region's mask is 1 everywhere except at the
 * zeros of the pruned weights inside it. Call it after pruning, and after loading a pruned model
 * to fine-tune it. Returns the names of the masked weights (empty for a dense model).
 * @example const opt = new AdamW(model.flat.groups(0.1), { lr: 1e-4 }); await restoreMasks(model, opt);
 */
export async function restoreMasks(model: Module, optimizer: MaskableOptimizer): Promise<string[]> {
  const targets = prunableWeights(model);
  const host = await hostValues(model, targets.map(({ name, weight }) => [name, weight]));
  const pruned = targets.filter(({ name }) => countZeros(host.get(name)!) > 0);
  if (pruned.length === 0) return [];
  const flat = flatOf(model);
  const masked = new Set<string>();
  for (const group of optimizer.paramGroups) {
    for (const p of group.params) {
      const start = flat?.offsetOf(p);
      // The pruned weights this optimizer parameter covers, with their offsets in it.
      const inside = pruned
        .map((t) => ({ ...t, at: t.weight === p ? 0 : start === undefined ? -1 : flat!.offsetOf(t.weight)! - start }))
        .filter(({ weight, at }) => weight === p || (at >= 0 && at + weight.size <= p.size && flat!.offsetOf(weight) !== undefined));
      if (inside.length === 0) continue;
      const mask = new Float32Array(p.size).fill(1);
      for (const { name, at } of inside) {
        const values = host.get(name)!;
        for (let i = 0; i < values.length; i++) if (values[i] === 0) mask[at + i] = 0;
        masked.add(name);
      }
      noGrad(() => tidy(() => optimizer.setMask(p, tensor(mask, p.shape))));
    }
  }
  return [...masked];
}
