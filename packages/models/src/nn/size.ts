/**
 * Up-front size checks: a model whose parameters cannot fit the backend is refused before any
 * module is built, with a ConfigError naming the config key that makes it that large. Building
 * first would spend minutes constructing modules (or loop for 2^40 layers) and then fail with an
 * allocator message that names no key.
 */

import { memory } from '@tessera/tensor';
import { ConfigError } from './errors.js';

/**
 * Throws a ConfigError when `count(sizes)` f32 parameters need more than `maxBytes` (default: the
 * active backend's largest allocation, `memory().maxBytes`). The key named is the one whose
 * `typical` value shrinks the count most, i.e. the key that makes the model too large.
 * @param what the class or function named in the message, e.g. `TransformerEncoderClassifier`.
 */
export function checkParameterBudget<K extends string>(
  what: string,
  sizes: Readonly<Record<K, number>>,
  count: (sizes: Readonly<Record<K, number>>) => number,
  typical: Readonly<Record<K, number>>,
  maxBytes: number = memory().maxBytes,
): void {
  const params = count(sizes);
  const bytes = params * 4;
  if (!(bytes > maxBytes)) return;
  let key = Object.keys(sizes)[0] as K;
  let best = Infinity;
  for (const k of Object.keys(sizes) as K[]) {
    const smaller = count({ ...sizes, [k]: Math.min(sizes[k], typical[k]) });
    if (smaller < best) {
      best = smaller;
      key = k;
    }
  }
  const all = (Object.keys(sizes) as K[]).map((k) => `${k} ${sizes[k]}`).join(', ');
  throw new ConfigError(
    `${what}: ${key} = ${sizes[key]} makes the model too large: ${params} parameters need ${bytes} bytes as f32, past the backend's ${maxBytes}-byte limit (${all})`,
  );
}

/** Parameters of one TransformerBlock: attention (4 projections with bias), feed-forward, two LayerNorms. */
export function transformerBlockParameters(dModel: number, dFF: number): number {
  return 4 * dModel * dModel + 4 * dModel + 2 * dModel * dFF + dFF + dModel + 4 * dModel;
}
