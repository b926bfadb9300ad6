// qmatmul on WebGPU against the float64 reference and an f32 matmul of the dequantized
// weights: the shared conformance suite (core/test/conformance/qmatmul.ts, which states the
// tolerance: int8 and int4 at every group size, odd shapes, element offsets, typed errors).
import { qmatmulConformance } from '../../core/test/conformance/qmatmul.js';
import { describeGPU } from './helpers.js';

describeGPU('qmatmul', (twin) => {
  qmatmulConformance(twin);
});
