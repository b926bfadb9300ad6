/** Weight penalties: values and gradients by hand. */

import { beforeAll, describe, expect, it } from 'vitest';
import { ArgumentError } from '@tessera/core';
import { l1Penalty, l2Penalty } from '../src/index.js';
import { BACKENDS, backendAvailable, param, useBackend, values } from './helpers.js';

for (const backend of BACKENDS)
  describe.skipIf(!backendAvailable(backend))(`l1Penalty / l2Penalty (${backend} backend)`, () => {
    beforeAll(() => useBackend(backend));

    const make = () => [param(new Float32Array([1, -2, 3]), [3]), param(new Float32Array([-0.5]), [1, 1])];

    it('l1Penalty = coefficient * sum |p|, gradient coefficient * sign(p)', () => {
      const ps = make();
      const pen = l1Penalty(ps);
      expect(pen.shape).toEqual([]);
      expect(pen.itemSync()).toBe(6.5);
      pen.backward();
      expect(Array.from(values(ps[0].grad!))).toEqual([1, -1, 1]);
      expect(Array.from(values(ps[1].grad!))).toEqual([-1]);
      const qs = make();
      const scaled = l1Penalty(qs, 0.5);
      expect(scaled.itemSync()).toBe(3.25);
      scaled.backward();
      expect(Array.from(values(qs[0].grad!))).toEqual([0.5, -0.5, 0.5]);
    });

    it('l2Penalty = coefficient * sum p^2, gradient 2 * coefficient * p; composes with a loss', () => {
      const ps = make();
      const pen = l2Penalty(ps, 0.25);
      expect(pen.itemSync()).toBe(0.25 * 14.25);
      const loss = ps[0].sum().add(pen);
      loss.backward();
      expect(Array.from(values(ps[0].grad!))).toEqual([1.5, 0, 2.5]);
      expect(Array.from(values(ps[1].grad!))).toEqual([-0.25]);
      expect(l2Penalty(ps[1]).itemSync()).toBe(0.25);
    });

    it('rejects no parameters, non-tensors and a non-finite coefficient', () => {
      expect(() => l1Penalty([])).toThrow(ArgumentError);
      expect(() => l2Penalty([])).toThrow(/l2Penalty: got no parameters/);
      expect(() => l1Penalty([make()[0], 'w'] as never)).toThrow(/params\[1\] is not a Tensor/);
      expect(() => l2Penalty(make(), NaN)).toThrow(/coefficient must be a finite number, got NaN/);
    });
  });
