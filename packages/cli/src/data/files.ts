/**
 * File access with CLI-grade errors and atomic writes.
 */

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile, open } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { CliError } from '../errors.js';

/** A one-line description of a file-system error: `no such file: x`. */
export function describeFsError(e: unknown, what: string): string {
  const err = e as NodeJS.ErrnoException;
  const reasons: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EISDIR: 'is a directory',
    ENOTDIR: 'not a directory',
    ENOSPC: 'no space left on device',
    EROFS: 'read-only file system',
  };
  const reason = (err.code && reasons[err.code]) ?? err.message ?? String(e);
  return `${what}: ${reason}`;
}

/** Reads a UTF-8 text file or throws a `CliError` naming it. */
export async function readText(path: string, what = 'cannot read'): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    throw new CliError(describeFsError(e, `${what} ${path}`));
  }
}

/** Throws a `CliError` unless `path` is a directory. */
export async function requireDir(path: string, what: string): Promise<void> {
  let ok = false;
  try {
    ok = (await stat(path)).isDirectory();
  } catch (e) {
    throw new CliError(describeFsError(e, `${what} ${path}`));
  }
  if (!ok) throw new CliError(`${what} ${path}: not a directory`);
}

/** Writes `data` to `path` atomically: a temporary file in the same folder, fsync, then rename. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new CliError(describeFsError(e, `cannot write ${path}`));
  }
}

/**
 * Replaces the directory `dir` with one filled by `fill`, so that at every moment either the old
 * complete directory or the new complete one is in place: `fill` writes into a fresh sibling
 * `dir.tmp-*`, which is then renamed over. Renaming onto a non-empty directory is not possible on
 * POSIX, so an existing `dir` is first moved to `dir.old-*` and removed afterwards; if the process
 * dies between the two renames, the previous checkpoint survives as `dir.old-*` (and
 * `findCheckpointDir` picks it up).
 */
export async function replaceDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const abs = resolve(dir);
  const suffix = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = `${abs}.tmp-${suffix}`;
  const old = `${abs}.old-${suffix}`;
  try {
    await mkdir(dirname(abs), { recursive: true });
    await mkdir(tmp);
  } catch (e) {
    throw new CliError(describeFsError(e, `cannot create checkpoint directory ${tmp}`));
  }
  try {
    await fill(tmp);
    await syncDir(tmp);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  try {
    const hadOld = existsSync(abs);
    if (hadOld) await rename(abs, old);
    await rename(tmp, abs);
    await syncDir(dirname(abs));
    if (hadOld) await rm(old, { recursive: true, force: true });
  } catch (e) {
    throw new CliError(describeFsError(e, `cannot move the new checkpoint into ${abs}`));
  }
}

/**
 * The directory to load a checkpoint from: `dir` itself, or — when a save was interrupted between
 * its two renames — the newest `dir.old-*` left beside it.
 */
export async function findCheckpointDir(dir: string): Promise<string | undefined> {
  const abs = resolve(dir);
  if (existsSync(abs)) return abs;
  let names: string[];
  try {
    names = await readdir(dirname(abs));
  } catch {
    return undefined;
  }
  const prefix = `${basename(abs)}.old-`;
  const olds = names.filter((n) => n.startsWith(prefix)).map((n) => join(dirname(abs), n));
  if (olds.length === 0) return undefined;
  const times = await Promise.all(olds.map(async (p) => [p, (await stat(p)).mtimeMs] as const));
  times.sort((a, b) => b[1] - a[1]);
  return times[0][0];
}

async function syncDir(dir: string): Promise<void> {
  // fsync on a directory makes its entries durable; some platforms refuse it, which is harmless here.
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* not supported on this platform */
  }
}

/** Writes a text file (not atomically; for files inside a directory that `replaceDirAtomic` publishes). */
export async function writeText(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text, 'utf8');
  } catch (e) {
    throw new CliError(describeFsError(e, `cannot write ${path}`));
  }
}
