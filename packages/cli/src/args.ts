/**
 * A small typed command-line parser: each command declares its options once (type, default,
 * range, help text) and gets back an object whose property types follow the declarations.
 *
 * Accepted forms: `--name value`, `--name=value`, `--flag`, `--no-flag` (booleans), `-h`/`--help`.
 * Option keys are camelCase in code and kebab-case on the command line (`maxTokens` ↔ `--max-tokens`).
 */

import { UsageError } from './errors.js';

interface BaseSpec {
  /** One line for `--help`. */
  readonly help: string;
  /** Name of the value in `--help` (`<n>`, `<dir>`, ...). */
  readonly placeholder?: string;
}

/** A string option, optionally restricted to `choices`. */
export interface StringSpec extends BaseSpec {
  readonly type: 'string';
  readonly default?: string;
  readonly choices?: readonly string[];
}

/** An integer option in `[min, max]`. */
export interface IntSpec extends BaseSpec {
  readonly type: 'int';
  readonly default?: number;
  readonly min?: number;
  readonly max?: number;
}

/** A finite number option in `[min, max]`. */
export interface NumberSpec extends BaseSpec {
  readonly type: 'number';
  readonly default?: number;
  readonly min?: number;
  readonly max?: number;
}

/** A flag: `--name` sets it, `--no-name` clears it; default false. */
export interface BooleanSpec extends BaseSpec {
  readonly type: 'boolean';
}

export type OptionSpec = StringSpec | IntSpec | NumberSpec | BooleanSpec;
export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

type ValueOf<S extends OptionSpec> = S extends BooleanSpec ? boolean : S extends StringSpec ? string : number;

/** The parsed values: options with a default (and flags) are always present, others may be undefined. */
export type ParsedOptions<O extends OptionSpecs> = {
  [K in keyof O]: O[K] extends BooleanSpec ? boolean : O[K] extends { default: unknown } ? ValueOf<O[K]> : ValueOf<O[K]> | undefined;
};

/** A command's declaration. */
export interface CommandSpec<O extends OptionSpecs = OptionSpecs> {
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** Paragraphs printed under the usage line. */
  readonly description?: string;
  readonly options: O;
  /** Example invocations for `--help`. */
  readonly examples?: readonly string[];
}

/** The result of parsing: values, which options the user actually gave, and `--help`. */
export interface Parsed<O extends OptionSpecs> {
  readonly options: ParsedOptions<O>;
  /** camelCase keys of the options present on the command line. */
  readonly given: ReadonlySet<keyof O & string>;
  readonly help: boolean;
}

/** `maxTokens` → `max-tokens`. */
export function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** Declares a command with its option types inferred. */
export function defineCommand<const O extends OptionSpecs>(spec: CommandSpec<O>): CommandSpec<O> {
  return spec;
}

/** Parses `argv` (the words after the command name) against `spec`; throws `UsageError` on any mistake. */
export function parseArgs<O extends OptionSpecs>(spec: CommandSpec<O>, argv: readonly string[]): Parsed<O> {
  const byFlag = new Map<string, string>();
  for (const key of Object.keys(spec.options)) byFlag.set(kebab(key), key);
  const values: Record<string, unknown> = {};
  const given = new Set<string>();
  let help = false;
  const where = `tessera ${spec.name}`;

  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === '-h' || word === '--help') {
      help = true;
      continue;
    }
    if (!word.startsWith('--') || word === '--') {
      throw new UsageError(`${where}: unexpected argument ${JSON.stringify(word)}; options are written --name value`, spec.name);
    }
    const eq = word.indexOf('=');
    let flag = eq >= 0 ? word.slice(2, eq) : word.slice(2);
    let inline: string | undefined = eq >= 0 ? word.slice(eq + 1) : undefined;
    let negated = false;
    let key = byFlag.get(flag);
    if (key === undefined && flag.startsWith('no-')) {
      const k = byFlag.get(flag.slice(3));
      if (k !== undefined && spec.options[k].type === 'boolean') {
        key = k;
        negated = true;
        flag = flag.slice(3);
      }
    }
    if (key === undefined) {
      const hint = suggest(flag, [...byFlag.keys()]);
      throw new UsageError(`${where}: unknown option --${flag}${hint ? ` (did you mean --${hint}?)` : ''}`, spec.name);
    }
    if (given.has(key)) throw new UsageError(`${where}: option --${flag} is given twice`, spec.name);
    given.add(key);
    const opt = spec.options[key];
    if (opt.type === 'boolean') {
      if (inline !== undefined) {
        if (negated) throw new UsageError(`${where}: --no-${flag} takes no value`, spec.name);
        if (inline !== 'true' && inline !== 'false') throw new UsageError(`${where}: --${flag} is a flag; write --${flag} or --no-${flag}, not --${flag}=${inline}`, spec.name);
        values[key] = inline === 'true';
      } else {
        values[key] = !negated;
      }
      continue;
    }
    if (inline === undefined) {
      const next = argv[i + 1];
      if (next === undefined || (next.startsWith('--') && next.length > 2)) {
        throw new UsageError(`${where}: option --${flag} needs a value (${placeholder(opt)})`, spec.name);
      }
      inline = next;
      i++;
    }
    values[key] = convert(where, spec.name, flag, opt, inline);
  }

  for (const [key, opt] of Object.entries(spec.options)) {
    if (key in values) continue;
    if (opt.type === 'boolean') values[key] = false;
    else if (opt.default !== undefined) values[key] = opt.default;
  }
  return { options: values as ParsedOptions<O>, given: given as Set<keyof O & string>, help };
}

function convert(where: string, command: string, flag: string, opt: StringSpec | IntSpec | NumberSpec, text: string): string | number {
  if (opt.type === 'string') {
    if (opt.choices && !opt.choices.includes(text)) {
      throw new UsageError(`${where}: --${flag} must be one of ${opt.choices.join(', ')}; got ${JSON.stringify(text)}`, command);
    }
    return text;
  }
  const trimmed = text.trim();
  const value = trimmed === '' ? NaN : Number(trimmed);
  if (!Number.isFinite(value)) throw new UsageError(`${where}: --${flag} must be a number; got ${JSON.stringify(text)}`, command);
  if (opt.type === 'int' && !Number.isInteger(value)) throw new UsageError(`${where}: --${flag} must be an integer; got ${text}`, command);
  // Past 2^53 an integer is no longer exact (9007199254740993 reads as ...992): refused, not rounded.
  if (opt.type === 'int' && !Number.isSafeInteger(value)) throw new UsageError(`${where}: --${flag} must be an integer of magnitude at most 2^53 - 1 (${Number.MAX_SAFE_INTEGER}); got ${text}`, command);
  if (opt.min !== undefined && value < opt.min) throw new UsageError(`${where}: --${flag} must be at least ${opt.min}; got ${text}`, command);
  if (opt.max !== undefined && value > opt.max) throw new UsageError(`${where}: --${flag} must be at most ${opt.max}; got ${text}`, command);
  return value;
}

function placeholder(opt: OptionSpec): string {
  if (opt.placeholder) return opt.placeholder;
  if (opt.type === 'string') return opt.choices ? opt.choices.join('|') : '<text>';
  if (opt.type === 'int') return '<n>';
  if (opt.type === 'number') return '<x>';
  return '';
}

/** The closest of `known` to `word` within edit distance 2 (or the one it begins), for "did you mean". */
export function suggest(flag: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = 3;
  for (const k of known) {
    const d = editDistance(flag, k);
    if (d < bestDist) {
      best = k;
      bestDist = d;
    }
  }
  return best ?? (flag.length >= 3 ? known.find((k) => k.startsWith(flag)) : undefined);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}

/** The `--help` text of a command. */
export function formatHelp(spec: CommandSpec): string {
  const lines = [`Usage: tessera ${spec.name} [options]`, '', spec.summary];
  if (spec.description) lines.push('', spec.description);
  lines.push('', 'Options:');
  const rows: [string, string][] = Object.entries(spec.options).map(([key, opt]) => {
    const flag = opt.type === 'boolean' ? `--${kebab(key)}` : `--${kebab(key)} ${placeholder(opt)}`;
    let text = opt.help;
    if (opt.type !== 'boolean' && opt.default !== undefined) text += ` (default: ${opt.type === 'string' && /^\s|\s$|^$/.test(opt.default) ? JSON.stringify(opt.default) : opt.default})`;
    return [flag, text];
  });
  rows.push(['-h, --help', 'show this help']);
  const width = Math.min(30, Math.max(...rows.map(([f]) => f.length)) + 2);
  for (const [flag, text] of rows) {
    lines.push(flag.length + 2 > width ? `  ${flag}\n  ${' '.repeat(width)}${text}` : `  ${flag.padEnd(width)}${text}`);
  }
  if (spec.examples?.length) {
    lines.push('', 'Examples:');
    for (const e of spec.examples) lines.push(`  ${e}`);
  }
  return `${lines.join('\n')}\n`;
}
