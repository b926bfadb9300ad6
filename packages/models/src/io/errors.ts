/** Errors of the file readers and writers in `io/`. */

import { TesseraError } from '@tessera/core';

/**
 * A malformed file: a bad header, a byte range that does not fit, an unknown dtype, JSON that
 * does not parse. The message names the file part, the tensor and the byte offsets involved.
 */
export class FormatError extends TesseraError {}
