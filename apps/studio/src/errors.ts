/** Errors the studio reports on purpose (shown on the page as one line). */

import { TesseraError } from '@tessera/core';

/** A request the page's state does not allow (no model yet, training running, empty prompt...). */
export class StudioStateError extends TesseraError {}

/** The corpus or the browser storage cannot be read or written. */
export class StudioIoError extends TesseraError {}
