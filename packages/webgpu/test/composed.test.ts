// The fused-vs-composed suites on the WebGPU adapter: every op-table case forward and backward
// through the fused kernels, through withoutFusedKernels(be) and with only the backward kernels
// hidden, against the float64 reference (packages/tensor/test/composed-suite.ts, rtol 1e-5),
// and fused vs composed SGD / Adam / AdamW steps (packages/optim/test/composed-suite.ts, 1e-5).
import { composedOpSuite } from '../../tensor/test/composed-suite.js';
import { composedOptimizerSuite } from '../../optim/test/composed-suite.js';
import { gpu } from './helpers.js';

const skip = gpu.be ? undefined : `no real WebGPU adapter: ${gpu.reason}`;
composedOpSuite('webgpu', () => gpu.be!, { rtol: 1e-5, skip });
composedOptimizerSuite('webgpu', () => gpu.be!, skip);
