/** Errors specific to the WebGPU backend; both are `TesseraError`s. */

import { TesseraError, UnsupportedError } from '@tessera/core';

/**
 * No usable WebGPU adapter: no `navigator.gpu` and no npm `webgpu` package, no
 * adapter at all, or only Dawn's 'null-backend' (which runs nothing).
 */
export class WebGPUUnavailableError extends UnsupportedError {}

/** The device reported a WebGPU error (a lost device, a failed mapping, a validation error). */
export class WebGPUError extends TesseraError {}
