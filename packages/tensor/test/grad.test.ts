/**
 * Gradient checks: every differentiable op's analytic gradient (autograd on
 * the float64 reference backend) against central finite differences,
 * eps 1e-6, |analytic - numeric| <= 1e-7 + 1e-6 * |numeric|.
 */
import { describe, it } from 'vitest';
import { cases } from './cases.js';
import { gradCheck } from './helpers.js';

describe('gradients match float64 finite differences', () => {
  for (const c of cases.filter((c) => c.grad !== false)) {
    it(c.name, async () => {
      await gradCheck(c.fn, c.inputs, { wrt: c.wrt });
    });
  }
});
