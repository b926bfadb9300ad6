/**
 * The all-reduce result written as a plain loop: the definition
 * `ProcessGroup.allReduce` must reproduce bit for bit on every rank.
 */

import { DistributedConfigError } from './errors.js';
import { roundThroughWire, type WireDType } from './wire.js';
import type { ReduceOp } from './group.js';

/**
 * inputs[r] is rank r's buffer. Element i of the result:
 *   s = w(x_0[i]) + w(x_1[i]) + ... + w(x_{N-1}[i])   (f32 additions, left to right)
 *   sum: w(s); mean: w(f32(s / N)), with w = rounding through the wire dtype.
 */
export function referenceAllReduce(inputs: readonly Float32Array[], op: ReduceOp = 'sum', wireDType: WireDType = 'f32'): Float32Array {
  if (inputs.length === 0) throw new DistributedConfigError('referenceAllReduce: needs at least one input');
  const n = inputs[0].length;
  inputs.forEach((x, r) => {
    if (x.length !== n) throw new DistributedConfigError(`referenceAllReduce: input ${r} has ${x.length} elements, input 0 has ${n}`);
  });
  const acc = new Float32Array(n);
  inputs.forEach((x, r) => {
    const v = x.slice();
    roundThroughWire(v, wireDType);
    if (r === 0) acc.set(v);
    else for (let i = 0; i < n; i++) acc[i] += v[i];
  });
  if (op === 'mean') for (let i = 0; i < n; i++) acc[i] /= inputs.length;
  roundThroughWire(acc, wireDType);
  return acc;
}
