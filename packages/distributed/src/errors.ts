/**
 * Typed failures of @tessera/distributed. Every message names the ranks,
 * sizes, subjects or values involved, so a failed multi-process run says which
 * process to look at.
 */

import { TesseraError } from '@tessera/core';

/** A bad option or environment variable (`RANK`, `WORLD_SIZE`, ...); names the key and the value. */
export class DistributedConfigError extends TesseraError {}

/** The NATS server refused the credentials (token, user/password) or the TLS handshake. */
export class AuthenticationError extends TesseraError {}

/** The NATS server could not be reached (or the connection closed under a running group). */
export class ConnectionFailedError extends TesseraError {}

/** Another live process already holds this rank in this run. */
export class DuplicateRankError extends TesseraError {
  constructor(
    message: string,
    readonly rank: number,
    readonly runId: string,
  ) {
    super(message);
  }
}

/** Rendezvous did not complete in time: `missingRanks` never arrived (as seen by rank 0). */
export class RendezvousTimeoutError extends TesseraError {
  constructor(
    message: string,
    readonly missingRanks: readonly number[],
    readonly timeoutMs: number,
  ) {
    super(message);
  }
}

/** Ranks disagree about the run (world size), or called different collectives / sizes at the same point. */
export class CollectiveMismatchError extends TesseraError {}

/**
 * A collective did not complete within the group's timeout: `missingRanks`
 * are the ranks whose messages this rank was still waiting for (a rank that
 * died, stalled, or called a different collective).
 */
export class CollectiveTimeoutError extends TesseraError {
  constructor(
    message: string,
    readonly op: string,
    readonly missingRanks: readonly number[],
    readonly timeoutMs: number,
  ) {
    super(message);
  }
}

/** The group was used after `destroy()`. */
export class GroupClosedError extends TesseraError {}
