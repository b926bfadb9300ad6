/**
 * `tessera <command> [options]`: dispatch, `--help`, and the top-level error policy — every failure
 * is one line on stderr and a non-zero exit code; `--debug` adds the stack.
 */

import { TesseraError } from '@tessera/core';
import { formatHelp, parseArgs, suggest, type OptionSpecs } from './args.js';
import type { Command, Io } from './command.js';
import { CliError, UsageError } from './errors.js';
import { EXIT } from './exit.js';


const COMMANDS: Record<string, { summary: string; load: () => Promise<Command<OptionSpecs>> }> = {
  train: { summary: 'train a GPT-2 language model on a text corpus (default: Moby Dick)', load: async () => (await import('./commands/train.js')).train },
  generate: { summary: 'stream text from a trained model', load: async () => (await import('./commands/generate.js')).generate },
  finetune: { summary: 'fine-tune a spam classifier on SpamAssassin and report its metrics', load: async () => (await import('./commands/finetune.js')).finetune },
  eval: { summary: 'evaluate a fine-tuned classifier on the SpamAssassin test split', load: async () => (await import('./commands/eval.js')).evaluate },
  bench: { summary: 'run the benchmark suites (benchmarks/*.bench.mjs)', load: async () => (await import('./commands/bench.js')).bench },
  export: { summary: 'export a model directory to ONNX (GPT-2 with or without a KV cache, classifiers)', load: async () => (await import('./commands/export.js')).exportModel },
  quantize: { summary: 'quantize a GPT-2 model directory to int8 / int4: a smaller directory or a GGUF file', load: async () => (await import('./commands/quantize.js')).quantizeCommand },
  prune: { summary: 'prune a GPT-2 model directory (magnitude, attention heads or MLP neurons)', load: async () => (await import('./commands/prune.js')).prune },
  serve: { summary: 'serve a GPT-2 model over HTTP with the OpenAI completions API (streaming)', load: async () => (await import('./commands/serve.js')).serve },
};

const VERSION = '0.1.0';

function globalHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length)) + 2;
  return [
    'Usage: tessera <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`),
    '',
    'Global options:',
    '  --debug     print the stack trace of an error',
    '  --version   print the version',
    '',
    "Run 'tessera <command> --help' for a command's options.",
    '',
  ].join('\n');
}

/** Runs the CLI on `argv` (without `node` and the script) and returns the exit code. */
export async function main(argv: readonly string[], io: Io = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const debug = argv.includes('--debug');
  const words = argv.filter((a) => a !== '--debug');
  const name = words[0];
  try {
    if (name === undefined) {
      io.stderr.write(globalHelp());
      return EXIT.usage;
    }
    if (name === '--help' || name === '-h' || name === 'help') {
      io.stdout.write(globalHelp());
      return EXIT.ok;
    }
    if (name === '--version' || name === '-v') {
      io.stdout.write(`tessera ${VERSION}\n`);
      return EXIT.ok;
    }
    const entry = COMMANDS[name];
    if (!entry) {
      const known = Object.keys(COMMANDS);
      const hint = suggest(name, known);
      throw new UsageError(`unknown command ${JSON.stringify(name)}${hint ? ` (did you mean ${hint}?)` : ''}; commands: ${known.join(', ')}`);
    }
    const cmd = await entry.load();
    const parsed = parseArgs(cmd.spec, words.slice(1));
    if (parsed.help) {
      io.stdout.write(formatHelp(cmd.spec));
      return EXIT.ok;
    }
    return await cmd.run(parsed, io);
  } catch (e) {
    io.stderr.write(`${errorLine(e, name)}\n`);
    if (debug && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
    return e instanceof UsageError ? EXIT.usage : EXIT.failure;
  }
}

/** The one line printed for an error: `tessera <command>: <message>`. */
export function errorLine(e: unknown, command: string | undefined): string {
  const prefix = command && Object.hasOwn(COMMANDS, command) ? `tessera ${command}` : 'tessera';
  let message: string;
  if (e instanceof UsageError) {
    message = e.message.replace(/^tessera( \S+)?: /, '');
    const help = e.command ? `tessera ${e.command} --help` : 'tessera --help';
    message += ` (see ${help})`;
  } else if (e instanceof TesseraError) {
    message = `${e instanceof CliError ? '' : `${e.name}: `}${e.message}`;
  } else if (e instanceof Error) {
    // Not one of ours: a bug or an environment problem. Name it so it can be reported.
    message = `${e.name}: ${e.message} (run with --debug for the stack)`;
  } else {
    message = String(e);
  }
  return `${prefix}: ${message.replace(/\s*\n\s*/g, ' ').trim()}`;
}
