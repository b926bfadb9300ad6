/**
 * File-format fuzz corpus (reliability issue #19): every file format this package reads —
 * safetensors, a model directory's config.json (GPT-2 and both classifiers), the tokenizer files
 * (vocab.json + merges.txt, tokenizer.json, char_tokenizer.json) — cut at byte boundaries, with
 * header fields corrupted, random bytes mutated (seeded fast-check) and each JSON field replaced
 * by a value of the wrong kind. Each variant is either read correctly (and then usable: a
 * tokenizer encodes, a model runs) or refused with a TesseraError naming the field, within
 * `MAX_MS`, with `memory()` unchanged. A header cannot make the reader allocate more than the
 * file justifies: every loaded tensor is at most 4x its bytes in the file (U8/BOOL -> i32), and
 * absurd declared sizes are refused before any allocation.
 *
 * Shared corpus helpers: `@tessera/testing` (`truncations`, `byteMutations`, `jsonConfusions`,
 * `runCorpus`). TESSERA_FUZZ_SEED / TESSERA_FUZZ_RUNS replay and lengthen the random part.
 */
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError } from '@tessera/core';
import { byteMutations, jsonConfusions, jsonPaths, runCorpus, truncations, type CorpusCase, type CorpusReport } from '@tessera/testing';
import { memory, ready } from '@tessera/tensor';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CharTokenizer,
  GPT2,
  GPT2ForSequenceClassification,
  GPT2Tokenizer,
  TransformerEncoderClassifier,
  loadTokenizer,
  openSafetensors,
  serializeSafetensors,
  type TensorToSave,
} from '../src/index.js';
import { SMALL, useTempDir } from './helpers.js';

const SEED = Number(process.env.TESSERA_FUZZ_SEED ?? 19);
const RUNS = process.env.TESSERA_FUZZ_RUNS ? Number(process.env.TESSERA_FUZZ_RUNS) : null;
/** A refusal must come this fast (generous: two shared cores; real refusals take well under 10 ms). */
const MAX_MS = 2000;
/** TESSERA_FUZZ_TRACE=1 prints each case before it runs (a case that hangs stops vitest's timers). */
const TRACE = process.env.TESSERA_FUZZ_TRACE === '1' ? (c: CorpusCase) => process.stderr.write(`corpus case: ${c.name}\n`) : undefined;
/** Counts per corpus, printed at the end and recorded in docs/reliability.md. */
const tally: Record<string, CorpusReport & { cases: number }> = {};

const tmp = useTempDir('tessera-file-fuzz-');
beforeAll(async () => {
  await ready();
});

/** memory() unchanged across a case, as a `runCorpus` check. */
function memoryCheck(): { before: () => void; after: () => string | undefined } {
  let snap = memory();
  return {
    before: () => void (snap = memory()),
    after: () => {
      const now = memory();
      return now.numTensors === snap.numTensors && now.numBytes === snap.numBytes ? undefined : `memory() changed: ${snap.numTensors} tensors / ${snap.numBytes} bytes -> ${now.numTensors} / ${now.numBytes}`;
    },
  };
}

/** Runs a corpus through `read`, records its counts under `area`, and fails listing every problem. */
async function expectCorpus(area: string, cases: CorpusCase[], read: (bytes: Uint8Array, c: CorpusCase) => unknown): Promise<CorpusReport> {
  const mem = memoryCheck();
  const report = await runCorpus(
    cases,
    async (bytes, c) => {
      mem.before();
      return read(bytes, c);
    },
    { errorClass: TesseraError, maxMs: MAX_MS, checkAfter: () => mem.after(), trace: TRACE },
  );
  tally[area] = { ...report, cases: cases.length };
  expect(report.failures, `${area}: ${report.failures.length} of ${cases.length} cases failed`).toEqual([]);
  return report;
}

// ---------------------------------------------------------------- safetensors

const ST_TENSORS: Record<string, TensorToSave> = {
  'a.f32': { dtype: 'F32', shape: [2, 3], data: [1, -2, 3.5, 0, 1e-3, -7] },
  'b.f16': { dtype: 'F16', shape: [4], data: [0.5, -1, 2, 65504] },
  'c.bf16': { dtype: 'BF16', shape: [1, 2], data: [3, -0.25] },
  'd.i32': { dtype: 'I32', shape: [3], data: [-5, 0, 2147483647] },
  'e.u8': { dtype: 'U8', shape: [2, 2], data: [0, 1, 128, 255] },
  'f.i64': { dtype: 'I64', shape: [2], data: [-3, 9] },
  'g.empty': { dtype: 'F32', shape: [0, 5], data: [] },
  'h.scalar': { dtype: 'F64', shape: [], data: [Math.PI] },
};
const ST_FILE = serializeSafetensors(ST_TENSORS, { format: 'pt' });

/** Reads every tensor; an accepted file must have loaded within 4x its own size. */
function readSafetensorsBytes(bytes: Uint8Array): void {
  const reader = openSafetensors(bytes);
  let loaded = 0;
  for (const name of reader.names()) {
    const t = reader.get(name);
    const n = t.shape.reduce((p, q) => p * q, 1);
    if (t.data.length !== n) throw new Error(`${name}: ${t.data.length} values for shape [${t.shape}]`);
    loaded += t.data.byteLength;
  }
  if (loaded > 4 * bytes.length) throw new Error(`loaded ${loaded} bytes from a ${bytes.length}-byte file`);
}

/** The file with its JSON header replaced (the length field rewritten, the data kept). */
function withHeader(header: unknown, data = ST_FILE.subarray(8 + headerLength(ST_FILE))): Uint8Array {
  const text = new TextEncoder().encode(typeof header === 'string' ? header : JSON.stringify(header));
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function headerLength(file: Uint8Array): number {
  return Number(new DataView(file.buffer, file.byteOffset, 8).getBigUint64(0, true));
}

const ST_HEADER = JSON.parse(new TextDecoder().decode(ST_FILE.subarray(8, 8 + headerLength(ST_FILE)))) as Record<string, unknown>;

/** Declared lengths for the 8-byte header-length field: 0, off by one, past the file, 2^32, 2^63. */
function headerLengthCases(): CorpusCase[] {
  const n = headerLength(ST_FILE);
  return [0n, 1n, BigInt(n - 1), BigInt(n + 1), BigInt(ST_FILE.length), 2n ** 32n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n].map((len) => {
    const bytes = ST_FILE.slice();
    new DataView(bytes.buffer).setBigUint64(0, len, true);
    return { name: `header length field = ${len}`, bytes, names: /header/ };
  });
}

/** Targeted corruptions of each tensor's header fields, absurd sizes included. */
function headerFieldCases(): CorpusCase[] {
  const out: CorpusCase[] = [];
  const tensorNames = Object.keys(ST_HEADER).filter((k) => k !== '__metadata__');
  const set = (name: string, field: string, value: unknown, label: string, names: string | RegExp): void => {
    const h = structuredClone(ST_HEADER) as Record<string, Record<string, unknown>>;
    h[name][field] = value;
    out.push({ name: `${name}.${field} = ${label}`, bytes: withHeader(h), names });
  };
  for (const name of tensorNames) {
    const e = ST_HEADER[name] as { shape: number[]; data_offsets: [number, number] };
    const [b, end] = e.data_offsets;
    for (const dtype of ['F31', 'f32', 'I4', '', 'F8_E4M3', 'U64', 'BOOL', 'F64']) set(name, 'dtype', dtype, JSON.stringify(dtype), name);
    for (const shape of [[2 ** 40], [2 ** 31, 2 ** 31], [-1], [1.5], [Number.MAX_SAFE_INTEGER, 2], [1, 0], [...e.shape, 1], [1e308]]) {
      set(name, 'shape', shape, JSON.stringify(shape), name);
    }
    for (const offs of [[b, end + 1], [b + 1, end + 1], [end, b], [-1, end], [b, 2 ** 53], [b, 1e308], [2 ** 40, 2 ** 40 + (end - b)], [b, end, 0], [b]]) {
      set(name, 'data_offsets', offs, JSON.stringify(offs), name);
    }
  }
  // Tensors that overlap, a duplicate key, metadata of the wrong kind, non-objects.
  const text = JSON.stringify(ST_HEADER);
  const dup = text.replace('{', `{"a.f32":${JSON.stringify(ST_HEADER['a.f32'])},`);
  out.push({ name: 'a.f32 twice', bytes: withHeader(dup), names: 'duplicate key' });
  out.push({ name: '__metadata__ = {"k": 1}', bytes: withHeader({ ...ST_HEADER, __metadata__: { k: 1 } }), names: '__metadata__' });
  out.push({ name: '__metadata__ = []', bytes: withHeader({ ...ST_HEADER, __metadata__: [] }), names: '__metadata__' });
  out.push({ name: 'header = []', bytes: withHeader('[]'), names: /header/ });
  out.push({ name: 'header nested 10000 deep', bytes: withHeader(`{"x":${'['.repeat(10000)}${']'.repeat(10000)}}`), names: /nesting/ });
  out.push({ name: 'header not UTF-8', bytes: withHeader(new TextDecoder('latin1').decode(Uint8Array.of(0x7b, 0xff, 0xfe, 0x7d))), names: undefined });
  return out;
}

describe('safetensors', () => {
  it('reads the intact file', () => {
    readSafetensorsBytes(ST_FILE);
    expect(openSafetensors(ST_FILE).get('d.i32').data).toEqual(Int32Array.of(-5, 0, 2147483647));
  });

  it(`refuses every truncation of a ${ST_FILE.length}-byte file with a FormatError`, async () => {
    const cases = truncations(ST_FILE, { every: 1024 });
    const r = await expectCorpus('safetensors truncations', cases, readSafetensorsBytes);
    // Cutting into the data section can only be refused: the header's ranges then run past the end.
    expect(r.read).toBe(0);
  });

  it('refuses header-length, dtype, shape and offset corruptions naming the tensor or field, before allocating', async () => {
    await expectCorpus('safetensors header fields', [...headerLengthCases(), ...headerFieldCases()], readSafetensorsBytes);
  });

  it('refuses or reads JSON type confusions of every header field', async () => {
    const cases = jsonConfusions(ST_HEADER, { maxDepth: 3 }).map((c) => ({ ...c, bytes: withHeader(new TextDecoder().decode(c.bytes)) }));
    await expectCorpus('safetensors header type confusions', cases, readSafetensorsBytes);
  });

  it('random byte mutations (corpus + seeded fast-check): read correctly or refused', async () => {
    await expectCorpus('safetensors byte mutations', byteMutations(ST_FILE, { count: RUNS ?? 300, seed: SEED }), readSafetensorsBytes);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat({ max: ST_FILE.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), async (edits) => {
        const bytes = ST_FILE.slice();
        for (const [at, v] of edits) bytes[at] = v;
        const r = await runCorpus([{ name: JSON.stringify(edits), bytes }], readSafetensorsBytes, { errorClass: TesseraError, maxMs: MAX_MS });
        expect(r.failures).toEqual([]);
      }),
      { seed: SEED, numRuns: RUNS ?? 200 },
    );
  });
});

// ---------------------------------------------------------------- model directories (config.json)

/** A saved model directory, copied per case with config.json replaced. */
async function configCorpus(area: string, saved: string, load: (dir: string) => Promise<{ dispose(): void }>, cases: CorpusCase[]): Promise<CorpusReport> {
  const dir = join(tmp(), `${area.replace(/\W+/g, '-')}-case`);
  await rm(dir, { recursive: true, force: true });
  await cp(saved, dir, { recursive: true });
  return expectCorpus(area, cases, async (bytes) => {
    await writeFile(join(dir, 'config.json'), bytes);
    const model = await load(dir);
    model.dispose();
  });
}

/** A refusal names the key, or (for a valid config the saved weights do not fit) the tensors. */
function keyOrWeights(cases: CorpusCase[]): CorpusCase[] {
  return cases.map((c) => ({ ...c, names: c.names === undefined ? undefined : new RegExp(`${c.names}|missing|unexpected|shape`) }));
}

describe('config.json', () => {
  it('GPT-2: each key confused, removed, truncated or mutated is read or refused naming the key', async () => {
    const saved = join(tmp(), 'gpt2');
    // One narrow layer: each of the ~500 cases loads (or refuses) a whole model directory.
    const model = new GPT2({ ...SMALL, vocab_size: 16, n_positions: 8, n_embd: 8, n_layer: 1 }, { seed: 1 });
    await model.savePretrained(saved, { tokenizer: CharTokenizer.fromCorpus('abcdefgh') });
    model.dispose();
    const config = JSON.parse(await readFile(join(saved, 'config.json'), 'utf8')) as Record<string, unknown>;
    const text = new TextEncoder().encode(JSON.stringify(config));
    const cases = [
      ...keyOrWeights(jsonConfusions(config, { maxDepth: 2 })),
      ...truncations(text, { every: 64, sample: 16, seed: SEED }).map((c) => ({ ...c, names: /config\.json/ })),
      ...byteMutations(text, { count: 40, seed: SEED }),
      // Sizes a backend cannot hold must be refused up front, naming the key.
      ...(['n_layer', 'n_embd', 'n_positions', 'vocab_size', 'n_inner'] as const).map((k) => ({
        name: `${k} = 2^40`,
        bytes: new TextEncoder().encode(JSON.stringify({ ...config, [k]: 2 ** 40, n_head: 1 })),
        names: k,
      })),
    ];
    await configCorpus('GPT-2 config.json', saved, (dir) => GPT2.fromPretrained(dir), cases);
    await configCorpus('GPT-2 sequence classification config.json', saved, (dir) => GPT2ForSequenceClassification.fromPretrained(dir, { numLabels: 2, seed: 0 }), keyOrWeights(jsonConfusions(config, { maxDepth: 1 })));
  });

  it('encoder classifier: each key confused or removed is read or refused naming the key', async () => {
    const saved = join(tmp(), 'encoder');
    const clf = new TransformerEncoderClassifier({ vocabSize: 16, numLabels: 2, maxLength: 8, dModel: 8, numHeads: 2, numLayers: 1, seed: 0 });
    await clf.savePretrained(saved);
    clf.dispose();
    const config = JSON.parse(await readFile(join(saved, 'config.json'), 'utf8')) as Record<string, unknown>;
    const cases = [
      ...keyOrWeights(jsonConfusions(config, { maxDepth: 1 })),
      ...(['numLayers', 'dModel', 'dFF', 'vocabSize', 'maxLength'] as const).map((k) => ({
        name: `${k} = 2^40`,
        bytes: new TextEncoder().encode(JSON.stringify({ ...config, [k]: 2 ** 40 })),
        names: k,
      })),
    ];
    await configCorpus('encoder classifier config.json', saved, (dir) => TransformerEncoderClassifier.fromPretrained(dir), cases);
  });
});

// ---------------------------------------------------------------- tokenizer files

/** An accepted tokenizer must work: encode and decode a sample without a raw error. */
function useTokenizer(tok: GPT2Tokenizer | CharTokenizer): void {
  try {
    tok.decode(tok.encode('abc'));
  } catch (e) {
    // Text outside a damaged vocabulary may be refused, with a typed error.
    if (!(e instanceof TesseraError)) throw e;
  }
}

describe('tokenizer files', () => {
  const tokJson = async (): Promise<Record<string, unknown>> =>
    JSON.parse(await readFile(join(import.meta.dirname, 'fixtures/hf-tiny-gpt2/tokenizer.json'), 'utf8')) as Record<string, unknown>;

  it('tokenizer.json: confusions, truncations and mutations', async () => {
    const doc = await tokJson();
    // Keep the corpus small: a few vocabulary entries and merges are enough to reach every check.
    const model = doc.model as Record<string, unknown>;
    const vocab = Object.fromEntries(Object.entries(model.vocab as Record<string, number>).slice(0, 300));
    const small = { ...doc, model: { ...model, vocab, merges: (model.merges as unknown[]).slice(0, 8) } };
    const text = new TextEncoder().encode(JSON.stringify(small));
    const cases = [
      ...jsonConfusions(small, { paths: [...jsonPaths(small, 3).filter((p) => !(p[1] === 'vocab' && p.length === 3)), ...Object.keys(vocab).slice(0, 3).map((k) => ['model', 'vocab', k])] }).map((c) =>
        // A special token's content colliding with a vocabulary entry is named by both tokens.
        c.name.startsWith('added_tokens[') ? { ...c, names: new RegExp(`${String(c.names)}|special token`) } : c,
      ),
      ...truncations(text, { every: 128, sample: 32, seed: SEED }).map((c) => ({ ...c, names: /tokenizer\.json/ })),
      ...byteMutations(text, { count: 60, seed: SEED }),
    ];
    await expectCorpus('tokenizer.json', cases, (bytes) => useTokenizer(GPT2Tokenizer.fromTokenizerJson(new TextDecoder().decode(bytes))));
  });

  it('vocab.json + merges.txt, through loadTokenizer: confusions, truncations and mutations of each file', async () => {
    const tok = GPT2Tokenizer.fromTokenizerJson(await tokJson());
    const vocab = JSON.stringify(tok.toVocabJson());
    const merges = tok.toMergesTxt();
    const dir = join(tmp(), 'gpt2-files');
    await mkdir(dir, { recursive: true });
    const enc = new TextEncoder();
    const vocabDoc = JSON.parse(vocab) as Record<string, number>;
    const someKeys = Object.keys(vocabDoc).slice(0, 6).map((k) => [k]);
    const vocabCases = [
      ...jsonConfusions(vocabDoc, { paths: someKeys }),
      ...truncations(enc.encode(vocab), { every: 64, sample: 32, seed: SEED }).map((c) => ({ ...c, names: /vocab\.json/ })),
      ...byteMutations(enc.encode(vocab), { count: 40, seed: SEED }),
      { name: 'vocab.json = []', bytes: enc.encode('[]'), names: 'vocab.json' },
    ];
    const mergeCases = [
      ...truncations(enc.encode(merges), { every: 64, sample: 32, seed: SEED }),
      ...byteMutations(enc.encode(merges), { count: 40, seed: SEED + 1 }),
      { name: 'a merge of three symbols', bytes: enc.encode(merges.replace(/\n(.*)\n/, '\n$1 x\n')), names: 'merges.txt' },
      { name: 'a merge of unknown symbols', bytes: enc.encode(`${merges}\nqqq zzz\n`), names: undefined },
    ];
    await writeFile(join(dir, 'merges.txt'), merges);
    await expectCorpus('vocab.json', vocabCases, async (bytes) => {
      await writeFile(join(dir, 'vocab.json'), bytes);
      useTokenizer(await loadTokenizer(dir));
    });
    await writeFile(join(dir, 'vocab.json'), vocab);
    await expectCorpus('merges.txt', mergeCases, async (bytes) => {
      await writeFile(join(dir, 'merges.txt'), bytes);
      useTokenizer(await loadTokenizer(dir));
    });
  });

  it('char_tokenizer.json: confusions, truncations and mutations', async () => {
    const json = JSON.stringify(CharTokenizer.fromCorpus('hello world', { unknown: 'unk' }));
    const doc = JSON.parse(json) as Record<string, unknown>;
    const enc = new TextEncoder();
    const cases = [
      ...jsonConfusions(doc, { maxDepth: 2 }),
      ...truncations(enc.encode(json), { every: 256 }).map((c) => ({ ...c, names: /char tokenizer/ })),
      ...byteMutations(enc.encode(json), { count: 60, seed: SEED }),
      { name: 'chars not ascending', bytes: enc.encode(JSON.stringify({ ...doc, chars: ['b', 'a'] })), names: /ascending/ },
      { name: 'a 2-character entry', bytes: enc.encode(JSON.stringify({ ...doc, chars: ['ab'] })), names: /code point/ },
    ];
    await expectCorpus('char_tokenizer.json', cases, (bytes) => useTokenizer(CharTokenizer.fromJSON(new TextDecoder().decode(bytes))));
  });

  it('the counts, for docs/reliability.md', () => {
    const total = Object.values(tally).reduce((s, r) => s + r.cases, 0);
    for (const [area, r] of Object.entries(tally)) console.log(`${area}: ${r.cases} cases, ${r.read} read, ${r.refused} refused ${JSON.stringify(r.byError)}`);
    console.log(`file corpus (models): ${total} cases`);
    expect(total).toBeGreaterThan(1000);
  });
});
