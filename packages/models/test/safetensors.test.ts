import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ArgumentError, DTypeError, ShapeError } from '@tessera/core';
import { describe, expect, it } from 'vitest';
import {
  FormatError,
  MAX_HEADER_BYTES,
  bf16ToNumber,
  f16ToNumber,
  numberToBf16,
  numberToF16,
  openSafetensors,
  openSafetensorsFile,
  readSafetensors,
  readSafetensorsFile,
  serializeSafetensors,
  writeSafetensorsFile,
  type TensorToSave,
} from '../src/index.js';

const enc = new TextEncoder();

/** A file from a header string and data bytes; `declared` overrides the 8-byte header length. */
function rawFile(header: string, data: Uint8Array | number = 0, declared?: number | bigint): Uint8Array {
  const h = enc.encode(header);
  const d = typeof data === 'number' ? new Uint8Array(data) : data;
  const out = new Uint8Array(8 + h.length + d.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(declared ?? h.length), true);
  out.set(h, 8);
  out.set(d, 8 + h.length);
  return out;
}

function u16le(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 2);
  const dv = new DataView(out.buffer);
  values.forEach((v, i) => dv.setUint16(2 * i, v, true));
  return out;
}

function expectFormatError(fn: () => unknown, ...fragments: (string | RegExp)[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a FormatError').toBeInstanceOf(FormatError);
  for (const f of fragments) expect((caught as Error).message).toMatch(f);
}

describe('f16 / bf16 conversions (hand values)', () => {
  // [bits, value]: normals, the extremes, subnormals, signed zero, infinities.
  const f16: [number, number][] = [
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504],
    [0x0400, 2 ** -14], // smallest normal
    [0x0001, 2 ** -24], // smallest subnormal
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x8001, -(2 ** -24)],
    [0x0000, 0],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];

  it('widens F16 exactly, including subnormals, infinities, signed zero and NaN', () => {
    for (const [bits, v] of f16) expect(f16ToNumber(bits), `0x${bits.toString(16)}`).toBe(v);
    expect(Object.is(f16ToNumber(0x8000), -0)).toBe(true);
    expect(f16ToNumber(0x7e00)).toBeNaN();
    expect(f16ToNumber(0xfc01)).toBeNaN();
  });

  it('narrows to F16 with round-to-nearest-even, overflow to inf, underflow to subnormal/zero', () => {
    for (const [bits, v] of f16) expect(numberToF16(v), String(v)).toBe(bits);
    expect(numberToF16(1 / 3)).toBe(0x3555);
    expect(numberToF16(65519)).toBe(0x7bff); // below the halfway point to 65536
    expect(numberToF16(65520)).toBe(0x7c00); // halfway: ties to even (= 2^16) -> inf
    expect(numberToF16(1e6)).toBe(0x7c00);
    expect(numberToF16(-1e6)).toBe(0xfc00);
    expect(numberToF16(2 ** -25)).toBe(0x0000); // halfway between 0 and 2^-24: ties to even -> 0
    expect(numberToF16(1.5 * 2 ** -25)).toBe(0x0001);
    expect(numberToF16(3 * 2 ** -25)).toBe(0x0002); // 1.5 ulp: ties to even -> 2
    expect(numberToF16(1 + 2 ** -11)).toBe(0x3c00); // halfway above 1: even mantissa stays
    expect(numberToF16(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway from odd 0x3c01: up
    expect(numberToF16(2 ** -14 - 2 ** -25)).toBe(0x0400); // rounds up from subnormal into the smallest normal
    expect(numberToF16(-0)).toBe(0x8000);
    expect(numberToF16(1e-10)).toBe(0x0000);
    const nan = numberToF16(NaN);
    expect(nan & 0x7c00).toBe(0x7c00);
    expect(nan & 0x3ff).not.toBe(0);
  });

  it('round-trips every finite F16 bit pattern', () => {
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue; // NaNs
      expect(numberToF16(f16ToNumber(h))).toBe(h);
    }
  });

  it('converts BF16 both ways', () => {
    expect(bf16ToNumber(0x3f80)).toBe(1);
    expect(bf16ToNumber(0x4049)).toBe(3.140625);
    expect(bf16ToNumber(0xc000)).toBe(-2);
    expect(bf16ToNumber(0x7f80)).toBe(Infinity);
    expect(bf16ToNumber(0xff80)).toBe(-Infinity);
    expect(bf16ToNumber(0x0001)).toBe(2 ** -133); // subnormal
    expect(bf16ToNumber(0x7fc0)).toBeNaN();
    expect(numberToBf16(Math.PI)).toBe(0x4049);
    expect(numberToBf16(1 + 2 ** -8)).toBe(0x3f80); // tie -> even
    expect(numberToBf16(1 + 3 * 2 ** -8)).toBe(0x3f82); // tie -> even (up)
    expect(numberToBf16(3.4e38)).toBe(0x7f80); // rounds past the largest bf16
    expect(numberToBf16(NaN) & 0x7fc0).toBe(0x7fc0);
  });
});

describe('safetensors round trip', () => {
  const tensors: Record<string, TensorToSave> = {
    'h.0.w': { dtype: 'F32', shape: [2, 3], data: new Float32Array([1, -2.5, 3e-8, Infinity, -0, 6]) },
    'h.0.b': { dtype: 'F16', shape: [4], data: [1, -2, 65504, 2 ** -24] },
    bf: { dtype: 'BF16', shape: [2], data: [3.140625, -1] },
    dbl: { dtype: 'F64', shape: [2], data: [0.1, -1e30] },
    ids: { dtype: 'I32', shape: [3], data: new Int32Array([-2147483648, 0, 2147483647]) },
    pos: { dtype: 'I64', shape: [2, 1], data: [-5, 2147483647] },
    big: { dtype: 'I64', shape: [1], data: new BigInt64Array([-7n]) },
    u8: { dtype: 'U8', shape: [3], data: [0, 128, 255] },
    i8: { dtype: 'I8', shape: [2], data: [-128, 127] },
    i16: { dtype: 'I16', shape: [2], data: [-32768, 32767] },
    u16: { dtype: 'U16', shape: [1], data: [65535] },
    u32: { dtype: 'U32', shape: [1], data: [2147483647] },
    u64: { dtype: 'U64', shape: [1], data: [12345] },
    mask: { dtype: 'BOOL', shape: [3], data: [1, 0, 1] },
    scalar: { dtype: 'F32', shape: [], data: [42] },
    empty: { dtype: 'F32', shape: [0, 5], data: [] },
  };

  it('writes and reads back every dtype with the right values and metadata', () => {
    const bytes = serializeSafetensors(tensors, { format: 'pt', note: 'ünïcode' });
    const { tensors: loaded, metadata } = readSafetensors(bytes, { strict: true });
    expect({ ...metadata }).toEqual({ format: 'pt', note: 'ünïcode' });
    expect(new Set(loaded.keys())).toEqual(new Set(Object.keys(tensors)));
    const f32 = (name: string) => {
      const t = loaded.get(name)!;
      expect(t.dtype).toBe('f32');
      return [...t.data];
    };
    const i32 = (name: string) => {
      const t = loaded.get(name)!;
      expect(t.dtype).toBe('i32');
      return [...t.data];
    };
    expect(f32('h.0.w')).toEqual([1, -2.5, Math.fround(3e-8), Infinity, -0, 6]);
    expect(loaded.get('h.0.w')!.shape).toEqual([2, 3]);
    expect(loaded.get('h.0.w')!.fileDtype).toBe('F32');
    expect(f32('h.0.b')).toEqual([1, -2, 65504, 2 ** -24]);
    expect(f32('bf')).toEqual([3.140625, -1]);
    expect(f32('dbl')).toEqual([Math.fround(0.1), Math.fround(-1e30)]);
    expect(i32('ids')).toEqual([-2147483648, 0, 2147483647]);
    expect(i32('pos')).toEqual([-5, 2147483647]);
    expect(loaded.get('pos')!.shape).toEqual([2, 1]);
    expect(i32('big')).toEqual([-7]);
    expect(i32('u8')).toEqual([0, 128, 255]);
    expect(i32('i8')).toEqual([-128, 127]);
    expect(i32('i16')).toEqual([-32768, 32767]);
    expect(i32('u16')).toEqual([65535]);
    expect(i32('u32')).toEqual([2147483647]);
    expect(i32('u64')).toEqual([12345]);
    expect(i32('mask')).toEqual([1, 0, 1]);
    expect(f32('scalar')).toEqual([42]);
    expect(loaded.get('scalar')!.shape).toEqual([]);
    expect(f32('empty')).toEqual([]);
    expect(loaded.get('empty')!.shape).toEqual([0, 5]);
  });

  it('lays files out as HF safetensors does: compact JSON, space padding to 8, dtype-then-name order', () => {
    // The byte strings of HF's own serializer tests (safetensors/src/tensor.rs).
    expect([...serializeSafetensors({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    const withMeta = serializeSafetensors({}, { framework: 'pt' });
    expect(new TextDecoder().decode(withMeta.subarray(8))).toBe('{"__metadata__":{"framework":"pt"}}     ');
    expect(withMeta[0]).toBe(40);
    const one = serializeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: [0, 1, 2, 3, 4, 5] } });
    const n = Number(new DataView(one.buffer).getBigUint64(0, true));
    expect(n).toBe(72);
    expect(new TextDecoder().decode(one.subarray(8, 8 + n))).toBe(
      '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       ',
    );
    expect([...one.subarray(8 + n, 8 + n + 8)]).toEqual([0, 0, 0, 0, 0, 0, 128, 63]);

    const st = openSafetensors(serializeSafetensors(tensors), { strict: true });
    // Descending HF dtype order (U64, I64, F64, F32, U32, I32, BF16, F16, U16, I16, I8, U8, BOOL), then name.
    expect(st.names()).toEqual(['u64', 'big', 'pos', 'dbl', 'empty', 'h.0.w', 'scalar', 'u32', 'ids', 'bf', 'h.0.b', 'u16', 'i16', 'i8', 'u8', 'mask']);
    expect(st.dataStart % 8).toBe(0);
    for (const name of st.names()) {
      const e = st.entry(name);
      const size = { U64: 8, I64: 8, F64: 8, F32: 4, U32: 4, I32: 4, BF16: 2, F16: 2, U16: 2, I16: 2 }[e.dtype as string] ?? 1;
      expect(e.fileOffsets[0] % size, name).toBe(0);
    }
  });

  it('returns aligned F32/I32 tensors as views over the file buffer, and copies misaligned ones', () => {
    const bytes = serializeSafetensors({
      w: { dtype: 'F32', shape: [3], data: [1, 2, 3] },
      i: { dtype: 'I32', shape: [2], data: [7, 8] },
      h: { dtype: 'F16', shape: [1], data: [0.5] },
    });
    const st = openSafetensors(bytes);
    const w = st.get('w');
    expect(w.data.buffer).toBe(bytes.buffer);
    expect(st.get('i').data.buffer).toBe(bytes.buffer);
    expect(st.get('h').data.buffer).not.toBe(bytes.buffer); // converted: a new array
    (w.data as Float32Array)[0] = 10; // a view: writes through to the file bytes
    expect(openSafetensors(bytes).get('w').data[0]).toBe(10);
    expect(st.rawBytes('w').byteOffset).toBe(st.entry('w').fileOffsets[0]);

    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const mis = openSafetensors(shifted.subarray(1));
    const w2 = mis.get('w');
    expect(w2.data.buffer).not.toBe(shifted.buffer);
    expect([...w2.data]).toEqual([10, 2, 3]);
    expect([...mis.get('i').data]).toEqual([7, 8]);
    expect([...mis.get('h').data]).toEqual([0.5]);
    expect([...openSafetensors((bytes.buffer as ArrayBuffer).slice(0)).get('i').data]).toEqual([7, 8]); // ArrayBuffer input
  });

  it('decodes F16/BF16 bit patterns written by hand, misaligned or not', () => {
    const bits = [0x3c00, 0x0001, 0x03ff, 0x7bff, 0x7c00, 0xfc00, 0x8000, 0x7e00];
    const expected = [1, 2 ** -24, 1023 * 2 ** -24, 65504, Infinity, -Infinity, -0, NaN];
    for (const dtype of ['F16', 'BF16'] as const) {
      const header = `{"t":{"dtype":"${dtype}","shape":[8],"data_offsets":[0,16]}}`;
      for (const pad of [0, 1]) {
        const file = rawFile(header + ' '.repeat(pad), u16le(bits));
        const got = [...openSafetensors(file).get('t').data];
        const want = dtype === 'F16' ? expected : bits.map(bf16ToNumber);
        got.forEach((v, i) => expect(Object.is(v, want[i]) || (Number.isNaN(v) && Number.isNaN(want[i])), `${dtype} ${bits[i]}`).toBe(true));
      }
    }
  });

  it('converts F8 dtypes', () => {
    // E5M2 0x3c = 1, 0x7c = inf; E4M3FN 0x38 = 1, 0x7e = 448, 0x7f = NaN, 0x01 = 2^-9.
    const file = rawFile(
      '{"a":{"dtype":"F8_E5M2","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"F8_E4M3","shape":[4],"data_offsets":[2,6]}}',
      new Uint8Array([0x3c, 0x7c, 0x38, 0x7e, 0x7f, 0x01]),
    );
    const st = openSafetensors(file);
    expect([...st.get('a').data]).toEqual([1, Infinity]);
    const b = [...st.get('b').data];
    expect(b[0]).toBe(1);
    expect(b[1]).toBe(448);
    expect(b[2]).toBeNaN();
    expect(b[3]).toBe(2 ** -9);
  });

  it('reads and writes files with the Node helpers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-st-'));
    try {
      const path = join(dir, 'model.safetensors');
      await writeSafetensorsFile(path, tensors, { format: 'pt' });
      expect(new Uint8Array(await readFile(path))).toEqual(serializeSafetensors(tensors, { format: 'pt' }));
      const { tensors: loaded, metadata } = await readSafetensorsFile(path, { strict: true });
      expect(metadata.format).toBe('pt');
      expect([...loaded.get('ids')!.data]).toEqual([-2147483648, 0, 2147483647]);
      const st = await openSafetensorsFile(path);
      const w = st.get('h.0.w');
      expect(w.data.byteOffset).toBe(st.entry('h.0.w').fileOffsets[0]); // a view over the one file buffer
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('allows gaps and trailing bytes unless strict, and accepts names like __proto__', () => {
    const gap = rawFile(
      '{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[4,5]}}',
      new Uint8Array([1, 9, 9, 9, 2, 9]),
    );
    const st = openSafetensors(gap);
    expect([...st.get('b').data]).toEqual([2]);
    expectFormatError(() => openSafetensors(gap, { strict: true }), '"b"', 'gap after byte 1');
    const trailing = rawFile('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', new Uint8Array([1, 2]));
    expect([...openSafetensors(trailing).get('a').data]).toEqual([1]);
    expectFormatError(() => openSafetensors(trailing, { strict: true }), 'full coverage', 'data section is 2 bytes');
    // An object literal's __proto__ sets the prototype, so build the record with defineProperty.
    const rec: Record<string, TensorToSave> = {};
    Object.defineProperty(rec, '__proto__', { value: { dtype: 'U8', shape: [1], data: [3] }, enumerable: true });
    expect(openSafetensors(serializeSafetensors(rec)).names()).toEqual(['__proto__']);
    const meta = openSafetensors(rawFile('{"__metadata__":{"__proto__":"x"}}')).metadata;
    expect(meta.__proto__).toBe('x');
  });

  it('lazy reader: names, entries, and a typed error for a missing tensor', () => {
    const st = openSafetensors(serializeSafetensors(tensors));
    expect(st.has('ids')).toBe(true);
    expect(st.has('nope')).toBe(false);
    expect(st.entry('ids')).toMatchObject({ dtype: 'I32', shape: [3] });
    expect(() => st.get('nope')).toThrow(ArgumentError);
    expect(() => st.get('nope')).toThrow(/no tensor named "nope"/);
  });

  it('rejects bad tensors on write with typed errors', () => {
    expect(() => serializeSafetensors({ a: { dtype: 'F32', shape: [2, 2], data: [1, 2, 3] } })).toThrow(ShapeError);
    expect(() => serializeSafetensors({ a: { dtype: 'F32', shape: [-1], data: [] } })).toThrow(ShapeError);
    expect(() => serializeSafetensors({ a: { dtype: 'I32', shape: [1], data: [2 ** 31] } })).toThrow(DTypeError);
    expect(() => serializeSafetensors({ a: { dtype: 'I32', shape: [1], data: [0.5] } })).toThrow(/element 0 is 0.5/);
    expect(() => serializeSafetensors({ a: { dtype: 'BOOL', shape: [1], data: [2] } })).toThrow(DTypeError);
    expect(() => serializeSafetensors({ a: { dtype: 'U64', shape: [1], data: new BigInt64Array([-1n]) } })).toThrow(DTypeError);
    expect(() => serializeSafetensors({ a: { dtype: 'F8_E4M3' as 'F32', shape: [1], data: [1] } })).toThrow(DTypeError);
    expect(() => serializeSafetensors({ __metadata__: { dtype: 'F32', shape: [1], data: [1] } })).toThrow(ArgumentError);
    expect(() => serializeSafetensors({}, { a: 1 as unknown as string })).toThrow(ArgumentError);
  });
});

describe('safetensors: malformed files are rejected with FormatError', () => {
  const good = serializeSafetensors({
    a: { dtype: 'F32', shape: [2], data: [1, 2] },
    b: { dtype: 'F32', shape: [1], data: [3] },
  });
  const entry = (name: string, dtype: string, shape: unknown, offsets: unknown) =>
    `"${name}":{"dtype":"${dtype}","shape":${JSON.stringify(shape)},"data_offsets":${JSON.stringify(offsets)}}`;

  it('truncated files', () => {
    expectFormatError(() => openSafetensors(new Uint8Array(5)), '5 bytes', '8-byte header length');
    expectFormatError(() => openSafetensors(good.subarray(0, 20)), /header length \d+ .* runs past the end of the 20-byte file/);
    expectFormatError(() => openSafetensors(good.subarray(0, good.length - 1)), '"b"', 'data_offsets [8, 12]', 'runs past the end');
  });

  it('header length too long or over the limit', () => {
    expectFormatError(() => openSafetensors(rawFile('{}', 0, 3)), 'header length 3', 'runs past the end');
    expectFormatError(() => openSafetensors(rawFile('{}', 0, MAX_HEADER_BYTES + 1)), 'exceeds the 100000000-byte limit');
    expectFormatError(() => openSafetensors(rawFile('{}', 0, 2n ** 63n)), 'exceeds');
  });

  it('header that is not a JSON object starting with {', () => {
    expectFormatError(() => openSafetensors(rawFile(' {}')), "does not start with '{'");
    expectFormatError(() => openSafetensors(rawFile('[1]')), "does not start with '{'");
    expectFormatError(() => openSafetensors(rawFile('')), "does not start with '{'");
    expectFormatError(() => openSafetensors(rawFile('{"a":')), 'invalid JSON at character 5');
    expectFormatError(() => openSafetensors(rawFile('{"a":1,}')), 'invalid JSON');
    expectFormatError(() => openSafetensors(rawFile('{} x')), 'after the top-level value');
    expectFormatError(() => openSafetensors(rawFile(`{${entry('a', 'U8', [1], [0, 1])},${entry('a', 'U8', [1], [1, 2])}}`, 2)), 'duplicate key "a"');
    const badUtf8 = rawFile('{"\u00e9":1}');
    badUtf8[10] = 0xff;
    expectFormatError(() => openSafetensors(badUtf8), 'not valid UTF-8');
    expectFormatError(() => openSafetensors(rawFile('{"__metadata__":{"k":1}}')), '"k"', 'must be strings');
    expectFormatError(() => openSafetensors(rawFile('{"__metadata__":[]}')), '__metadata__');
    expectFormatError(() => openSafetensors(rawFile('{"a":5}')), '"a"', 'not an object');
  });

  it('entries without dtype, shape or data_offsets', () => {
    expectFormatError(() => openSafetensors(rawFile('{"w":{"shape":[1],"data_offsets":[0,4]}}', 4)), '"w"', 'no "dtype"');
    expectFormatError(() => openSafetensors(rawFile('{"w":{"dtype":"F32","data_offsets":[0,4]}}', 4)), '"w"', 'no "shape"');
    expectFormatError(() => openSafetensors(rawFile('{"w":{"dtype":"F32","shape":[1]}}', 4)), '"w"', 'no "data_offsets"');
    expectFormatError(() => openSafetensors(rawFile(`{${entry('w', 'F32', [1], [0, 4, 8])}}`, 8)), '"w"', 'data_offsets');
    expectFormatError(() => openSafetensors(rawFile(`{${entry('w', 'F32', [1], [-4, 0])}}`, 8)), '"w"', 'non-negative');
  });

  it('unknown dtype', () => {
    expectFormatError(() => openSafetensors(rawFile(`{${entry('w', 'F17', [1], [0, 4])}}`, 4)), '"w"', 'unknown dtype "F17"');
    expectFormatError(() => openSafetensors(rawFile('{"w":{"dtype":3,"shape":[1],"data_offsets":[0,4]}}', 4)), '"w"', 'not a string');
  });

  it('negative, fractional or non-numeric shapes', () => {
    expectFormatError(() => openSafetensors(rawFile(`{${entry('w', 'F32', [-1, 2], [0, 8])}}`, 8)), '"w"', 'dimension -1');
    expectFormatError(() => openSafetensors(rawFile(`{${entry('w', 'F32', [1.5], [0, 6])}}`, 8)), '"w"', 'dimension 1.5');
    expectFormatError(() => openSafetensors(rawFile(`{${entry('w', 'F32', ['2'], [0, 8])}}`, 8)), '"w"', 'dimension "2"');
    expectFormatError(() => openSafetensors(rawFile(`{${entry('w', 'F32', 2, [0, 8])}}`, 8)), '"w"', 'not an array');
  });

  it('byte ranges whose length does not match dtype x shape', () => {
    expectFormatError(() => openSafetensors(rawFile(`{${entry('w', 'F32', [2, 3], [0, 20])}}`, 24)), '"w"', 'F32 shape [2, 3] needs 24 bytes', 'data_offsets [0, 20]', 'spans 20');
    expectFormatError(() => openSafetensors(rawFile(`{${entry('w', 'F16', [4], [0, 4])}}`, 8)), 'needs 8 bytes');
    expectFormatError(() => openSafetensors(rawFile(`{${entry('w', 'F32', [2 ** 40, 2 ** 40], [0, 8])}}`, 8)), 'more than 2^53');
    expectFormatError(() => openSafetensors(rawFile(`{${entry('w', 'F32', [0], [4, 0])}}`, 8)), 'end before begin');
  });

  it('out-of-bounds ranges, naming file offsets', () => {
    const header = `{${entry('w', 'F32', [2], [4, 12])}}`;
    expectFormatError(
      () => openSafetensors(rawFile(header, 8)),
      '"w"',
      'data_offsets [4, 12]',
      `file bytes ${8 + header.length + 4}..${8 + header.length + 12}`,
      'past the end of the 8-byte data section',
    );
  });

  it('overlapping tensors', () => {
    const file = rawFile(`{${entry('a', 'F32', [2], [0, 8])},${entry('b', 'F32', [2], [4, 12])}}`, 12);
    expectFormatError(() => openSafetensors(file), '"a" data_offsets [0, 8]', '"b" data_offsets [4, 12]', 'overlap');
    const nested = rawFile(`{${entry('a', 'U8', [8], [0, 8])},${entry('b', 'U8', [1], [2, 3])},${entry('c', 'U8', [1], [5, 6])}}`, 8);
    expectFormatError(() => openSafetensors(nested), '"a"', '"b"', 'overlap');
    const same = rawFile(`{${entry('a', 'U8', [2], [0, 2])},${entry('b', 'U8', [2], [0, 2])}}`, 2);
    expectFormatError(() => openSafetensors(same), 'overlap');
    // Empty tensors occupy no bytes and may sit anywhere inside the data section.
    expect(openSafetensors(rawFile(`{${entry('a', 'U8', [2], [0, 2])},${entry('e', 'U8', [0], [1, 1])}}`, 2)).names()).toEqual(['a', 'e']);
  });

  it('values that do not fit the loaded dtype', () => {
    const bool = rawFile(`{${entry('m', 'BOOL', [2], [0, 2])}}`, new Uint8Array([1, 2]));
    expectFormatError(() => openSafetensors(bool).get('m'), '"m"', 'byte 2', 'element 1');
    const i64 = new Uint8Array(16);
    new DataView(i64.buffer).setBigInt64(8, 2n ** 31n, true);
    const file = rawFile(`{${entry('ids', 'I64', [2], [0, 16])}}`, i64);
    expect(() => openSafetensors(file).get('ids')).toThrow(DTypeError);
    expect(() => openSafetensors(file).get('ids')).toThrow(/"ids" \(I64\): element 1 is 2147483648/);
    new DataView(i64.buffer).setBigInt64(8, -(2n ** 31n), true);
    expect([...openSafetensors(rawFile(`{${entry('ids', 'I64', [2], [0, 16])}}`, i64)).get('ids').data]).toEqual([0, -(2 ** 31)]);
    const f64 = new Uint8Array(8);
    new DataView(f64.buffer).setFloat64(0, 1e300, true);
    expect(() => openSafetensors(rawFile(`{${entry('d', 'F64', [1], [0, 8])}}`, f64)).get('d')).toThrow(DTypeError);
    const u32 = new Uint8Array([0, 0, 0, 0x80]);
    expect(() => openSafetensors(rawFile(`{${entry('u', 'U32', [1], [0, 4])}}`, u32)).get('u')).toThrow(DTypeError);
  });
});
