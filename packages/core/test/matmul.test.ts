import { beforeAll, describe, expect, it } from 'vitest';
import type { MatmulParams } from '../src/backend.js';
import { ArgumentError, BoundsError, DisposedError } from '../src/errors.js';
import { ReferenceBackend } from '../src/reference/backend.js';
import { createWasmBackend, relaxedSimdSupported, type WasmBackend } from '../src/wasm/backend.js';

/** One matmul call: shapes, flags, batch strides and element offsets of a, b, out. */
interface Case {
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
  batch?: number;
  strideA?: number;
  strideB?: number;
  accumulate?: boolean;
  offA?: number;
  offB?: number;
  offOut?: number;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomArray(n: number, rand: () => number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rand() * 2 - 1;
  return a;
}

/** Written around the output so a write outside [offOut, offOut + batch*m*n) is caught. */
const SENTINEL = 1234.5;
const PAD = 7;

const describeCase = (c: Case) =>
  `m=${c.m} n=${c.n} k=${c.k}${c.transA ? ' transA' : ''}${c.transB ? ' transB' : ''}` +
  `${(c.batch ?? 1) > 1 ? ` batch=${c.batch} sA=${c.strideA ?? 'dense'} sB=${c.strideB ?? 'dense'}` : ''}` +
  `${c.accumulate ? ' accumulate' : ''}${c.offA || c.offB || c.offOut ? ` offsets=${c.offA ?? 0},${c.offB ?? 0},${c.offOut ?? 0}` : ''}`;

/**
 * Runs `c` on the wasm backend and on the float64 reference and compares every output
 * element. Tolerance: |got - ref| <= 1e-5 * mag + 1e-7 with mag = sum_l |a_il * b_lj|
 * (+ |out_ij| before the call when accumulating), i.e. relative to the magnitude of the
 * terms, not of their (possibly cancelling) sum. Why 1e-5: f32 has unit roundoff
 * u = 2^-24 ~ 6e-8; a k-term f32 sum errs by at most k*u*mag and, with the random-sign
 * roundings of these inputs, by about sqrt(k)*u*mag <= 1.4e-6*mag for k <= 520. The
 * kernel's summation order (4-lane partial sums, k blocks of 256 added into C, fused or
 * separate multiply-add) differs from the reference's sequential float64 loop, so a
 * tighter bound would test rounding luck; 1e-5 still catches any missing or doubled
 * product (each is ~mag/k >= 2e-3*mag here).
 */
function check(be: WasmBackend, c: Case, seed: number): void {
  const { m, n, k } = c;
  const batch = c.batch ?? 1;
  const sa = c.strideA ?? m * k;
  const sb = c.strideB ?? k * n;
  const lenA = sa * (batch - 1) + m * k;
  const lenB = sb * (batch - 1) + k * n;
  const lenOut = batch * m * n;
  const offA = c.offA ?? 0;
  const offB = c.offB ?? 0;
  const offOut = c.offOut ?? 0;
  const rand = lcg(seed);
  const A = randomArray(lenA, rand);
  const B = randomArray(lenB, rand);
  const out0 = new Float32Array(offOut + lenOut + PAD).fill(SENTINEL);
  if (c.accumulate) out0.set(randomArray(lenOut, rand), offOut);

  const ref = new ReferenceBackend({ float64: true });
  const run = (
    target: WasmBackend | ReferenceBackend,
    a: Float32Array | Float64Array,
    b: Float32Array | Float64Array,
    o: Float32Array | Float64Array,
    accumulate: boolean,
  ) => {
    const sA = target.alloc((offA + lenA + PAD) * 4);
    const sB = target.alloc((offB + lenB + PAD) * 4);
    const sO = target.alloc(o.length * 4);
    target.write(sA, a as Float32Array, offA);
    target.write(sB, b as Float32Array, offB);
    target.write(sO, o as Float32Array, 0);
    const p: MatmulParams = {
      a: { storage: sA, offset: offA },
      b: { storage: sB, offset: offB },
      out: { storage: sO, offset: offOut },
      m, n, k, transA: c.transA, transB: c.transB, batch, strideA: c.strideA, strideB: c.strideB, accumulate,
    };
    target.matmul(p);
    return sO;
  };

  const got = be.readSync(run(be, A, B, out0, c.accumulate ?? false), 'f32');
  const want = ref.readF64(run(ref, A, B, out0, c.accumulate ?? false));
  const abs = (x: Float32Array) => Float64Array.from(x, Math.abs);
  const magOut = new Float64Array(out0.length);
  if (c.accumulate) for (let i = offOut; i < offOut + lenOut; i++) magOut[i] = Math.abs(out0[i]);
  const mag = ref.readF64(run(ref, abs(A), abs(B), magOut, true));

  for (let i = 0; i < out0.length; i++) {
    if (i < offOut || i >= offOut + lenOut) {
      if (got[i] !== SENTINEL) throw new Error(`${describeCase(c)}: element ${i} outside the output was overwritten (${got[i]})`);
      continue;
    }
    const tol = 1e-5 * mag[i] + 1e-7;
    if (!(Math.abs(got[i] - want[i]) <= tol)) {
      const j = i - offOut;
      const [bi, r, col] = [Math.floor(j / (m * n)), Math.floor((j % (m * n)) / n), j % n];
      throw new Error(`${describeCase(c)}: out[${bi}][${r}][${col}] = ${got[i]}, reference ${want[i]} (tolerance ${tol})`);
    }
  }
}

const TRANS: [boolean, boolean][] = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
];

/** Odd sizes that miss the SIMD width and the 4 x 8 register tile, plus random ones. */
function shapes(): [number, number, number][] {
  const fixed: [number, number, number][] = [
    [1, 1, 1], [3, 3, 3], [17, 17, 17], [63, 63, 63], [3, 17, 63], [129, 3, 17],
    [1, 129, 63], [129, 1, 17], [17, 63, 1], [63, 129, 129], [129, 129, 3], [4, 8, 5], [8, 16, 4],
  ];
  const rand = lcg(99);
  for (let i = 0; i < 12; i++) fixed.push([1 + Math.floor(rand() * 140), 1 + Math.floor(rand() * 140), 1 + Math.floor(rand() * 140)]);
  return fixed;
}

const builds = [
  { simd: 'simd128' as const, ok: true },
  { simd: 'relaxed' as const, ok: relaxedSimdSupported() },
];

for (const { simd, ok } of builds) {
  // The relaxed build needs a runtime that validates relaxed-SIMD (Node 20: --experimental-wasm-relaxed-simd).
  describe.skipIf(!ok)(`matmul, wasm ${simd} build${ok ? '' : ' (skipped: this runtime does not validate relaxed-SIMD)'}`, () => {
    let be: WasmBackend;
    beforeAll(async () => {
      be = await createWasmBackend({ simd });
      expect(be.features.relaxedSimd).toBe(simd === 'relaxed');
    });

    it.each(TRANS)('matches the reference on odd and random shapes (transA=%s, transB=%s)', (transA, transB) => {
      let seed = 1;
      for (const [m, n, k] of shapes()) check(be, { m, n, k, transA, transB }, seed++);
    });

    it('k = 0 writes zeros, or leaves out unchanged when accumulating', () => {
      for (const [m, n] of [[1, 1], [3, 17], [1, 63], [17, 1], [9, 12]]) {
        for (const accumulate of [false, true]) check(be, { m, n, k: 0, accumulate }, m * 31 + n);
      }
    });

    it('adds into out when accumulating (GEMM edges, GEMV paths, several k blocks)', () => {
      let seed = 50;
      for (const [m, n, k] of [[3, 17, 63], [17, 9, 300], [1, 63, 17], [63, 1, 17], [129, 65, 257]] as const) {
        for (const [transA, transB] of TRANS) check(be, { m, n, k, transA, transB, accumulate: true }, seed++);
      }
    });

    it('honours element offsets of a, b and out', () => {
      check(be, { m: 17, n: 63, k: 3, offA: 5, offB: 3, offOut: 1 }, 7);
      check(be, { m: 1, n: 63, k: 17, offA: 2, offB: 1, offOut: 3, transB: true }, 8);
      check(be, { m: 63, n: 1, k: 17, offA: 1, offB: 2, offOut: 5, transA: true, accumulate: true }, 9);
    });

    it('loops over batches with gaps between matrices and with broadcast (stride 0) operands', () => {
      let seed = 100;
      for (const [transA, transB] of TRANS) {
        const [m, n, k] = [9, 13, 21];
        check(be, { m, n, k, transA, transB, batch: 3, strideA: m * k + 5, strideB: k * n + 7 }, seed++);
        check(be, { m, n, k, transA, transB, batch: 3, strideA: 0 }, seed++);
        check(be, { m, n, k, transA, transB, batch: 4, strideB: 0, accumulate: true }, seed++);
        check(be, { m: 1, n, k, transA, transB, batch: 5, strideB: 0 }, seed++);
        check(be, { m, n: 1, k, transA, transB, batch: 2, strideA: 0, offOut: 3 }, seed++);
      }
    });

    it('GEMV paths (m = 1 decoding step, n = 1) match the reference', () => {
      let seed = 200;
      for (const [transA, transB] of TRANS) {
        check(be, { m: 1, n: 770, k: 257, transA, transB }, seed++);
        check(be, { m: 1, n: 3, k: 1030, transA, transB }, seed++);
        check(be, { m: 259, n: 1, k: 131, transA, transB }, seed++);
        check(be, { m: 1, n: 1, k: 1001, transA, transB, accumulate: true }, seed++);
      }
    });

    it('takes the in-place, dot-row and packed paths on either side of their thresholds', () => {
      // matmul_pack_a_bytes > 0 exactly when the kernel packs (see packs() in assembly/matmul.ts).
      const packs = (c: Case) =>
        be.ctx.exports.matmul_pack_a_bytes(c.m, c.n, c.k, (c.transA ? 1 : 0) | (c.transB ? 2 : 0), 1, c.m * c.k, c.k * c.n) > 0;
      const cases: [Case, boolean][] = [
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
        expect(packs(c), describeCase(c)).toBe(packed);
        check(be, c, seed++);
        check(be, { ...c, accumulate: true }, seed++);
      }
    });

    it('dot-form tiles (transB, m <= 64, k >= 256): odd rows of A, n % 4 columns, k % 4 tails', () => {
      let seed = 500;
      for (const m of [2, 3, 17, 63, 64]) {
        for (const [n, k] of [[1, 256], [3, 257], [17, 259], [129, 300], [64, 1027]] as const) {
          check(be, { m, n, k, transB: true }, seed++);
          check(be, { m, n, k, transB: true, accumulate: true }, seed++);
        }
      }
      check(be, { m: 64, n: 4099, k: 768, transB: true }, seed++); // LM-head-like: 64 tokens x a wide vocabulary
    });

    it('crosses every cache block (k > 256, m > 48, n > 2048)', () => {
      check(be, { m: 300, n: 260, k: 520 }, 300);
      check(be, { m: 130, n: 70, k: 520, transA: true, transB: true }, 301);
      check(be, { m: 6, n: 2100, k: 5, transB: true, accumulate: true }, 302);
    });

    it('a B prepacked once (prepackMatmulB) gives the same bits as packing per call, on 1 and 3 threads', async () => {
      // [m, n, k, transB, batch, strideB]: packed products (plain and transposed B, edge
      // panels, several k and n blocks, batches sharing B) and shapes that never pack (GEMV,
      // few rows in place, dot tiles), where bPacked is ignored.
      const cases: [number, number, number, boolean, number, number | undefined][] = [
        [64, 3072, 768, false, 1, undefined],
        [63, 129, 300, false, 1, undefined],
        [100, 2100, 17, false, 1, undefined],
        [129, 63, 520, true, 1, undefined],
        [37, 17, 3, false, 3, 0],
        [1, 129, 63, false, 1, undefined],
        [16, 300, 70, false, 1, undefined],
        [40, 77, 300, true, 1, undefined],
      ];
      let seed = 700;
      for (const threads of [1, 3]) {
        const tb = await createWasmBackend({ simd, threads: Math.min(threads, be.features.threads ? 3 : 1) });
        for (const [m, n, k, transB, batch, strideB] of cases) {
          const rand = lcg(seed++);
          const sa = m * k;
          const [a, b] = [tb.alloc(4 * sa * batch), tb.alloc(4 * k * n)];
          tb.write(a, randomArray(sa * batch, rand));
          tb.write(b, randomArray(k * n, rand));
          const packed = tb.alloc(4 * tb.prepackedMatmulBElements(k, n));
          tb.prepackMatmulB({ b: { storage: b, offset: 0 }, out: { storage: packed, offset: 0 }, k, n, transB });
          const run = (bPacked?: { storage: typeof packed; offset: number }) => {
            const out = tb.alloc(4 * batch * m * n);
            tb.matmul({ a: { storage: a, offset: 0 }, b: { storage: b, offset: 0 }, out: { storage: out, offset: 0 }, m, n, k, transB, batch, strideB, bPacked });
            const r = new Int32Array(tb.readSync(out, 'f32').buffer);
            tb.free(out);
            return r;
          };
          expect(run({ storage: packed, offset: 0 }), `${m}x${n}x${k} transB=${transB} batch=${batch} threads=${threads}`).toEqual(run());
          [a, b, packed].forEach((st) => tb.free(st));
        }
        tb.dispose();
      }
    });

    it('reads a prepacked B where the product packs, and ignores it where it does not', () => {
      // Panels of zeros stand in for B: the packed path must read them (all-zero product),
      // the in-place path (few rows) must not.
      const [k, n] = [40, 200];
      const b = be.alloc(4 * k * n);
      be.write(b, randomArray(k * n, lcg(11)));
      const zeros = be.alloc(4 * be.prepackedMatmulBElements(k, n));
      be.fill({ out: { storage: zeros, offset: 0 }, n: be.prepackedMatmulBElements(k, n), value: 0, dtype: 'f32' });
      for (const [m, packedPath] of [[64, true], [3, false]] as const) {
        const a = be.alloc(4 * m * k);
        be.write(a, randomArray(m * k, lcg(12)));
        const out = be.alloc(4 * m * n);
        be.matmul({ a: { storage: a, offset: 0 }, b: { storage: b, offset: 0 }, out: { storage: out, offset: 0 }, m, n, k, bPacked: { storage: zeros, offset: 0 } });
        const allZero = be.readSync(out, 'f32').every((v) => v === 0);
        expect(allZero, `m = ${m}`).toBe(packedPath);
        [a, out].forEach((st) => be.free(st));
      }
      [b, zeros].forEach((st) => be.free(st));
    });

    it('rejects a prepacked B that is too small or overlaps the output', () => {
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
}
