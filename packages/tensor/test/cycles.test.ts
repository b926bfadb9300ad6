/**
 * The package's runtime import graph has no cycle: op modules import the
 * Tensor class, the class imports no op, and the chained methods are attached
 * in one module (methods.ts). Type-only imports (`import type`, or `type`
 * on every name) are erased by the compiler and are not edges.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

/** Relative modules `file` imports or re-exports at runtime, as absolute .ts paths. */
export function runtimeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?([^;]*?)\s*from\s*['"](\.[^'"]+)['"]/gms;
  for (const m of text.matchAll(re)) {
    if (m[2]) continue;
    const names = /\{([^}]*)\}/s.exec(m[3]);
    const clause = m[3].replace(/\{[^}]*\}/s, '').replace(/,/g, '').trim();
    if (names && !clause && names[1].split(',').map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith('type '))) continue;
    out.push(resolve(dirname(file), m[4].replace(/\.js$/, '.ts')));
  }
  for (const m of text.matchAll(/^\s*import\s*['"](\.[^'"]+)['"]/gm)) out.push(resolve(dirname(file), m[1].replace(/\.js$/, '.ts')));
  return out;
}

/** Every cycle's modules (strongly connected components of more than one module, or a self-import). */
export function importCycles(files: readonly string[]): string[][] {
  const graph = new Map(files.map((f) => [f, runtimeImports(f)]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)!.includes(v)) cycles.push(scc.map((f) => relative(SRC, f)).sort());
    }
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return cycles;
}

describe('module structure', () => {
  it('the runtime import graph of src has no cycle', () => {
    expect(importCycles(sources(SRC))).toEqual([]);
  });

  it('scope.ts and autograd.ts import neither the Tensor class nor an op at runtime', () => {
    for (const f of ['scope.ts', 'autograd.ts']) {
      const deps = runtimeImports(join(SRC, f)).map((d) => relative(SRC, d));
      expect(deps.filter((d) => d === 'tensor.ts' || d.startsWith('ops/')), f).toEqual([]);
    }
  });

  it('the checker finds a cycle and skips type-only imports', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-cycles-'));
    try {
      const file = (name: string, text: string) => {
        writeFileSync(join(dir, name), text);
        return join(dir, name);
      };
      const a = file('a.ts', "import { b } from './b.js';\nimport type { C } from './c.js';\nexport const a = b;\n");
      const b = file('b.ts', "import { type A, a } from './a.js';\nexport const b = 1;\n");
      const c = file('c.ts', "import { type A } from './a.js';\nimport {\n  type B,\n} from './b.js';\nexport type C = A | B;\n");
      expect(runtimeImports(c)).toEqual([]);
      expect(importCycles([a, b, c]).map((cyc) => cyc.length)).toEqual([2]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
