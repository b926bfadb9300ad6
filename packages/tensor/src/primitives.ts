/** The check that a backend supplies every primitive kernel the tensor layer builds on. */

import { PRIMITIVE_KERNELS, UnsupportedError, missingPrimitives, type Backend } from '@tessera/core';

const complete = new WeakSet<Backend>();

/**
 * Throws an UnsupportedError naming every primitive kernel `be` lacks (each backend must supply
 * all of them; fused kernels are optional). Checked once per backend object.
 */
export function checkPrimitives(be: Backend): void {
  if (complete.has(be)) return;
  const missing = missingPrimitives(be);
  if (missing.length > 0) {
    const names = missing.map((k) => `'${k}'`).join(', ');
    throw new UnsupportedError(
      `backend '${be.name}' lacks the primitive kernel${missing.length > 1 ? 's' : ''} ${names}; every backend must supply ${PRIMITIVE_KERNELS.join(', ')} (the fused kernels are optional)`,
    );
  }
  complete.add(be);
}
