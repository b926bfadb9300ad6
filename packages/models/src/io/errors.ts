/** Errors of the file readers and writers in `io/`. */

import { TesseraError } from '@tessera/core';

/**
 * A malformed file: a bad header, a byte range that does not fit, an unknown dtype, JSON that
 * does not parse. The message names the file part, the tensor and the byte offsets involved.
 */
export class FormatError extends TesseraError {}

/**
 * A file that cannot be opened or read as one: missing (`code` 'ENOENT'), a directory
 * ('EISDIR'), unreadable ('EACCES'), ... The message names the path.
 */
export class FileError extends TesseraError {
  constructor(
    message: string,
    /** The path as given. */
    readonly path: string,
    /** The system error code, when there was one. */
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

const REASONS: Record<string, string> = {
  ENOENT: 'does not exist',
  EISDIR: 'is a directory, not a file',
  EACCES: 'cannot be read (permission denied)',
  EPERM: 'cannot be read (operation not permitted)',
  ENOTDIR: 'does not exist (a part of the path is not a directory)',
  ELOOP: 'cannot be opened (too many symbolic links)',
  ENAMETOOLONG: 'cannot be opened (the name is too long)',
};

/** A system error from reading `path` as a FileError naming it (anything else is returned as it is). */
export function fileError(what: string, path: string, e: unknown): unknown {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return e;
  return new FileError(`${what} ${JSON.stringify(path)} ${REASONS[code] ?? `cannot be read (${code})`}`, path, code);
}
