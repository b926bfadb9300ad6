// Smoke test for Deno, on its built-in navigator.gpu (wgpu), not the npm `webgpu` package:
//   node_modules/.bin/deno run -A packages/webgpu/smoke/deno.mjs
import { smoke } from './check.mjs';

if (!navigator.gpu) {
  console.error('deno: navigator.gpu is missing');
  Deno.exit(1);
}
Deno.exitCode = await smoke(`deno ${Deno.version.deno}`);
