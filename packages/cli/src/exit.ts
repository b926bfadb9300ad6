/** Process exit codes of the CLI. */
export const EXIT = {
  ok: 0,
  /** A runtime failure: missing file, unreadable checkpoint, a bug. */
  failure: 1,
  /** A bad command line. */
  usage: 2,
  /** Stopped by SIGINT (128 + 2), after saving what there was to save. */
  interrupted: 130,
} as const;
