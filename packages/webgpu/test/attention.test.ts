// Scaled dot-product attention of the WebGPU backend against the reference: the shared
// conformance suite (core/test/conformance/attention.ts, which gives the tolerances).
import { attentionConformance } from '../../core/test/conformance/attention.js';
import { describeGPU } from './helpers.js';

describeGPU('attention', (twin) => {
  // Scores of ~50 magnify the f32 rounding of q.k (~1e-7 relative) into e^(50 * 1e-7) - 1 ~ 5e-6.
  attentionConformance(twin, { largeScoreRtol: 2e-5 });
});
