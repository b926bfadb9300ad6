/** EarlyStopping: patience, minDelta, modes, best-weight snapshots and errors. */

import { beforeAll, describe, expect, it } from 'vitest';
import { ArgumentError, ShapeError } from '@tessera/core';
import { noGrad } from '@tessera/tensor';
import { EarlyStopping } from '../src/index.js';
import { liveTensors, param, useBackend, values } from './helpers.js';

beforeAll(() => useBackend('wasm'));

/** The step (0-based) at which `es` says stop, or -1. */
function stopAt(es: EarlyStopping, metrics: number[]): number {
  return metrics.findIndex((m) => es.step(m));
}

describe('EarlyStopping', () => {
  it('stops after `patience` steps in a row without improvement (min mode)', () => {
    const es = new EarlyStopping({ patience: 2 });
    expect(stopAt(es, [1.0, 0.9, 0.95, 0.92, 0.8])).toBe(3);
    expect(es.best).toBe(0.9);
    expect(es.bestStep).toBe(1);
    expect(es.wait).toBe(2);
    expect(es.stopped).toBe(true);
  });

  it('an improvement resets the count', () => {
    const es = new EarlyStopping({ patience: 2 });
    expect(stopAt(es, [1.0, 1.1, 0.9, 1.0, 0.8, 0.85, 0.81, 0.7])).toBe(6);
    expect(es.best).toBe(0.8);
  });

  it('minDelta: a change no larger than minDelta is not an improvement', () => {
    const es = new EarlyStopping({ patience: 2, minDelta: 0.05 });
    expect(stopAt(es, [1.0, 0.96, 0.94, 0.9, 0.91])).toBe(4);
    expect(es.best).toBe(0.94);
    const exact = new EarlyStopping({ patience: 1, minDelta: 0.5 });
    expect(stopAt(exact, [2, 1.5])).toBe(1); // exactly minDelta better: not enough
  });

  it('max mode, patience 0, and NaN metrics', () => {
    const acc = new EarlyStopping({ mode: 'max', patience: 1 });
    expect(stopAt(acc, [0.5, 0.6, 0.6])).toBe(2);
    expect(acc.best).toBe(0.6);
    const eager = new EarlyStopping({ patience: 0 });
    expect(stopAt(eager, [3, 2, 1, 1.5])).toBe(3);
    const nan = new EarlyStopping({ patience: 2 });
    expect(stopAt(nan, [NaN, 1, NaN, NaN])).toBe(3);
    expect(nan.best).toBe(1);
  });

  it('restoreBestWeights snapshots on improvement and restores when it stops', () => {
    const before = liveTensors();
    const w = param(new Float32Array([1, 2, 3]), [3]);
    const b = param(new Float32Array([0.5]), [1]);
    const es = new EarlyStopping({ patience: 2, restoreBestWeights: true });
    const set = (x: number): void => noGrad(() => void w.fill_(x));
    expect(es.step(0.9, [w, b])).toBe(false);
    set(7);
    expect(es.step(0.5, [w, b])).toBe(false); // best: w = 7
    set(8);
    expect(es.step(0.6, [w, b])).toBe(false);
    set(9);
    noGrad(() => void b.fill_(-1));
    expect(es.step(0.7, [w, b])).toBe(true);
    expect(Array.from(values(w))).toEqual([7, 7, 7]);
    expect(Array.from(values(b))).toEqual([0.5]);
    set(0);
    es.restore([w, b]);
    expect(Array.from(values(w))).toEqual([7, 7, 7]);
    expect(es.hasSnapshot).toBe(true);
    es.dispose();
    expect(es.hasSnapshot).toBe(false);
    w.dispose();
    b.dispose();
    expect(liveTensors()).toBe(before);
  });

  it('errors: bad options, missing params, nothing to restore, mismatched restore', () => {
    expect(() => new EarlyStopping({ patience: -1 })).toThrow(/patience must be an integer >= 0, got -1/);
    expect(() => new EarlyStopping({ patience: 1.5 })).toThrow(ArgumentError);
    expect(() => new EarlyStopping({ minDelta: -0.1 })).toThrow(/minDelta must be a finite number >= 0, got -0.1/);
    expect(() => new EarlyStopping({ mode: 'avg' as never })).toThrow(/mode must be 'min' or 'max', got 'avg'/);
    const es = new EarlyStopping({ restoreBestWeights: true });
    expect(() => es.step(1)).toThrow(/restoreBestWeights is on, so pass the parameters/);
    expect(() => es.step('1' as never, [])).toThrow(/metric must be a number, got 1/);
    const w = param(new Float32Array(3), [3]);
    expect(() => es.restore([w])).toThrow(/there is no snapshot/);
    es.step(1, [w]);
    expect(() => es.restore([w, w])).toThrow(/got 2 parameters, the snapshot holds 1/);
    expect(() => es.restore([param(new Float32Array(3), [3, 1])])).toThrow(ShapeError);
    expect(() => es.restore([param(new Float32Array(3), [3, 1])])).toThrow(/parameter 0 has shape \[3, 1\], its snapshot \[3\]/);
    es.dispose();
  });
});
