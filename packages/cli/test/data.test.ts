import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TokenSplit, loadCorpus } from '../src/data/corpus.js';
import { CliError } from '../src/errors.js';
import { tempDir } from './helpers.js';
import { emailText, loadSpamAssassin, stratifiedSplit } from '../src/data/spam.js';
import { Rng } from '../src/rng.js';

describe('stratifiedSplit', () => {
  const labels = [...Array(70).fill(0), ...Array(30).fill(1), ...Array(7).fill(2)];

  it('is a deterministic partition for a given seed', () => {
    const a = stratifiedSplit(labels, 0.2, 42);
    const b = stratifiedSplit(labels, 0.2, 42);
    expect(a).toEqual(b);
    expect([...a.train, ...a.test].sort((x, y) => x - y)).toEqual(labels.map((_, i) => i));
    expect(new Set(a.train).size + new Set(a.test).size).toBe(labels.length);
    expect(stratifiedSplit(labels, 0.2, 43).test).not.toEqual(a.test);
  });

  it('keeps each class in proportion', () => {
    const { test } = stratifiedSplit(labels, 0.2, 1);
    const count = (l: number) => test.filter((i) => labels[i] === l).length;
    expect(count(0)).toBe(14);
    expect(count(1)).toBe(6);
    expect(count(2)).toBe(1); // round(7 * 0.2)
  });

  it('on SpamAssassin: 4150 ham / 1896 spam split 80/20 per class', async () => {
    const emails = await loadSpamAssassin();
    expect(emails).toHaveLength(6046);
    const y = emails.map((e) => e.label);
    expect(y.filter((l) => l === 1)).toHaveLength(1896);
    const { train, test } = stratifiedSplit(y, 0.2, 42);
    expect(test.filter((i) => y[i] === 1)).toHaveLength(379);
    expect(test.filter((i) => y[i] === 0)).toHaveLength(830);
    expect(train).toHaveLength(6046 - 1209);
    const groups = new Set(emails.filter((e) => e.label === 0).map((e) => e.group));
    expect([...groups].sort()).toEqual(['easy-ham-1', 'easy-ham-2', 'hard-ham-1']);
  });
});

describe('emailText', () => {
  it('keeps subject and body, drops headers', () => {
    const raw = 'From: a@b.c\nSubject: Hello there\nX-Spam: no\n\nBody line one.\nLine two.';
    expect(emailText(raw)).toBe('Subject: Hello there\nBody line one.\nLine two.');
  });

  it('decodes quoted-printable and reduces HTML to text', () => {
    const raw = 'Subject: =?iso-8859-1?Q?Caf=E9_deals?=\nContent-Type: text/html\nContent-Transfer-Encoding: quoted-printable\n\n<html><body><p>Buy =\nnow &amp; save</p><script>x()</script></body></html>';
    expect(emailText(raw)).toBe('Subject: Café deals\n[html] \nBuy now & save');
  });

  it('prefers the text/plain part of multipart mail', () => {
    const raw = [
      'Subject: parts',
      'Content-Type: multipart/alternative; boundary="XX"',
      '',
      '--XX',
      'Content-Type: text/html',
      '',
      '<b>html version</b>',
      '--XX',
      'Content-Type: text/plain',
      '',
      'plain version',
      '--XX--',
    ].join('\n');
    expect(emailText(raw)).toBe('Subject: parts\nplain version');
  });
});

describe('TokenSplit and Rng', () => {
  it('holds out the last 10% and samples windows with next-token targets', () => {
    const tokens = Int32Array.from({ length: 1000 }, (_, i) => i);
    const s = new TokenSplit(tokens, 8);
    expect(s.train.length).toBe(900);
    expect(s.val[0]).toBe(900);
    const b = s.sample(new Rng(1), 4);
    for (let r = 0; r < 4; r++) {
      const x0 = b.x[r * 8];
      expect(x0).toBeLessThan(900 - 8);
      for (let t = 0; t < 8; t++) {
        expect(b.x[r * 8 + t]).toBe(x0 + t);
        expect(b.y[r * 8 + t]).toBe(x0 + t + 1);
      }
    }
    expect(s.valBatch(0, 2, 4)).toEqual(s.valBatch(0, 2, 4));
  });

  it('refuses a corpus too small for the context', () => {
    expect(() => new TokenSplit(new Int32Array(50), 8)).toThrow(/needs 9 in each/);
  });

  it('Rng continues exactly from a saved state', () => {
    const a = new Rng(123);
    for (let i = 0; i < 10; i++) a.nextU32();
    const b = Rng.fromState(a.state());
    expect(Array.from({ length: 20 }, () => a.int(1000))).toEqual(Array.from({ length: 20 }, () => b.int(1000)));
    expect(() => Rng.fromState([0, 0, 0, 0])).toThrow(/not all zero/);
  });
});

describe('--data file encodings', () => {
  const write = (bytes: Uint8Array): string => {
    const path = join(tempDir(), 'corpus.txt');
    writeFileSync(path, bytes);
    return path;
  };
  const utf16 = (s: string, bigEndian: boolean): Uint8Array => {
    const out = new Uint8Array(2 + 2 * s.length);
    out.set(bigEndian ? [0xfe, 0xff] : [0xff, 0xfe]);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      out.set(bigEndian ? [c >> 8, c & 255] : [c & 255, c >> 8], 2 + 2 * i);
    }
    return out;
  };

  it('reads UTF-8 (its byte-order mark dropped) and UTF-16 by its byte-order mark, saying so', async () => {
    const text = 'Call me Ishmael. — ça va 🌍';
    expect(await loadCorpus(write(new TextEncoder().encode(text)))).toMatchObject({ text });
    expect((await loadCorpus(write(Uint8Array.from([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(text)])))).text).toBe(text);
    const le = await loadCorpus(write(utf16(text, false)));
    expect(le.text).toBe(text);
    expect(le.name).toMatch(/corpus\.txt \(UTF-16LE, by its byte-order mark\)$/);
    expect((await loadCorpus(write(utf16(text, true)))).text).toBe(text);
  });

  it('refuses a binary file or bytes that are not UTF-8, naming the file', async () => {
    const binary = write(Uint8Array.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00]));
    await expect(loadCorpus(binary)).rejects.toThrow(CliError);
    await expect(loadCorpus(binary)).rejects.toThrow(`--data file ${binary} looks binary, not text: character 5 is NUL`);
    const latin1 = write(Uint8Array.from([0x63, 0x61, 0xe7, 0x61]));
    await expect(loadCorpus(latin1)).rejects.toThrow(`--data file ${latin1} is not UTF-8 text`);
    // UTF-16 without a byte-order mark holds NULs between ASCII letters
    const bare = write(utf16('hello', false).subarray(2));
    await expect(loadCorpus(bare)).rejects.toThrow(/looks binary, not text: character 1 is NUL/);
  });
});
