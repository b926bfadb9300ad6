/**
 * File access with CLI-grade errors and atomic writes.
 */

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile, open } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fsyncPath, processAlive } from '@tessera/models';
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
 * Throws a `CliError` (one line, naming `dir`) unless `dir` may be replaced by a directory Tessera
 * writes: it does not exist, is an empty directory, or is a directory holding every file named in
 * `markers` (so Tessera wrote it: a checkpoint's config.json and trainer_state.json, a fine-tuned
 * model's finetune.json). A regular file, or any other directory, is the user's and is never
 * replaced, --overwrite or not.
 */
export async function checkReplaceable(dir: string, markers: readonly string[]): Promise<void> {
  let isDir: boolean;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new CliError(describeFsError(e, `cannot use ${dir}`));
  }
  if (!isDir) throw new CliError(`${dir} is an existing file, not a directory Tessera wrote; refusing to replace it (choose another --out)`);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    throw new CliError(describeFsError(e, `cannot read ${dir}`));
  }
  const missing = markers.filter((m) => !names.includes(m));
  if (names.length > 0 && missing.length > 0) {
    throw new CliError(`${dir} is a directory Tessera did not write (it has no ${missing.join(' or ')}); refusing to replace it (choose another --out, or empty it)`);
  }
}

/**
 * Replaces the directory `dir` with one filled by `fill`, so that at every moment either the old
 * complete directory or the new complete one is in place: `fill` writes into a fresh sibling
 * `dir.tmp-*`, which is then renamed over. Renaming onto a non-empty directory is not possible on
 * POSIX, so an existing `dir` is first moved to `dir.old-*` and removed afterwards; if the process
 * dies between the two renames, the previous checkpoint survives as `dir.old-*` (and
 * `recoverCheckpointDir` renames it back). Every file of the new directory, and the directories,
 * are fsynced before the renames, so a power loss also leaves the old or the new checkpoint.
 * `dir` is replaced only where `checkReplaceable(dir, markers)` allows it.
 */
export async function replaceDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>, markers: readonly string[]): Promise<void> {
  const abs = resolve(dir);
  await checkReplaceable(abs, markers);
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
    await syncFiles(tmp);
    await fsyncPath(tmp);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  try {
    const hadOld = existsSync(abs);
    if (hadOld) await rename(abs, old);
    await rename(tmp, abs);
    await fsyncPath(dirname(abs));
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

/**
 * Brings the checkpoint directory `dir` to one clean state before a command opens it (generate,
 * eval, train --resume). A save killed between its two renames leaves only `dir.old-*`: the
 * newest such copy is renamed back to `dir`. Then the `dir.tmp-*` (a save killed while writing)
 * and `dir.old-*` (a save killed before removing the previous checkpoint) siblings are removed.
 * A sibling whose writer, the pid in its name, still runs is left alone: it is a save in
 * progress. Returns the directory to read (`dir`, or an old copy a running save still holds),
 * or undefined when there is none.
 */
export async function recoverCheckpointDir(dir: string): Promise<string | undefined> {
  const abs = resolve(dir);
  const parent = dirname(abs);
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return existsSync(abs) ? abs : undefined;
  }
  const pattern = /^\.(tmp|old)-(\d+)-[0-9a-f]+$/;
  const stale: { path: string; kind: string; mtime: number }[] = [];
  for (const n of names) {
    if (!n.startsWith(basename(abs))) continue;
    const m = pattern.exec(n.slice(basename(abs).length));
    if (!m || (await processAlive(Number(m[2])))) continue;
    const path = join(parent, n);
    stale.push({ path, kind: m[1], mtime: (await stat(path)).mtimeMs });
  }
  const olds = stale.filter((s) => s.kind === 'old').sort((a, b) => b.mtime - a.mtime);
  try {
    if (!existsSync(abs) && olds.length > 0) {
      await rename(olds[0].path, abs);
      await fsyncPath(parent);
      olds.shift();
    }
    for (const s of [...stale.filter((x) => x.kind === 'tmp'), ...olds]) await rm(s.path, { recursive: true, force: true });
  } catch (e) {
    throw new CliError(describeFsError(e, `cannot recover the checkpoint ${abs}`));
  }
  return findCheckpointDir(abs);
}

/** fsyncs every regular file in `dir` (and its subfolders), so their contents are durable before the rename publishes them. */
async function syncFiles(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      await syncFiles(path);
      await fsyncPath(path);
    } else if (entry.isFile()) {
      const fh = await open(path, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
    }
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
