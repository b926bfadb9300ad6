import { TesseraError } from '@tessera/core';

/**
 * A gradient norm that came out NaN or infinite where the caller asked for an
 * error instead (`clipGradNorm(..., { errorIfNonfinite: true })`).
 */
export class NonFiniteError extends TesseraError {}
