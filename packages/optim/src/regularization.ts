/**
 * Weight penalties to add to a loss. Both return a differentiable scalar
 * tensor, so `loss.add(penalty).backward()` sends their gradients to the
 * parameters.
 */

import { ArgumentError } from '@tessera/core';
import { Tensor, tidy } from '@tessera/tensor';

function penalty(op: string, params: Tensor | Iterable<Tensor>, coefficient: number, term: (p: Tensor) => Tensor): Tensor {
  if (typeof coefficient !== 'number' || !Number.isFinite(coefficient)) {
    throw new ArgumentError(`${op}: coefficient must be a finite number, got ${coefficient}`);
  }
  const list = params instanceof Tensor ? [params] : params !== null && typeof params === 'object' && Symbol.iterator in params ? [...params] : [];
  if (list.length === 0) throw new ArgumentError(`${op}: got no parameters`);
  list.forEach((p, i) => {
    if (!(p instanceof Tensor)) throw new ArgumentError(`${op}: params[${i}] is not a Tensor (got ${String(p)})`);
  });
  return tidy(() => {
    let total = term(list[0]);
    for (let i = 1; i < list.length; i++) total = total.add(term(list[i]));
    return coefficient === 1 ? total : total.mul(coefficient);
  });
}

/**
 * coefficient * sum over params of sum(|p|): an L1 (lasso) penalty. Its
 * gradient is coefficient * sign(p).
 * @example const loss = mse.add(l1Penalty(model.parameters(), 1e-5));
 */
export function l1Penalty(params: Tensor | Iterable<Tensor>, coefficient = 1): Tensor {
  return penalty('l1Penalty', params, coefficient, (p) => p.abs().sum());
}

/**
 * coefficient * sum over params of sum(p^2): an L2 (ridge) penalty. Its
 * gradient is 2 * coefficient * p (so coefficient = wd / 2 matches SGD's weightDecay = wd).
 * @example const loss = mse.add(l2Penalty(model.parameters(), 5e-4));
 */
export function l2Penalty(params: Tensor | Iterable<Tensor>, coefficient = 1): Tensor {
  return penalty('l2Penalty', params, coefficient, (p) => p.square().sum());
}
