/**
 * @tessera/optim: optimizers (SGD, Adam, AdamW, AdaGrad, RMSProp), learning-rate
 * schedulers, gradient clipping, weight penalties and early stopping, over
 * @tessera/tensor parameters on any backend.
 *
 * @example
 * ```ts
 * import { AdamW, WarmupCosineLR, clipGradNorm } from '@tessera/optim';
 * const opt = new AdamW(model.parameters(), { lr: 6e-4, weightDecay: 0.1 });
 * const sched = new WarmupCosineLR(opt, { warmupSteps: 100, totalSteps: 5000, minLr: 6e-5 });
 * loss.backward(); await clipGradNorm(model.parameters(), 1.0); opt.step(); opt.zeroGrad(); sched.step();
 * ```
 */
export {
  Optimizer,
  type BaseOptions,
  type OptimizerStateDict,
  type OptionValue,
  type Pair,
  type ParamGroup,
  type ParamGroupInput,
  type ParamGroupStateDict,
  type ParamState,
  type ParamStateDict,
  type ParamsInput,
  type StateBuffer,
} from './optimizers/optimizer.js';
export { SGD, type SGDOptions } from './optimizers/sgd.js';
export { Adam, type AdamOptions } from './optimizers/adam.js';
export { AdamW, type AdamWOptions } from './optimizers/adamw.js';
export { AdaGrad, type AdaGradOptions } from './optimizers/adagrad.js';
export { RMSProp, type RMSPropOptions } from './optimizers/rmsprop.js';
export { LRScheduler, type SchedulerStateDict } from './schedulers/scheduler.js';
export { ConstantLR, type ConstantLROptions } from './schedulers/constant.js';
export { StepLR, type StepLROptions } from './schedulers/step.js';
export { ExponentialLR, type ExponentialLROptions } from './schedulers/exponential.js';
export { CosineAnnealingLR, type CosineAnnealingLROptions } from './schedulers/cosine.js';
export { WarmupCosineLR, type WarmupCosineLROptions } from './schedulers/warmup-cosine.js';
export { OneCycleLR, type OneCycleLROptions } from './schedulers/one-cycle.js';
export { clipGradNorm, clipGradNormSync, clipGradNormAsync, type ClipGradNormOptions } from './clip/norm.js';
export { clipGradValue } from './clip/value.js';
export { l1Penalty, l2Penalty } from './regularization.js';
export { EarlyStopping, type EarlyStoppingOptions } from './early-stopping.js';
export { NonFiniteError } from './errors.js';
