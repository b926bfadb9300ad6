/**
 * Models sit on @tessera/tensor: no backend kernels, storages or feature flags
 * in packages/models/src. Errors and helpers from @tessera/core (ArgumentError,
 * fmtShape, hash32, ...) are fine; reaching into a backend is not.
 */
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

/** Every .ts file under `dir`. */
async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sources(path)));
    else if (e.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** What only a backend's own code (or @tessera/tensor) should use. */
const BACKEND_DETAILS: [string, RegExp][] = [
  ['features.syncRead', /features\.syncRead/],
  ['readSync', /\breadSync\b/],
  ['a backend read or write', /\bbe\.(read|write)\b|\.backend\.(read|write)\b/],
  ['instanceof ReferenceBackend', /instanceof\s+ReferenceBackend/],
  ['ReferenceBackend import', /import[^;]*\bReferenceBackend\b[^;]*from '@tessera\/core'/],
  ['a kernel fetched from the backend', /\b(requireFusedKernel|fusedKernel)\b/],
  ['a dense/strided storage operand', /\.(dense|strided)\(/],
  ['a Storage', /\bStorage\b/],
];

describe('layering', () => {
  it('packages/models/src uses no backend details', async () => {
    const found: string[] = [];
    for (const file of await sources(SRC)) {
      const lines = (await readFile(file, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        for (const [what, re] of BACKEND_DETAILS) if (re.test(line)) found.push(`${relative(SRC, file)}:${i + 1}: ${what}: ${line.trim()}`);
      });
    }
    expect(found).toEqual([]);
  });
});
