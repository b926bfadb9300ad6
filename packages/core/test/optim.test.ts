// Fused SGD and Adam/AdamW steps of the wasm backend (both builds) against the reference:
// the shared conformance suites (conformance/optim.ts, which gives the tolerances).
import { adamConformance, sgdConformance } from './conformance/optim.js';
import { describeBuilds } from './helpers.js';

describeBuilds('sgdStep', (twin) => {
  sgdConformance(twin);
});

describeBuilds('adamStep', (twin) => {
  adamConformance(twin);
});
