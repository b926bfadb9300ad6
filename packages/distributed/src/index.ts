/**
 * @tessera/distributed: data-parallel training over NATS. A process group
 * (rendezvous through the server, typed errors for timeouts, duplicate ranks
 * and refused credentials), collectives with a fixed summation order
 * (bitwise-identical results on every rank), a DistributedSampler,
 * DistributedDataParallel and DiLoCo over a model's flat parameter block.
 *
 * @example
 * ```ts
 * import { initProcessGroupFromEnv, DistributedDataParallel } from '@tessera/distributed';
 * const group = await initProcessGroupFromEnv();           // RANK, WORLD_SIZE, TESSERA_NATS_URL, TESSERA_RUN_ID
 * const ddp = await DistributedDataParallel.create(model, opt, group);
 * // per step: loss.backward(); await ddp.step(); model.zeroGrad();
 * await group.destroy();
 * ```
 */
export {
  initProcessGroup,
  initProcessGroupFromEnv,
  processGroupOptionsFromEnv,
  segmentRange,
  ProcessGroup,
  type ProcessGroupOptions,
  type ReduceOp,
  type TlsSettings,
  type TrafficStats,
} from './group.js';
export { referenceAllReduce } from './reference.js';
export { startLocalNatsServer, freeLoopbackPort, natsServerBinary, type LocalNatsServer } from './server.js';
export { DistributedSampler, seededPermutation, type DistributedSamplerOptions } from './sampler.js';
export {
  DistributedDataParallel,
  DiLoCo,
  broadcastWeights,
  readWeights,
  weightsSha256,
  type DDPOptions,
  type DiLoCoOptions,
  type FlatModel,
} from './ddp.js';
export { HEADER_BYTES, WIRE_DTYPES, roundThroughWire, type WireDType } from './wire.js';
export {
  AuthenticationError,
  CollectiveMismatchError,
  CollectiveTimeoutError,
  ConnectionFailedError,
  DistributedConfigError,
  DuplicateRankError,
  GroupClosedError,
  RendezvousTimeoutError,
} from './errors.js';
