/** Errors of the command line: each becomes one line on stderr and a non-zero exit. */

import { TesseraError } from '@tessera/core';

/** A bad command line (unknown option, missing value, out-of-range number); exit code 2. */
export class UsageError extends TesseraError {
  constructor(
    message: string,
    /** The command whose `--help` the user should read, when there is one. */
    readonly command?: string,
  ) {
    super(message);
  }
}

/** A file, directory or checkpoint the command cannot use; exit code 1. */
export class CliError extends TesseraError {}
