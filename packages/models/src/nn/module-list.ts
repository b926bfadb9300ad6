/** An indexed list of child modules (names "0", "1", ...). */

import { Module } from './module.js';

/**
 * Holds modules in order; they are registered as children named by index,
 * so their parameters appear as `h.0.weight`, `h.1.weight`, ...
 * Printing groups runs of identical modules like PyTorch: `(0-11): 12 x Block(...)`.
 * @example const h = new ModuleList([new Linear(4, 4), new Linear(4, 4)]); h.at(1)
 */
export class ModuleList<M extends Module = Module> extends Module implements Iterable<M> {
  readonly #items: M[] = [];

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  /** Appends a module (registered as child `${length}`). */
  push(m: M): this {
    this.registerModule(String(this.#items.length), m);
    this.#items.push(m);
    return this;
  }

  /** The module at index i (negative counts from the end), or undefined. */
  at(i: number): M | undefined {
    return this.#items.at(i);
  }

  get length(): number {
    return this.#items.length;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.#items[Symbol.iterator]();
  }

  override toString(): string {
    if (this.#items.length === 0) return 'ModuleList()';
    const reprs = this.#items.map((m) => m.toString().split('\n').join('\n  '));
    const lines: string[] = [];
    for (let i = 0; i < reprs.length; ) {
      let j = i + 1;
      while (j < reprs.length && reprs[j] === reprs[i]) j++;
      lines.push(j - i === 1 ? `(${i}): ${reprs[i]}` : `(${i}-${j - 1}): ${j - i} x ${reprs[i]}`);
      i = j;
    }
    return `ModuleList(\n  ${lines.join('\n  ')}\n)`;
  }
}
