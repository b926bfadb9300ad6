// matmul of the wasm backend (both builds) against the float64 reference: the shared
// conformance suite (conformance/matmul.ts, which gives the tolerance) and the wasm kernel's
// own paths: in-place / dot-row / packed thresholds, dot-form tiles, cache blocks, prepacked
// B panels and operand validation.
import { lcg } from '@tessera/testing';
import { expect, it } from 'vitest';
import type { MatmulParams } from '../src/backend.js';
import { ArgumentError, BoundsError, DisposedError } from '../src/errors.js';
import { createWasmBackend } from '../src/wasm/backend.js';
import { checkMatmul, describeMatmulCase, matmulConformance, type MatmulCase } from './conformance/matmul.js';
import { describeBuilds } from './helpers.js';
// The k the generator specialises tiles for: each one is tested below, so a new one cannot go untested.
import { DOT_FIXED_K } from '../scripts/gen-dot-kernels.mjs';

function randomArray(n: number, rand: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rand() * 2 - 1;
  return a;
}

describeBuilds('matmul', (twin, build) => {
  matmulConformance(twin);

  it('takes the in-place, dot-row and packed paths on either side of their thresholds', async () => {
    const t = twin();
    const be = t.dev;
    // matmul_pack_a_bytes > 0 exactly when the kernel packs (see packs() in assembly/matmul.ts).
    const packs = (c: MatmulCase) =>
      be.ctx.exports.matmul_pack_a_bytes(c.m, c.n, c.k, (c.transA ? 1 : 0) | (c.transB ? 2 : 0), 1, c.m * c.k, c.k * c.n) > 0;
    const cases: [MatmulCase, boolean][] = [
      [{ m: 17, n: 128, k: 128 }, false], // in place: B has 16384 elements, 128 columns
      [{ m: 18, n: 129, k: 17, transA: true }, true], // packed: B wider than 128 columns
      [{ m: 19, n: 64, k: 257 }, true], // packed: B over 16384 elements
      [{ m: 16, n: 300, k: 70, transA: true }, false], // in place: few rows
      [{ m: 4, n: 77, k: 33, transB: true }, false], // dot-form tiles: few rows of A
      [{ m: 5, n: 77, k: 33, transB: true }, true], // packed: k too short for dot tiles
      [{ m: 5, n: 77, k: 255, transB: true }, true],
      [{ m: 5, n: 77, k: 256, transB: true }, false], // dot-form tiles: m <= 64, k >= 256
      [{ m: 64, n: 9, k: 259, transB: true }, false],
      [{ m: 65, n: 9, k: 259, transB: true }, true], // packed: more than 64 rows of A
      [{ m: 3, n: 77, k: 33, transA: true, transB: true }, true],
    ];
    let seed = 400;
    for (const [c, packed] of cases) {
      expect(packs(c), describeMatmulCase(c)).toBe(packed);
      await checkMatmul(t, c, seed++);
      await checkMatmul(t, { ...c, accumulate: true }, seed++);
    }
  });

  it('dot-form tiles (transB, m <= 64, k >= 256): odd rows of A, n % 4 columns, k % 4 tails', async () => {
    const t = twin();
    let seed = 500;
    for (const m of [2, 3, 17, 63, 64]) {
      for (const [n, k] of [[1, 256], [3, 257], [17, 259], [129, 300], [64, 1027]] as const) {
        await checkMatmul(t, { m, n, k, transB: true }, seed++);
        await checkMatmul(t, { m, n, k, transB: true, accumulate: true }, seed++);
      }
    }
    await checkMatmul(t, { m: 64, n: 4099, k: 768, transB: true }, seed++); // LM-head-like: 64 tokens x a wide vocabulary
  });

  it(`dot-form tiles with a constant row stride (every generated k: ${DOT_FIXED_K.join(', ')}) and the general one (k = 772) give each row the bits of its one-row product`, () => {
    // The fixed-k tiles (assembly/generated/dot-fixed.ts) and dotKernel sum in gemvDot's
    // order, so a row of a dot-form product equals the m = 1 product of that row.
    const be = twin().dev;
    let seed = 800;
    for (const k of [...DOT_FIXED_K, 772]) {
      for (const [m, n] of [[2, 4], [7, 13], [64, 9]] as const) {
        const rand = lcg(seed++);
        const [a, b, out, row] = [be.alloc(4 * m * k), be.alloc(4 * n * k), be.alloc(4 * m * n), be.alloc(4 * n)];
        be.write(a, randomArray(m * k, rand));
        be.write(b, randomArray(n * k, rand));
        be.matmul({ a: { storage: a, offset: 0 }, b: { storage: b, offset: 0 }, out: { storage: out, offset: 0 }, m, n, k, transB: true });
        const whole = new Int32Array(be.readSync(out, 'f32').buffer);
        for (let i = 0; i < m; i++) {
          be.matmul({ a: { storage: a, offset: i * k }, b: { storage: b, offset: 0 }, out: { storage: row, offset: 0 }, m: 1, n, k, transB: true });
          expect(Array.from(new Int32Array(be.readSync(row, 'f32').buffer)), `k=${k} ${m}x${n} row ${i}`).toEqual(Array.from(whole.subarray(i * n, (i + 1) * n)));
        }
        [a, b, out, row].forEach((st) => be.free(st));
      }
    }
  });

  it('crosses every cache block (k > 256, m > 48, n > 2048)', async () => {
    const t = twin();
    await checkMatmul(t, { m: 300, n: 260, k: 520 }, 300);
    await checkMatmul(t, { m: 130, n: 70, k: 520, transA: true, transB: true }, 301);
    await checkMatmul(t, { m: 6, n: 2100, k: 5, transB: true, accumulate: true }, 302);
  });

  it('a B prepacked once (prepackMatmulB): the bits of packing per call, or for an untransposed B on the dot-form tiles those of each row\'s one-row product, on 1 and 3 threads', async () => {
    const be = twin().dev;
    // [m, n, k, transB, batch, strideB]: packed products (plain and transposed B, edge
    // panels, several k and n blocks, batches sharing B), shapes that never pack (GEMV, few
    // rows in place), and an untransposed B read as its prepacked transposed copy by the
    // dot-form tiles (m <= 4, or k >= 256; 130 rows cross a 64-row block).
    const cases: [number, number, number, boolean, number, number | undefined][] = [
      [64, 3072, 768, false, 1, undefined],
      [63, 129, 300, false, 1, undefined],
      [3, 130, 20, false, 1, undefined],
      [100, 2100, 17, false, 1, undefined],
      [129, 63, 520, true, 1, undefined],
      [37, 17, 3, false, 3, 0],
      [1, 129, 63, false, 1, undefined],
      [16, 300, 70, false, 1, undefined],
      [40, 77, 300, true, 1, undefined],
      [40, 77, 300, false, 2, 0],
      [130, 37, 300, false, 1, undefined],
    ];
    // An untransposed B's transposed copy goes through the dot-form tiles (m counts the rows
    // of batches sharing B): each row then has the bits of its one-row product with the copy.
    const dotForm = (rows: number, k: number, transB: boolean) => !transB && rows > 1 && (rows <= 4 || k >= 256);
    let seed = 700;
    for (const threads of [1, 3]) {
      const tb = await createWasmBackend({ simd: build.simd, threads: Math.min(threads, be.features.threads ? 3 : 1) });
      for (const [m, n, k, transB, batch, strideB] of cases) {
        const rand = lcg(seed++);
        const sa = m * k;
        const bValues = randomArray(k * n, rand);
        const [a, b, bt] = [tb.alloc(4 * sa * batch), tb.alloc(4 * k * n), tb.alloc(4 * k * n)];
        tb.write(a, randomArray(sa * batch, rand));
        tb.write(b, bValues);
        // B's transposed copy, written here, for the product the dot-form tiles compute.
        const t = new Float32Array(k * n);
        for (let l = 0; l < k; l++) for (let j = 0; j < n; j++) t[transB ? l * n + j : j * k + l] = bValues[transB ? j * k + l : l * n + j];
        tb.write(bt, t);
        const packed = tb.alloc(4 * tb.prepackedMatmulBElements(k, n));
        tb.prepackMatmulB({ b: { storage: b, offset: 0 }, out: { storage: packed, offset: 0 }, k, n, transB });
        const run = (bs: typeof b, tr: boolean, bPacked?: { storage: typeof packed; offset: number }) => {
          const out = tb.alloc(4 * batch * m * n);
          tb.matmul({ a: { storage: a, offset: 0 }, b: { storage: bs, offset: 0 }, out: { storage: out, offset: 0 }, m, n, k, transB: tr, batch, strideB, bPacked });
          const r = new Int32Array(tb.readSync(out, 'f32').buffer);
          tb.free(out);
          return r;
        };
        const got = run(b, transB, { storage: packed, offset: 0 });
        let want: Int32Array;
        if (dotForm(m * batch, k, transB)) {
          want = new Int32Array(batch * m * n);
          const row = tb.alloc(4 * n);
          for (let i = 0; i < batch * m; i++) {
            tb.matmul({ a: { storage: a, offset: i * k }, b: { storage: bt, offset: 0 }, out: { storage: row, offset: 0 }, m: 1, n, k, transB: true });
            want.set(new Int32Array(tb.readSync(row, 'f32').buffer), i * n);
          }
          tb.free(row);
        } else {
          want = run(b, transB);
        }
        let differ = 0;
        for (let i = 0; i < want.length; i++) if (got[i] !== want[i]) differ++;
        expect(differ, `${m}x${n}x${k} transB=${transB} batch=${batch} threads=${threads}: elements with other bits`).toBe(0);
        [a, b, bt, packed].forEach((st) => tb.free(st));
      }
      tb.dispose();
    }
  });

  it('reads a prepacked B where its path uses it, and ignores it elsewhere', () => {
    const be = twin().dev;
    // A prepacked B of zeros stands in for B: a product that reads it is all zeros. A
    // transposed B's panels serve the packed path (many rows of A); an untransposed B's
    // transposed copy serves the dot-form tiles (m <= 4, or k >= 256).
    const cases: [boolean, number, number, boolean][] = [
      // [transB, m, k, reads the prepacked B]
      [false, 3, 40, true],
      [false, 64, 300, true],
      [false, 64, 40, false],
      [false, 130, 300, true],
      [false, 100, 40, false],
      [false, 1, 300, false],
      [true, 100, 40, true],
      [true, 64, 300, false],
      [true, 3, 40, false],
    ];
    const n = 200;
    for (const [transB, m, k, reads] of cases) {
      const b = be.alloc(4 * k * n);
      be.write(b, randomArray(k * n, lcg(11)));
      const zeros = be.alloc(4 * be.prepackedMatmulBElements(k, n));
      be.fill({ out: { storage: zeros, offset: 0 }, n: be.prepackedMatmulBElements(k, n), value: 0, dtype: 'f32' });
      const a = be.alloc(4 * m * k);
      be.write(a, randomArray(m * k, lcg(12)));
      const out = be.alloc(4 * m * n);
      be.matmul({ a: { storage: a, offset: 0 }, b: { storage: b, offset: 0 }, out: { storage: out, offset: 0 }, m, n, k, transB, bPacked: { storage: zeros, offset: 0 } });
      const allZero = be.readSync(out, 'f32').every((v) => v === 0);
      expect(allZero, `transB=${transB} m=${m} k=${k}`).toBe(reads);
      [a, b, out, zeros].forEach((st) => be.free(st));
    }
  });

  it('rejects a prepacked B that is too small or overlaps the output', () => {
    const be = twin().dev;
    const [k, n] = [20, 30];
    const b = be.alloc(4 * k * n);
    const small = be.alloc(4 * k * n);
    expect(be.prepackedMatmulBElements(k, n)).toBe(32 * k);
    expect(() => be.prepackMatmulB({ b: { storage: b, offset: 0 }, out: { storage: small, offset: 0 }, k, n })).toThrow(/prepackMatmulB out.*exceed/);
    expect(() => be.prepackMatmulB({ b: { storage: b, offset: 0 }, out: { storage: b, offset: 0 }, k, n })).toThrow(BoundsError);
    const a = be.alloc(4 * 64 * k);
    const out = be.alloc(4 * 64 * n);
    expect(() =>
      be.matmul({ a: { storage: a, offset: 0 }, b: { storage: b, offset: 0 }, out: { storage: out, offset: 0 }, m: 64, n, k, bPacked: { storage: small, offset: 0 } }),
    ).toThrow(/matmul bPacked.*exceed/);
    [a, b, small, out].forEach((st) => be.free(st));
  });

  it('rejects an out-of-bounds operand, freed storage and an output overlapping an input', () => {
    const be = twin().dev;
    const a = be.alloc(4 * 12);
    const b = be.alloc(4 * 12);
    const out = be.alloc(4 * 9);
    const p = (over: Partial<MatmulParams>): MatmulParams => ({
      a: { storage: a, offset: 0 }, b: { storage: b, offset: 0 }, out: { storage: out, offset: 0 }, m: 3, n: 3, k: 4, ...over,
    });
    expect(() => be.matmul(p({ a: { storage: a, offset: 1 } }))).toThrow(BoundsError);
    expect(() => be.matmul(p({ batch: 2, strideB: 0 }))).toThrow(BoundsError);
    expect(() => be.matmul(p({ b: { storage: b, offset: 0 }, n: 4 }))).toThrow(BoundsError);
    const shared = be.alloc(4 * 64);
    expect(() => be.matmul(p({ a: { storage: shared, offset: 0 }, out: { storage: shared, offset: 8 } }))).toThrow(ArgumentError);
    be.free(b);
    expect(() => be.matmul(p({}))).toThrow(DisposedError);
  });
});
