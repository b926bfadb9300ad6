/**
 * Training progress: a live one-line bar on a terminal (step, loss, tokens/s, ETA), plain log
 * lines otherwise (CI, pipes, files).
 */

/** Where progress goes; `process.stderr` in the CLI. */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** What one update reports. */
export interface ProgressInfo {
  readonly step: number;
  readonly loss: number;
  readonly lr: number;
  /** Tokens (or examples) processed per second, averaged over this run so far. */
  readonly rate: number;
  readonly rateUnit: string;
}

export class Progress {
  private readonly tty: boolean;
  private readonly started = performance.now();
  private lastLine = 0;
  private lastPlain = -Infinity;
  private barShown = false;

  /**
   * @param total the step the run ends at
   * @param first the step this run starts from (non-zero on resume)
   * @param plainEverySeconds how often a non-terminal gets a line (also on the last step)
   */
  constructor(
    private readonly stream: ProgressStream,
    private readonly total: number,
    private readonly first: number,
    private readonly plainEverySeconds = 10,
  ) {
    this.tty = stream.isTTY === true && process.env.TERM !== 'dumb';
  }

  /** Reports a finished step. */
  update(info: ProgressInfo): void {
    const now = performance.now();
    const done = info.step - this.first;
    const left = this.total - info.step;
    const elapsed = (now - this.started) / 1000;
    const eta = done > 0 ? (elapsed / done) * left : NaN;
    const full = `step ${info.step}/${this.total} | loss ${info.loss.toFixed(4)} | lr ${info.lr.toExponential(2)} | ${fmtRate(info.rate)} ${info.rateUnit}/s | ETA ${fmtDuration(eta)}`;
    if (this.tty) {
      if (now - this.lastLine < 100 && info.step !== this.total) return; // at most 10 redraws a second
      this.lastLine = now;
      const cols = this.stream.columns !== undefined && this.stream.columns > 0 ? this.stream.columns : 80;
      // Narrow terminals drop the learning rate, then the bar, so the line never wraps.
      const short = `step ${info.step}/${this.total} | loss ${info.loss.toFixed(4)} | ${fmtRate(info.rate)} ${info.rateUnit}/s | ETA ${fmtDuration(eta)}`;
      const stats = full.length + 13 <= cols ? full : short;
      const barW = Math.min(30, cols - stats.length - 4);
      const frac = this.total > 0 ? Math.min(1, info.step / this.total) : 1;
      const filled = Math.round(frac * barW);
      const bar = barW >= 10 ? `[${'#'.repeat(filled)}${'.'.repeat(barW - filled)}] ` : '';
      this.stream.write(`\r\x1b[2K${`${bar}${stats}`.slice(0, cols - 1)}`);
      this.barShown = true;
    } else if (elapsed - this.lastPlain >= this.plainEverySeconds || info.step === this.total || done === 1) {
      this.lastPlain = elapsed;
      this.stream.write(`${full}\n`);
    }
  }

  /** Prints a full line (validation results, checkpoint notices) without breaking the bar. */
  log(line: string): void {
    if (this.tty && this.barShown) this.stream.write('\r\x1b[2K');
    this.stream.write(`${line}\n`);
    this.lastLine = 0;
  }

  /** Ends the bar's line. */
  finish(): void {
    if (this.tty && this.barShown) this.stream.write('\n');
    this.barShown = false;
  }
}

/** `1.2k`, `35.0k`, `1.3M`. */
export function fmtRate(r: number): string {
  if (!Number.isFinite(r)) return '-';
  if (r >= 1e6) return `${(r / 1e6).toFixed(1)}M`;
  if (r >= 1e3) return `${(r / 1e3).toFixed(1)}k`;
  return r.toFixed(1);
}

/** `42s`, `3m05s`, `1h02m`. */
export function fmtDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
