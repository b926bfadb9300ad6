// Fused SGD and Adam/AdamW steps of the WebGPU backend against the reference: the shared
// conformance suites (core/test/conformance/optim.ts, which gives the tolerances).
import { adamConformance, sgdConformance } from '../../core/test/conformance/optim.js';
import { describeGPU } from './helpers.js';

describeGPU('sgdStep', (twin) => {
  sgdConformance(twin);
});

describeGPU('adamStep', (twin) => {
  adamConformance(twin);
});
