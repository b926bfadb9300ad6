/**
 * The operand validators every backend runs before a kernel. @tessera/core's
 * public entry exports only checkDense/checkStorage/checkStrided, so the
 * per-kernel validators are imported from core's build output until core
 * exports them (then this becomes `export { ... } from '@tessera/core'`).
 */
export {
  checkDense,
  checkStorage,
  validateAdam,
  validateAttention,
  validateAttentionBackward,
  validateBinary,
  validateCast,
  validateCopy,
  validateCrossEntropy,
  validateCrossEntropyBackward,
  validateFill,
  validateGather,
  validateGeluBackward,
  validateIndexAdd,
  validateIndexSelect,
  validateLayerNorm,
  validateLayerNormBackward,
  validateMatmul,
  validateRandom,
  validateReduce,
  validateScatterAdd,
  validateSgd,
  validateSoftmax,
  validateSoftmaxBackward,
  validateUnary,
  validateWhere,
} from '../../core/dist/validate.js';
