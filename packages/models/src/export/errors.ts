/** Errors of the model exporters. */

import { TesseraError } from '@tessera/core';

/**
 * An export that cannot be written: a bad option (the message names it and its value), a
 * model type with no exporter, or a model too large for one file.
 */
export class OnnxExportError extends TesseraError {}
