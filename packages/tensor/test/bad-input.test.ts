/**
 * Bad inputs to creation ops: absurd sizes are an OutOfMemoryError naming the
 * op and shape (never a RangeError from a host typed array), and parameters
 * outside their domain are an ArgumentError naming the value.
 */
import { ArgumentError, OutOfMemoryError } from '@tessera/core';
import { beforeEach, describe, expect, it } from 'vitest';
import { arange, full, memory, randn, setBackend, zeros } from '../src/index.js';

for (const name of ['reference', 'wasm'] as const) {
  describe(`${name}: creation ops`, () => {
    beforeEach(async () => {
      await setBackend(name);
    });

    it('refuse sizes past the backend limit with the OutOfMemoryError zeros gives, before building host arrays', () => {
      const before = memory();
      expect(() => arange(0, 1e12)).toThrow(OutOfMemoryError);
      expect(() => arange(0, 1e12)).toThrow(/arange: a f32 tensor of shape \[1000000000000\] needs 4000000000000 bytes/);
      expect(() => arange(0, 2 ** 31 - 1, 1, 'i32')).toThrow(/arange: a i32 tensor of shape \[2147483647\] needs 8589934588 bytes/);
      expect(() => zeros([1e12])).toThrow(OutOfMemoryError);
      expect(() => full([2 ** 20, 2 ** 20], 1)).toThrow(/shape \[1048576, 1048576\] needs 4398046511104 bytes/);
      expect(() => randn([1e6, 1e6])).toThrow(/randn: a f32 tensor of shape \[1000000, 1000000\]/);
      expect(memory()).toEqual(before);
    });

    it('memory() states the backend\'s largest allocation', () => {
      expect(memory().maxBytes).toBe(2 ** 32);
    });

    it('arange fills in chunks: values past one chunk are exact', () => {
      const t = arange(0, 70_000, 1, 'i32');
      const d = t.dataSync();
      expect(d.length).toBe(70_000);
      expect(d[65_535]).toBe(65_535);
      expect(d[65_536]).toBe(65_536);
      expect(d[69_999]).toBe(69_999);
      t.dispose();
      const f = arange(1, 2, 0.25);
      expect(Array.from(f.dataSync())).toEqual([1, 1.25, 1.5, 1.75]);
      f.dispose();
      expect(() => arange(0, 1, 0.5, 'i32')).toThrow(ArgumentError);
      expect(() => arange(0, 5e9, 2e9, 'i32')).toThrow(/not 32-bit integers/);
    });

    it('randn refuses a negative, NaN or infinite std and a non-finite mean', () => {
      expect(() => randn([2], { std: -1 })).toThrow(new ArgumentError('randn: std must be a finite number >= 0, got -1'));
      expect(() => randn([2], { std: Number.NaN })).toThrow(/got NaN/);
      expect(() => randn([2], { std: Infinity })).toThrow(/got Infinity/);
      expect(() => randn([2], { mean: Number.NaN })).toThrow(/mean must be a finite number, got NaN/);
      const z = randn([3], { std: 0, mean: 2, seed: 1 });
      expect(Array.from(z.dataSync())).toEqual([2, 2, 2]);
      z.dispose();
    });
  });
}
