/**
 * `exportOnnx`: writes `exportOnnxBytes` to a file. `node:fs` is imported on first use, so
 * the package entry stays loadable where it does not exist (browsers); Deno and Bun
 * provide it.
 */

import { exportOnnxBytes, type OnnxExportOptions } from './onnx.js';
import type { Module } from '../nn/module.js';

/**
 * Exports `model` (see exportOnnxBytes) to `path`, written beside it under a temporary
 * name and renamed into place, so a reader never sees a half-written file. Resolves to
 * the number of bytes written.
 * @example await exportOnnx(model, 'gpt2.onnx', { kvCache: true, dtype: 'f16' })
 */
export async function exportOnnx(model: Module, path: string, options: OnnxExportOptions = {}): Promise<number> {
  const bytes = exportOnnxBytes(model, options);
  const { writeFile, rename, rm } = await import('node:fs/promises');
  const temp = `${path}.tmp-${process.pid}-${Date.now()}`;
  try {
    await writeFile(temp, bytes);
    await rename(temp, path);
  } catch (e) {
    await rm(temp, { force: true });
    throw e;
  }
  return bytes.length;
}
