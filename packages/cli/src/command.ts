/** What a command is: its declared options and the function that runs it. */

import type { CommandSpec, OptionSpecs, Parsed } from './args.js';

/** The streams a command writes to (the process's, or captures in tests). */
export interface Io {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
}

/** A command: `run` returns the exit code (0 on success). */
export interface Command<O extends OptionSpecs = OptionSpecs> {
  readonly spec: CommandSpec<O>;
  run(args: Parsed<O>, io: Io): Promise<number>;
}

/** Declares a command, keeping its option types. */
export function command<const O extends OptionSpecs>(spec: CommandSpec<O>, run: (args: Parsed<O>, io: Io) => Promise<number>): Command<O> {
  return { spec, run };
}
