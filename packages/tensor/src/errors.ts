import { TesseraError } from '@tessera/core';

/**
 * Misuse of the autograd graph: backward through a graph whose saved tensors
 * were already freed, a saved tensor modified in place, an in-place write to a
 * tensor that requires grad, backward from a tensor that does not require grad.
 */
export class AutogradError extends TesseraError {}
