import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError } from '../src/errors.js';
import { findCheckpointDir, replaceDirAtomic, writeFileAtomic } from '../src/data/files.js';
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
    });
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
      }),
    ).rejects.toThrow('disk full');
    expect(readdirSync(ck)).toEqual(['a.txt']);
    expect(readFileSync(join(ck, 'a.txt'), 'utf8')).toBe('old a');
    expect(readdirSync(root)).toEqual(['ck']);
  });

  it('creates missing parent folders', async () => {
    const root = tempDir();
    const ck = join(root, 'a', 'b', 'ck');
    await replaceDirAtomic(ck, async (tmp) => writeFileSync(join(tmp, 'x'), '1'));
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
});
