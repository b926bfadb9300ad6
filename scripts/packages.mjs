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

/** `npm pack` of `packages` into `dest` in one npm run; returns the tarballs' paths, in order. */
export function packAll(packages, dest) {
  const workspaces = packages.flatMap((pkg) => ['--workspace', pkg.dir]);
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dest, ...workspaces], {
    cwd: ROOT,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const byName = new Map(JSON.parse(out).map((info) => [info.name, join(dest, info.filename)]));
  return packages.map((pkg) => byName.get(pkg.name));
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
