/** Label-set helpers shared by the classification metrics (internal). */

import { MetricsError } from '../errors.js';
import { toArray, requireIntegers, type ArrayInput } from '../input.js';

/** Sorted distinct values of all the given arrays (like scikit-learn's `unique_labels`). */
export function uniqueLabels(...arrays: ArrayLike<number>[]): number[] {
  const set = new Set<number>();
  for (const a of arrays) for (let i = 0; i < a.length; i++) set.add(a[i]);
  return [...set].sort((p, q) => p - q);
}

/** Validates an explicit `labels` option: non-empty, integers, no duplicates. */
export function explicitLabels(labels: ArrayInput, name = 'labels'): number[] {
  const arr = toArray(labels, name);
  if (arr.length === 0) throw new MetricsError(`${name} is empty; give at least one label`);
  requireIntegers(arr, name);
  const seen = new Set<number>();
  for (let i = 0; i < arr.length; i++) {
    if (seen.has(arr[i])) throw new MetricsError(`${name}[${i}] = ${arr[i]} is a duplicate label`);
    seen.add(arr[i]);
  }
  return [...arr];
}

/** Map from label value to its position in `labels`. */
export function labelIndex(labels: readonly number[]): Map<number, number> {
  const m = new Map<number, number>();
  labels.forEach((l, i) => m.set(l, i));
  return m;
}

/** Formats a label list as `{0, 1, 2}` for messages. */
export function fmtLabels(labels: readonly number[]): string {
  return `{${labels.join(', ')}}`;
}
