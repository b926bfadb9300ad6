import { describe, expect, it } from 'vitest';
import { defineCommand, formatHelp, kebab, parseArgs } from '../src/args.js';
import { UsageError } from '../src/errors.js';
import { errorLine } from '../src/main.js';

const spec = defineCommand({
  name: 'demo',
  summary: 'A test command.',
  options: {
    steps: { type: 'int', min: 1, default: 100, help: 'steps' },
    lr: { type: 'number', min: 0, help: 'learning rate' },
    tokenizer: { type: 'string', choices: ['char', 'gpt2'], default: 'char', help: 'tokenizer' },
    out: { type: 'string', help: 'output' },
    maxTokens: { type: 'int', min: 0, max: 10, help: 'max tokens' },
    resume: { type: 'boolean', help: 'resume' },
  },
});

function usageError(argv: string[]): UsageError {
  try {
    parseArgs(spec, argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error(`expected a UsageError for ${argv.join(' ')}`);
}

describe('parseArgs', () => {
  it('applies defaults and leaves optional values undefined', () => {
    const { options, given, help } = parseArgs(spec, []);
    expect(options).toEqual({ steps: 100, tokenizer: 'char', resume: false });
    expect(options.lr).toBeUndefined();
    expect(given.size).toBe(0);
    expect(help).toBe(false);
  });

  it('reads --name value, --name=value, kebab-case names and flags', () => {
    const { options, given } = parseArgs(spec, ['--steps', '7', '--lr=3e-4', '--max-tokens', '10', '--tokenizer=gpt2', '--resume', '--out', 'a b']);
    expect(options).toEqual({ steps: 7, lr: 3e-4, maxTokens: 10, tokenizer: 'gpt2', resume: true, out: 'a b' });
    expect([...given].sort()).toEqual(['lr', 'maxTokens', 'out', 'resume', 'steps', 'tokenizer']);
  });

  it('accepts --no-flag and --flag=false, and negative numbers as values', () => {
    expect(parseArgs(spec, ['--no-resume']).options.resume).toBe(false);
    expect(parseArgs(spec, ['--resume=false']).options.resume).toBe(false);
    expect(parseArgs(spec, ['--out', '-x']).options.out).toBe('-x');
  });

  it('recognises -h and --help anywhere', () => {
    expect(parseArgs(spec, ['--steps', '3', '-h']).help).toBe(true);
    expect(parseArgs(spec, ['--help']).help).toBe(true);
  });

  it('names the unknown option and suggests the closest one', () => {
    expect(usageError(['--stepz', '3']).message).toBe('tessera demo: unknown option --stepz (did you mean --steps?)');
    expect(usageError(['--max-tok', '3']).message).toContain('did you mean --max-tokens?');
    expect(usageError(['--zzzzzzzz']).message).toBe('tessera demo: unknown option --zzzzzzzz');
  });

  it('rejects bad values with the flag, the rule and the value', () => {
    expect(usageError(['--steps', 'ten']).message).toBe('tessera demo: --steps must be a number; got "ten"');
    expect(usageError(['--steps', '2.5']).message).toBe('tessera demo: --steps must be an integer; got 2.5');
    expect(usageError(['--steps', '9007199254740993']).message).toBe('tessera demo: --steps must be an integer of magnitude at most 2^53 - 1 (9007199254740991); got 9007199254740993');
    expect(usageError(['--steps', '1e300']).message).toMatch(/--steps must be an integer of magnitude at most 2\^53 - 1 \(9007199254740991\); got 1e300/);
    expect(usageError(['--steps', '0']).message).toBe('tessera demo: --steps must be at least 1; got 0');
    expect(usageError(['--max-tokens', '11']).message).toBe('tessera demo: --max-tokens must be at most 10; got 11');
    expect(usageError(['--lr', 'NaN']).message).toContain('--lr must be a number');
    expect(usageError(['--lr', '']).message).toContain('--lr must be a number');
    expect(usageError(['--tokenizer', 'bpe']).message).toBe('tessera demo: --tokenizer must be one of char, gpt2; got "bpe"');
  });

  it('rejects missing values, repeated options, stray words and valued flags', () => {
    expect(usageError(['--steps']).message).toBe('tessera demo: option --steps needs a value (<n>)');
    expect(usageError(['--out', '--steps', '3']).message).toContain('option --out needs a value');
    expect(usageError(['--steps', '1', '--steps', '2']).message).toBe('tessera demo: option --steps is given twice');
    expect(usageError(['train.txt']).message).toContain('unexpected argument "train.txt"');
    expect(usageError(['--resume=yes']).message).toContain('--resume is a flag');
    expect(usageError(['--no-steps']).message).toContain('unknown option --no-steps');
  });
});

describe('help and error lines', () => {
  it('lists every option with its default', () => {
    const help = formatHelp(spec);
    expect(help).toContain('Usage: tessera demo [options]');
    expect(help).toMatch(/--steps <n>\s+steps \(default: 100\)/);
    expect(help).toMatch(/--tokenizer char\|gpt2\s+tokenizer \(default: char\)/);
    expect(help).toMatch(/--max-tokens <n>/);
    expect(help).toContain('-h, --help');
  });

  it('kebab-cases camelCase keys', () => {
    expect(kebab('maxTokens')).toBe('max-tokens');
    expect(kebab('evalEvery')).toBe('eval-every');
    expect(kebab('lr')).toBe('lr');
  });

  it('formats every error as one line with the command', () => {
    expect(errorLine(new UsageError('tessera train: unknown option --x', 'train'), 'train')).toBe(
      'tessera train: unknown option --x (see tessera train --help)',
    );
    expect(errorLine(new Error('boom\n  at somewhere'), 'generate')).toBe('tessera generate: Error: boom at somewhere (run with --debug for the stack)');
    expect(errorLine('plain', undefined)).toBe('tessera: plain');
  });
});
