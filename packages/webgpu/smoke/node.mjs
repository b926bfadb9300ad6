// Smoke test for Node and Bun (WebGPU from the npm `webgpu` package, Dawn):
//   node packages/webgpu/smoke/node.mjs
//   node_modules/.bin/bun packages/webgpu/smoke/node.mjs
import { smoke } from './check.mjs';

const runtime = typeof globalThis.Bun !== 'undefined' ? `bun ${globalThis.Bun.version}` : `node ${process.versions.node}`;
process.exitCode = await smoke(runtime);
