/**
 * Typed errors. Every failure `@tessera/metrics` reports on purpose is a
 * `MetricsError` whose message names the offending argument, index, length,
 * value or label.
 */

/** Bad input to a metric (empty, mismatched lengths, NaN, non-integer label, ...). */
export class MetricsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
