/**
 * Byte-level BPE, the GPT-2 way: each pre-tokenized piece is spelled as byte-level symbols
 * (byte-level.ts) and merges are applied lowest rank first. A vocabulary maps merged symbol
 * strings (e.g. `Ġthe`, where `Ġ` is the space byte) to ids.
 */

import { FormatError } from '../io/errors.js';
import { BYTE_TO_CHAR } from './byte-level.js';

/** A merge `[left, right]`: adjacent symbols `left`, `right` become `left + right`. */
export type Merge = readonly [string, string];

/**
 * The merge engine: a vocabulary (symbol string -> id) and merges ranked by list position.
 * `encodeWord` applies merges lowest rank first, leftmost first among equal ranks (what GPT-2's
 * `bpe()` and HF `tokenizers` do), in O(n log n) with a heap, so a long run of one character is
 * not quadratic.
 */
export class BytePairEncoding {
  /** Ids of the 256 single-byte symbols, by byte value. */
  readonly byteIds: Int32Array;
  /** The merges, in rank order. */
  readonly merges: readonly Merge[];
  private readonly vocab: ReadonlyMap<string, number>;
  private readonly ranks = new Map<string, number>();

  /**
   * Throws `FormatError` when a byte symbol is missing from the vocabulary, or a merge's parts
   * or result are not in it.
   */
  constructor(vocab: ReadonlyMap<string, number>, merges: readonly Merge[]) {
    this.vocab = vocab;
    this.merges = merges.map(([a, b]) => [a, b] as const);
    this.byteIds = new Int32Array(256);
    for (let b = 0; b < 256; b++) {
      const id = vocab.get(BYTE_TO_CHAR[b]);
      if (id === undefined) {
        throw new FormatError(
          `byte-level BPE vocabulary has no symbol ${JSON.stringify(BYTE_TO_CHAR[b])} for byte 0x${b.toString(16).padStart(2, '0')}`,
        );
      }
      this.byteIds[b] = id;
    }
    merges.forEach(([a, b], rank) => {
      for (const part of [a, b, a + b]) {
        if (!vocab.has(part)) {
          throw new FormatError(`BPE merge ${rank} ${JSON.stringify(`${a} ${b}`)}: ${JSON.stringify(part)} is not in the vocabulary`);
        }
      }
      const key = pairKey(a, b);
      if (!this.ranks.has(key)) this.ranks.set(key, rank); // a repeated merge keeps its first (best) rank
    });
  }

  /** Number of distinct merges. */
  get mergeCount(): number {
    return this.ranks.size;
  }

  /** Rank of merging `a` and `b`, or `undefined`. */
  rank(a: string, b: string): number | undefined {
    return this.ranks.get(pairKey(a, b));
  }

  /** Ids of the BPE tokens of `word`, a byte-level symbol string (see `bytesToSymbols`). */
  encodeWord(word: string): number[] {
    const n = word.length;
    if (n === 0) return [];
    if (n === 1) return [this.vocab.get(word)!];
    const sym: string[] = new Array<string>(n);
    for (let i = 0; i < n; i++) sym[i] = word[i];
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    const alive = new Uint8Array(n).fill(1);
    const heap = new PairHeap();
    for (let i = 0; i + 1 < n; i++) {
      const r = this.ranks.get(pairKey(sym[i], sym[i + 1]));
      if (r !== undefined) heap.push(r, i);
    }
    while (heap.size > 0) {
      const r = heap.topRank();
      const i = heap.pop();
      const j = next[i];
      // Stale entries: `i` was merged away, or its right neighbour changed since the push.
      if (alive[i] === 0 || j < 0 || this.ranks.get(pairKey(sym[i], sym[j])) !== r) continue;
      sym[i] += sym[j];
      alive[j] = 0;
      next[i] = next[j];
      if (next[j] >= 0) prev[next[j]] = i;
      const p = prev[i];
      if (p >= 0) {
        const rp = this.ranks.get(pairKey(sym[p], sym[i]));
        if (rp !== undefined) heap.push(rp, p);
      }
      if (next[i] >= 0) {
        const rn = this.ranks.get(pairKey(sym[i], sym[next[i]]));
        if (rn !== undefined) heap.push(rn, i);
      }
    }
    const ids: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) ids.push(this.vocab.get(sym[i])!);
    return ids;
  }
}

/** Byte-level symbols never contain a space (0x20 is spelled `Ġ`), so a space separates a pair. */
function pairKey(a: string, b: string): string {
  return `${a} ${b}`;
}

/** Binary min-heap of (rank, position), ordered by rank then position (leftmost first). */
class PairHeap {
  private ranks: number[] = [];
  private pos: number[] = [];

  get size(): number {
    return this.ranks.length;
  }

  topRank(): number {
    return this.ranks[0];
  }

  private less(a: number, b: number): boolean {
    return this.ranks[a] < this.ranks[b] || (this.ranks[a] === this.ranks[b] && this.pos[a] < this.pos[b]);
  }

  private swap(a: number, b: number): void {
    const r = this.ranks[a];
    this.ranks[a] = this.ranks[b];
    this.ranks[b] = r;
    const p = this.pos[a];
    this.pos[a] = this.pos[b];
    this.pos[b] = p;
  }

  push(rank: number, position: number): void {
    this.ranks.push(rank);
    this.pos.push(position);
    let i = this.ranks.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  /** Removes the top and returns its position. */
  pop(): number {
    const top = this.pos[0];
    const last = this.ranks.length - 1;
    this.swap(0, last);
    this.ranks.pop();
    this.pos.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < last && this.less(l, m)) m = l;
      if (r < last && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    return top;
  }
}
