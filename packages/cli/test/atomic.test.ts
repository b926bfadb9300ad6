import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError } from '../src/errors.js';
import { findCheckpointDir, recoverCheckpointDir, replaceDirAtomic, writeFileAtomic } from '../src/data/files.js';
import { tempDir } from './helpers.js';

describe('atomic writes', () => {
  it('writeFileAtomic replaces a file and leaves no temporary behind', async () => {
    const dir = tempDir();
    const path = join(dir, 'state.json');
    writeFileSync(path, 'old');
    await writeFileAtomic(path, 'new');
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('writeFileAtomic into a missing folder throws a CliError naming the path', async () => {
    const dir = tempDir();
    await expect(writeFileAtomic(join(dir, 'no', 'f.txt'), 'x')).rejects.toThrow(CliError);
    await expect(writeFileAtomic(join(dir, 'no', 'f.txt'), 'x')).rejects.toThrow(/cannot write .*f\.txt: no such file or directory/);
  });

  it('replaceDirAtomic publishes a complete new directory over an old one', async () => {
    const root = tempDir();
    const ck = join(root, 'ck');
    mkdirSync(ck);
    writeFileSync(join(ck, 'a.txt'), 'old a');
    writeFileSync(join(ck, 'stale.txt'), 'gone after replace');
    await replaceDirAtomic(ck, async (tmp) => {
      expect(tmp).not.toBe(ck);
      // While the new directory is being filled, the old one is untouched.
      expect(readFileSync(join(ck, 'a.txt'), 'utf8')).toBe('old a');
      writeFileSync(join(tmp, 'a.txt'), 'new a');
      writeFileSync(join(tmp, 'b.txt'), 'new b');
    }, ['a.txt']);
    expect(readdirSync(ck).sort()).toEqual(['a.txt', 'b.txt']);
    expect(readFileSync(join(ck, 'a.txt'), 'utf8')).toBe('new a');
    expect(readdirSync(root)).toEqual(['ck']);
  });

  it('a failing fill leaves the old directory intact and cleans up', async () => {
    const root = tempDir();
    const ck = join(root, 'ck');
    mkdirSync(ck);
    writeFileSync(join(ck, 'a.txt'), 'old a');
    await expect(
      replaceDirAtomic(ck, async (tmp) => {
        writeFileSync(join(tmp, 'a.txt'), 'half');
        throw new Error('disk full');
      }, ['a.txt']),
    ).rejects.toThrow('disk full');
    expect(readdirSync(ck)).toEqual(['a.txt']);
    expect(readFileSync(join(ck, 'a.txt'), 'utf8')).toBe('old a');
    expect(readdirSync(root)).toEqual(['ck']);
  });

  it('replaceDirAtomic never replaces a file or a directory without its markers', async () => {
    const root = tempDir();
    const file = join(root, 'notes.txt');
    writeFileSync(file, 'precious');
    const fill = async (tmp: string) => writeFileSync(join(tmp, 'config.json'), '{}');
    await expect(replaceDirAtomic(file, fill, ['config.json'])).rejects.toThrow(CliError);
    await expect(replaceDirAtomic(file, fill, ['config.json'])).rejects.toThrow(`${file} is an existing file, not a directory Tessera wrote; refusing to replace it`);
    const mine = join(root, 'photos');
    mkdirSync(mine);
    writeFileSync(join(mine, 'a.jpg'), 'x');
    await expect(replaceDirAtomic(mine, fill, ['config.json', 'trainer_state.json'])).rejects.toThrow(
      `${mine} is a directory Tessera did not write (it has no config.json or trainer_state.json); refusing to replace it`,
    );
    expect(readFileSync(file, 'utf8')).toBe('precious');
    expect(readdirSync(mine)).toEqual(['a.jpg']);
    expect(readdirSync(root).sort()).toEqual(['notes.txt', 'photos']);
    // an empty directory holds nothing to lose
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await replaceDirAtomic(empty, fill, ['config.json']);
    expect(readdirSync(empty)).toEqual(['config.json']);
  });

  it('creates missing parent folders', async () => {
    const root = tempDir();
    const ck = join(root, 'a', 'b', 'ck');
    await replaceDirAtomic(ck, async (tmp) => writeFileSync(join(tmp, 'x'), '1'), ['x']);
    expect(readFileSync(join(ck, 'x'), 'utf8')).toBe('1');
  });

  it('findCheckpointDir falls back to the previous checkpoint after an interrupted swap', async () => {
    const root = tempDir();
    const ck = join(root, 'ck');
    expect(await findCheckpointDir(ck)).toBeUndefined();
    // The state between the two renames of a save: only ck.old-* exists.
    mkdirSync(`${ck}.old-123-abcd`);
    expect(await findCheckpointDir(ck)).toBe(`${ck}.old-123-abcd`);
    mkdirSync(ck);
    expect(await findCheckpointDir(ck)).toBe(ck);
    expect(existsSync(ck)).toBe(true);
  });

  it('recoverCheckpointDir renames a lone old copy back and removes stale tmp/old siblings of dead writers only', async () => {
    const root = tempDir();
    const ck = join(root, 'ck');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    expect(await recoverCheckpointDir(ck)).toBeUndefined();
    // Killed between the two renames: only the previous checkpoint, as ck.old-*.
    mkdirSync(`${ck}.old-${dead}-abcd1234`);
    writeFileSync(join(`${ck}.old-${dead}-abcd1234`, 'config.json'), '{}');
    mkdirSync(`${ck}.tmp-${dead}-0000ffff`);
    expect(await recoverCheckpointDir(ck)).toBe(ck);
    expect(readdirSync(root)).toEqual(['ck']);
    expect(readdirSync(ck)).toEqual(['config.json']);
    // Killed after the swap, before removing the old copy; and a save of a running writer (ours).
    mkdirSync(`${ck}.old-${dead}-11112222`);
    mkdirSync(`${ck}.tmp-${process.pid}-33334444`);
    mkdirSync(join(root, 'ck.tmp-notapid'));
    mkdirSync(join(root, 'ckx.old-1-aa'));
    expect(await recoverCheckpointDir(ck)).toBe(ck);
    expect(readdirSync(root).sort()).toEqual(['ck', `ck.tmp-${process.pid}-33334444`, 'ck.tmp-notapid', 'ckx.old-1-aa']);
  });
});
