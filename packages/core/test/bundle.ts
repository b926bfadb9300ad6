// Bundling an entry module the way a web app would (rolldown, the bundler under vite 8), for
// the tests that check what a bundle carries: the wasm builds must stay out of bundles that
// never create a wasm backend.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rolldown, type OutputChunk } from 'rolldown';

/** The base64 of "\0asm", the start of every wasm binary. */
export const WASM_MAGIC_B64 = 'AGFzbQ';

/** How `bundleChunks` bundles. */
export interface BundleOptions {
  /** Package name -> the file it resolves to. */
  alias: Record<string, string>;
  /** Imports left as they are. */
  external?: string[];
  /**
   * Drop unused code (default true). false stands for loading the modules unbundled (a dev
   * server, plain ES modules in a page): every statically imported module is then loaded.
   */
  treeshake?: boolean;
}

/** Bundles `source` (an ES module) for the browser and returns its chunks. */
export async function bundleChunks(source: string, { alias, external = [], treeshake = true }: BundleOptions): Promise<OutputChunk[]> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bundle-'));
  try {
    const input = join(dir, 'entry.js');
    writeFileSync(input, source);
    const b = await rolldown({ input, platform: 'browser', logLevel: 'silent', external, treeshake, resolve: { alias } });
    const { output } = await b.generate({ format: 'esm' });
    await b.close();
    return output.filter((o): o is OutputChunk => o.type === 'chunk');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The chunks a page loads before running the entry: the entry and its static imports,
 * transitively (chunks reached only through import() load when that call runs).
 */
export function staticallyLoaded(chunks: readonly OutputChunk[]): OutputChunk[] {
  const byName = new Map(chunks.map((c) => [c.fileName, c]));
  const seen = new Set<OutputChunk>();
  const visit = (c: OutputChunk | undefined): void => {
    if (!c || seen.has(c)) return;
    seen.add(c);
    for (const f of c.imports) visit(byName.get(f));
  };
  for (const c of chunks) if (c.isEntry) visit(c);
  return [...seen];
}

/** The names of the chunks in `chunks` that hold wasm base64. */
export function chunksWithWasm(chunks: readonly OutputChunk[]): string[] {
  return chunks.filter((c) => c.code.includes(WASM_MAGIC_B64)).map((c) => c.fileName);
}
