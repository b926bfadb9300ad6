// fmtValue prints values in error messages faithfully: what JSON.stringify turns into null or drops.
import { describe, expect, it } from 'vitest';
import { fmtValue } from '../src/index.js';

describe('fmtValue', () => {
  it('equals JSON.stringify on plain JSON values', () => {
    for (const v of [0, 1.5, -3, 1e308, 'a"b', true, null, [1, [2, 'x']], { a: 1, b: [true, null] }]) expect(fmtValue(v)).toBe(JSON.stringify(v));
  });

  it('prints NaN, the infinities, -0, undefined and bigints as themselves, not null', () => {
    expect(fmtValue(Number.NaN)).toBe('NaN');
    expect(fmtValue([1, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])).toBe('[1,Infinity,-Infinity]');
    expect(fmtValue(-0)).toBe('-0');
    expect(fmtValue({ a: undefined, b: Number.NaN })).toBe('{"a":undefined,"b":NaN}');
    expect(fmtValue(12n)).toBe('12n');
    expect(fmtValue(Float32Array.of(Number.NaN, 2))).toBe('[NaN,2]');
    expect(fmtValue(new Map([['k', Number.NaN]]))).toBe('{"k":NaN}');
  });

  it('is bounded on long and deep values', () => {
    expect(fmtValue(Array.from({ length: 1000 }, (_, i) => i))).toMatch(/^\[0,1,.*,15,\.\.\. \(1000 in all\)\]$/);
    expect(fmtValue([[[[[1]]]]])).toBe('[[[[...]]]]');
  });
});
