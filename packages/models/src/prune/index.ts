export { prune, PRUNE_METHODS, PRUNE_SCOPES, type PruneMethod, type PruneOptions, type PruneScope } from './prune.js';
export { restoreMasks, sparsity, type MaskableOptimizer, type SparsityEntry, type SparsityReport } from './masks.js';
export { prunableWeights, type PrunableWeight } from './targets.js';
