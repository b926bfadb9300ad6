/**
 * File-system helpers for saves that must survive a crash (Node): fsync of a file or directory,
 * and whether the process that owns a temporary save directory (the pid in its name) still runs.
 * Shared by `savePretrained` and the CLI's checkpoint directories.
 */

/** fsyncs `path` (a file, or a directory to make its entries durable); platforms that refuse a directory fsync lose nothing else. */
export async function fsyncPath(path: string): Promise<void> {
  const { open } = await import('node:fs/promises');
  try {
    const fh = await open(path, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    /* not supported here */
  }
}

/**
 * True while process `pid` runs (this one included). EPERM means it runs as another user. A
 * killed process its parent has not reaped yet (a zombie, state Z in /proc) writes nothing more,
 * so it counts as ended.
 */
export async function processAlive(pid: number): Promise<boolean> {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  const { readFile } = await import('node:fs/promises');
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces and parentheses.
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS, Windows): kill(pid, 0) is all there is
  }
}
