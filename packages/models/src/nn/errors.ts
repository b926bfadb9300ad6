/** Errors of the nn modules and model configurations. */

import { ArgumentError, TesseraError, fmtShape } from '@tessera/core';

/**
 * An operation a quantized weight cannot take: a gradient through it (training), f32 values
 * loaded into it, its freed f32 tensor read. `parameter` is the weight's name (dotted where
 * the model knows it).
 */
export class QuantizedModelError extends TesseraError {
  constructor(
    message: string,
    readonly parameter: string,
  ) {
    super(message);
  }
}

/** One key whose tensor does not have the parameter's shape. */
export interface ShapeMismatch {
  readonly key: string;
  readonly expected: readonly number[];
  readonly got: readonly number[];
}

/**
 * A state dict that does not fit a module: missing or unexpected keys (strict loading), or
 * tensors whose shapes differ from the parameters'. Nothing is written when this is thrown.
 */
export class StateDictError extends TesseraError {
  constructor(
    message: string,
    /** Parameter names the dict lacks. */
    readonly missingKeys: readonly string[],
    /** Dict keys that name no parameter. */
    readonly unexpectedKeys: readonly string[],
    /** Keys whose shapes do not match. */
    readonly mismatches: readonly ShapeMismatch[],
  ) {
    super(message);
  }

  /** Builds the error with a message listing every problem (long lists are shortened). */
  static of(context: string, missing: readonly string[], unexpected: readonly string[], mismatches: readonly ShapeMismatch[]): StateDictError {
    const list = (keys: readonly string[]): string => {
      const shown = keys.slice(0, 10).map((k) => JSON.stringify(k)).join(', ');
      return keys.length > 10 ? `${shown}, ... (${keys.length} in all)` : shown;
    };
    const parts: string[] = [];
    if (missing.length > 0) parts.push(`missing key(s): ${list(missing)}`);
    if (unexpected.length > 0) parts.push(`unexpected key(s): ${list(unexpected)}`);
    if (mismatches.length > 0) {
      const shown = mismatches
        .slice(0, 10)
        .map((m) => `${JSON.stringify(m.key)} is ${fmtShape(m.got)} but the parameter is ${fmtShape(m.expected)}`)
        .join('; ');
      parts.push(`shape mismatch: ${shown}${mismatches.length > 10 ? `; ... (${mismatches.length} in all)` : ''}`);
    }
    return new StateDictError(`${context}: ${parts.join('; ')}`, missing, unexpected, mismatches);
  }
}

/** A model configuration with a bad or inconsistent value (e.g. `n_embd` not divisible by `n_head`). */
export class ConfigError extends ArgumentError {}
