// Memory of GPT-2 124M's weights before and after weight-only quantization, measured with
// memory().numBytes (bytes of backend storage held by live tensors) on the wasm backend, not
// computed from a formula: the f32 model, then int8 (groups 32, 64, 128) and int4 (group 32) models each built
// fresh, quantized, and the same model saved and loaded back as a quantized directory
// (which never allocates the f32 weights: the peak is the quantized size too).
//
//   node benchmarks/quantize-memory.mjs          writes results/quantize-memory.json
//
// Takes about a minute (quantizing 124M weights on the host, one thread).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createWasmBackend } from '@tessera/core';
import { GPT2, quantize, quantizedBytes } from '@tessera/models';
import { memory, setBackend } from '@tessera/tensor';

const here = dirname(fileURLToPath(import.meta.url));
const be = await createWasmBackend({ threads: 1 });
await setBackend(be);
const MB = (n) => +(n / 1e6).toFixed(1);
const MiB = (n) => +(n / 2 ** 20).toFixed(1);
console.log(`node ${process.version}, ${os.cpus()[0].model}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);

const rows = [];
const base = memory().numBytes;
const f32 = new GPT2({}, { seed: 0 });
const f32Bytes = memory().numBytes - base;
rows.push({ model: 'f32', bytes: f32Bytes });
console.log(`f32: ${MB(f32Bytes)} MB (${MiB(f32Bytes)} MiB)`);
const tmp = mkdtempSync(join(os.tmpdir(), 'tessera-qmem-'));
try {
  for (const [bits, groupSize] of [[8, 32], [8, 64], [8, 128], [4, 32]]) {
    const m = rows.length === 1 ? f32 : new GPT2({}, { seed: 0 });
    const t0 = performance.now();
    await quantize(m, { bits, groupSize });
    const seconds = (performance.now() - t0) / 1000;
    const bytes = memory().numBytes - base;
    const q = quantizedBytes(m);
    const dir = join(tmp, `q${bits}-${groupSize}`);
    await m.savePretrained(dir, { tokenizer: null });
    m.dispose();
    const before = memory().numBytes;
    const loaded = await GPT2.fromPretrained(dir, { tokenizer: false });
    const loadedBytes = memory().numBytes - before;
    loaded.dispose();
    rows.push({ model: `int${bits} g${groupSize}`, bytes, quantizedCopies: q.quantized, f32Rest: bytes - q.quantized, loadedBytes, quantizeSeconds: +seconds.toFixed(1) });
    console.log(`int${bits} g${groupSize}: ${MB(bytes)} MB (${MiB(bytes)} MiB) = quantized ${MB(q.quantized)} MB + f32 rest ${MB(bytes - q.quantized)} MB; loaded from its directory: ${MB(loadedBytes)} MB; quantize ${seconds.toFixed(1)} s`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'quantize-memory.json'), `${JSON.stringify({ node: process.version, cpu: os.cpus()[0].model, rows }, null, 2)}\n`);
