// Packs every publishable package and checks the tarball as a registry user would get it:
// publint (package.json fields, exports, files) with warnings as errors, and
// @arethetypeswrong/cli (types resolve for every import path and resolution mode). The packages
// are ESM-only, so attw ignores only cjs-resolves-to-esm (CommonJS callers use import()).
// Run after a build: `npm run lint:packages`. Exits 1 when any package has a problem.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, packAll, publishablePackages, run } from './packages.mjs';

const bin = (name) => join(ROOT, 'node_modules', '.bin', name);
const dest = mkdtempSync(join(tmpdir(), 'tessera-lint-'));
const failed = [];
try {
  const packages = publishablePackages();
  const tarballs = packAll(packages, dest);
  for (const [i, pkg] of packages.entries()) {
    console.log(`=== ${pkg.name}`);
    const tarball = tarballs[i];
    // Both tools run even when the first fails, so one run reports every problem.
    const lint = run(bin('publint'), ['run', tarball, '--strict']);
    const types = run(bin('attw'), [tarball, '--ignore-rules', 'cjs-resolves-to-esm', '--format', 'ascii']);
    if (!lint || !types) failed.push(pkg.name);
  }
} finally {
  rmSync(dest, { recursive: true, force: true });
}
if (failed.length > 0) {
  console.error(`lint:packages: problems in ${failed.join(', ')}`);
  process.exit(1);
}
console.log('lint:packages: every package passes publint and attw');
