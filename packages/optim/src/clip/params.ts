import { ArgumentError, DisposedError, fmtShape } from '@tessera/core';
import { Tensor } from '@tessera/tensor';

/** The gradients of `params` (one tensor or an iterable), skipping parameters without one. */
export function gradsOf(op: string, params: Tensor | Iterable<Tensor>): Tensor[] {
  const list = params instanceof Tensor ? [params] : params !== null && typeof params === 'object' && Symbol.iterator in params ? [...params] : null;
  if (list === null) throw new ArgumentError(`${op}: params must be a Tensor or an iterable of tensors, got ${String(params)}`);
  const grads: Tensor[] = [];
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new ArgumentError(`${op}: params[${i}] is not a Tensor (got ${String(p)})`);
    if (p.isDisposed) throw new DisposedError(`${op}: params[${i}] of shape ${fmtShape(p.shape)} was disposed`);
    if (p.grad) grads.push(p.grad);
  });
  return grads;
}
