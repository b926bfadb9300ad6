// qembedding on WebGPU: the shared conformance suite (core/test/conformance/qembedding.ts:
// bit-exact rows against the reference, int8 and int4 at every group size, offsets, bad
// indices rejected at the next read with nothing written, typed errors).
import { qembeddingConformance } from '../../core/test/conformance/qembedding.js';
import { describeGPU } from './helpers.js';

describeGPU('qembedding', (twin) => {
  qembeddingConformance(twin);
});
