/** `tessera bench`: runs the repository's benchmark suites, each in its own Node process. */

import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineCommand } from '../args.js';
import { command } from '../command.js';
import { CliError } from '../errors.js';
import { requireDir } from '../data/files.js';

const spec = defineCommand({
  name: 'bench',
  summary: 'Run the benchmark suites (benchmarks/*.bench.mjs), quick settings unless --full.',
  description: 'Each suite runs in its own `node` process, one after another; the suites print their tables and write JSON under benchmarks/results/.',
  options: {
    full: { type: 'boolean', help: 'full sizes and iteration counts (default: --quick)' },
    filter: { type: 'string', placeholder: '<text>', help: 'only suites whose file name contains <text>' },
    dir: { type: 'string', placeholder: '<dir>', help: 'the benchmarks folder (default: found from the current directory or the installed CLI)' },
  },
  examples: ['tessera bench', 'tessera bench --filter matmul --full'],
});

/** The nearest `benchmarks/` folder above `start` that holds `*.bench.mjs` files. */
function findBenchDir(start: string): string | undefined {
  let dir = resolve(start);
  for (;;) {
    const candidate = join(dir, 'benchmarks');
    if (existsSync(candidate) && readdirSync(candidate).some((f) => f.endsWith('.bench.mjs'))) return candidate;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

export const bench = command(spec, async ({ options }, io) => {
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = options.dir ?? findBenchDir(process.cwd()) ?? findBenchDir(here);
  if (!dir) throw new CliError('no benchmarks/ folder with *.bench.mjs files above the current directory; pass --dir');
  await requireDir(dir, 'cannot read --dir');
  const suites = readdirSync(dir)
    .filter((f) => f.endsWith('.bench.mjs') && (options.filter === undefined || f.includes(options.filter)))
    .sort();
  if (suites.length === 0) throw new CliError(`no benchmark suites in ${dir}${options.filter ? ` match --filter ${options.filter}` : ''}`);
  let failed = 0;
  for (const suite of suites) {
    io.stdout.write(`\n== ${suite}${options.full ? '' : ' --quick'}\n`);
    const args = [join(dir, suite), ...(options.full ? [] : ['--quick'])];
    const code = await new Promise<number>((done, fail) => {
      const child = spawn(process.execPath, args, { cwd: dir, stdio: 'inherit' });
      child.on('error', (e) => fail(new CliError(`cannot start ${suite}: ${e.message}`)));
      child.on('exit', (c, signal) => done(c ?? (signal ? 128 : 1)));
    });
    if (code !== 0) {
      failed++;
      io.stderr.write(`tessera bench: ${suite} exited with code ${code}\n`);
    }
  }
  return failed === 0 ? 0 : 1;
});
