// The publishable workspace packages (packages/* without "private": true) and `npm pack` over
// them; shared by lint-packages.mjs and pack-smoke.mjs.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** `{ name, dir }` of every package under packages/ that is not private, in directory order. */
export function publishablePackages() {
  const base = join(ROOT, 'packages');
  return readdirSync(base)
    .map((d) => join(base, d))
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
    .filter(({ manifest }) => manifest.private !== true)
    .map(({ dir, manifest }) => ({ name: manifest.name, dir }));
}

/** Runs `npm pack` in `pkg.dir` into `dest`; returns the tarball's path. */
export function pack(pkg, dest) {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dest], {
    cwd: pkg.dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const [info] = JSON.parse(out);
  return join(dest, info.filename);
}

/** Runs a command, streaming its output; returns true when it exits 0. */
export function run(cmd, args, options = {}) {
  try {
    execFileSync(cmd, args, { stdio: 'inherit', ...options });
    return true;
  } catch {
    return false;
  }
}
