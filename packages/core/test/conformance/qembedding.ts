// qembedding conformance: the device under test against the reference, bit for bit (each
// value is one correctly rounded f32 multiply, fround(q * scale)), and against the host's
// dequantizeMatrix rows, for int8 and int4 at every group size dividing k; tables whose k
// misses the 16-value step's multiples of 64 (k = 32, 96, 160), repeated, first and last
// row indices, element offsets on every operand and sentinels around the output. Bad
// indices throw an IndexError naming the first (at the next read on WebGPU) and leave the
// output unwritten; bad shapes and formats are typed errors before anything runs.
import { expect, it } from 'vitest';
import type { Backend } from '../../src/backend.js';
import { dequantizeMatrix, quantizeMatrix, type QuantBits, type QuantGroupSize } from '../../src/quant.js';
import { randF32, rng } from '../checks.js';
import type { Twin } from './twin.js';

/** Tables [n, k] and row counts of the suite. */
const SHAPES: readonly (readonly [number, number, number])[] = [
  [1, 32, 1],
  [5, 96, 7],
  [9, 160, 3],
  [33, 128, 65],
  [4, 384, 2],
  [3, 64, 0],
];

const PAD = 5;
const SENTINEL = 1234.5;

async function checkCase(t: Twin, n: number, k: number, count: number, bits: QuantBits, groupSize: QuantGroupSize, seed: number): Promise<void> {
  const r = rng(seed);
  const w = randF32(r, n * k).map((v, i) => v * (0.25 + ((i >> 5) % 7)));
  const qm = quantizeMatrix(w, n, k, { bits, groupSize });
  const wd = dequantizeMatrix(qm);
  // First and last rows, then random ones (repeats included).
  const idx = Int32Array.from({ length: count }, (_, c) => (c === 0 ? 0 : c === 1 ? n - 1 : Math.floor(r() * n)));
  const Q = t.upload(qm.q, 2);
  const S = t.upload(qm.scales, 3);
  const I = t.upload(idx, 1);
  const O = t.upload(new Float32Array(count * k).fill(SENTINEL), 4, PAD);
  t.run((be, side) => be.qembedding!({ q: t.d(Q, side), scales: t.d(S, side), indices: t.d(I, side), out: t.d(O, side), count, n, k, bits, groupSize }));
  const { ref, dev } = await t.readAll(O, 'f32');
  const what = `int${bits} g${groupSize} table [${n}, ${k}] count ${count}`;
  for (let c = 0; c < count; c++) {
    for (let l = 0; l < k; l++) {
      const at = 4 + c * k + l;
      const want = wd[idx[c] * k + l];
      if (!Object.is(dev[at], want) || !Object.is(ref[at], want)) expect.fail(`${what}: out[${c}, ${l}] (row ${idx[c]}) = ${dev[at]}, reference ${ref[at]}, dequantizeMatrix ${want}`);
    }
  }
  for (const side of [ref, dev]) {
    for (const at of [0, 1, 2, 3, 4 + count * k, 4 + count * k + PAD - 1]) expect(side[at], `${what}: sentinel at ${at}`).toBe(-777.5);
  }
  t.free(Q, S, I, O);
}

/** The qembedding tests every backend with the kernel runs. */
export function qembeddingConformance(twin: () => Twin): void {
  it('gathers the dequantized rows bit for bit (int8, int4; every group size; odd shapes, offsets, repeated indices)', async () => {
    let seed = 100;
    for (const [n, k, count] of SHAPES) {
      for (const bits of [8, 4] as const) {
        for (const groupSize of [32, 64, 128] as const) if (k % groupSize === 0) await checkCase(twin(), n, k, count, bits, groupSize, seed++);
      }
    }
  });

  it('an out-of-range index is an IndexError naming it and its position; nothing is written', async () => {
    const t = twin();
    const { IndexError } = t.errors;
    const qm = quantizeMatrix(new Float32Array(4 * 32).fill(1), 4, 32, { bits: 8, groupSize: 32 });
    const Q = t.upload(qm.q, 0, 0);
    const S = t.upload(qm.scales, 0, 0);
    for (const bad of [4, -1]) {
      const I = t.upload(Int32Array.from([1, bad, 2]), 0, 0);
      const O = t.upload(new Float32Array(3 * 32).fill(SENTINEL), 0, 0);
      const call = (be: Backend, side: 'ref' | 'dev') => be.qembedding!({ q: t.d(Q, side), scales: t.d(S, side), indices: t.d(I, side), out: t.d(O, side), count: 3, n: 4, k: 32, bits: 8, groupSize: 32 });
      const message = new RegExp(`qembedding: index ${bad} at position 1 is out of range \\[0, 4\\)`);
      expect(() => call(t.ref, 'ref')).toThrow(IndexError);
      // wasm checks on the host before running; WebGPU queues the check and rejects the next read.
      let thrown: unknown = null;
      try {
        call(t.dev, 'dev');
      } catch (e) {
        thrown = e;
      }
      if (thrown) {
        expect(thrown).toBeInstanceOf(IndexError);
        expect(String(thrown)).toMatch(message);
      } else {
        await expect(t.readDev(O.dev, 'f32')).rejects.toThrow(message);
      }
      expect(Array.from(await t.readDev(O.dev, 'f32'))).toEqual(new Array(3 * 32).fill(SENTINEL));
      t.free(I, O);
    }
    t.free(Q, S);
  });

  it('throws typed errors naming the bad value before touching memory', () => {
    const t = twin();
    const { ArgumentError, BoundsError, ShapeError } = t.errors;
    const Q = t.upload(new Int32Array((3 * 64) / 4), 0, 0);
    const S = t.upload(new Float32Array(3 * 2), 0, 0);
    const I = t.upload(Int32Array.from([0, 2]), 0, 0);
    const O = t.upload(new Float32Array(2 * 64), 0, 0);
    const Big = t.upload(new Float32Array(256), 0, 0);
    for (const side of ['ref', 'dev'] as const) {
      const be = side === 'ref' ? t.ref : t.dev;
      const call = (over: Record<string, unknown>) => () =>
        be.qembedding!({ q: t.d(Q, side), scales: t.d(S, side), indices: t.d(I, side), out: t.d(O, side), count: 2, n: 3, k: 64, bits: 8, groupSize: 32, ...over } as Parameters<NonNullable<Backend['qembedding']>>[0]);
      expect(call({})).not.toThrow();
      expect(call({ bits: 2 })).toThrow(/qembedding \(table \[3, 64\]\): bits must be 8 or 4, got 2/);
      expect(call({ groupSize: 128 })).toThrow(ShapeError);
      expect(call({ n: 4 })).toThrow(BoundsError);
      expect(call({ n: 4 })).toThrow(/qembedding q \(int8 \[4, 64\]\)/);
      expect(call({ count: 3 })).toThrow(/qembedding indices \[3\]/);
      expect(call({ q: t.d(Big, side), out: t.d(Big, side, 16) })).toThrow(ArgumentError);
      expect(call({ q: t.d(Big, side), out: t.d(Big, side, 16) })).toThrow(/qembedding: output \[16, 144\) overlaps input \[0, 48\)/);
    }
    t.free(Q, S, I, O, Big);
  });
}
