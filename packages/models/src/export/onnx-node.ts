/**
 * `exportOnnx`: an export written to files. `node:fs` is imported on first use, so the
 * package entry stays loadable where it does not exist (browsers); Deno and Bun provide it.
 */

import type { Module } from '../nn/module.js';
import { OnnxExportError } from './errors.js';
import { buildOnnx, type OnnxExportOptions } from './onnx.js';
import { MAX_PROTOBUF_BYTES, encodeOnnxModelExternal, planOnnxModel, writeOnnxPlan } from './onnx-proto.js';

/** Options of `exportOnnx`: those of exportOnnxBytes, and where the weights go. */
export interface OnnxFileOptions extends OnnxExportOptions {
  /**
   * Write the weights to a second file, `<file name>.data` beside the model (ONNX external
   * data): true, false, or (default) only when the model would pass protobuf's 2 GiB.
   */
  externalData?: boolean;
}

/** What exportOnnx wrote. */
export interface OnnxFiles {
  readonly path: string;
  readonly bytes: number;
  /** The external data file, or null when the weights are in the model file. */
  readonly dataPath: string | null;
  readonly dataBytes: number;
}

/**
 * Exports `model` (see exportOnnxBytes) to `path`. Each file is written beside its target
 * under a temporary name and renamed into place (the data file first), so a reader never
 * sees a half-written model. With external data, the weights are written one at a time:
 * no buffer of the whole model is made.
 * @example await exportOnnx(model, 'gpt2.onnx', { kvCache: true, dtype: 'f16' })
 */
export async function exportOnnx(model: Module, path: string, options: OnnxFileOptions = {}): Promise<OnnxFiles> {
  const { externalData, ...rest } = options ?? {};
  if (externalData !== undefined && typeof externalData !== 'boolean') {
    throw new OnnxExportError(`exportOnnx: externalData must be true or false, got ${JSON.stringify(externalData)}`);
  }
  const { graph, name, info } = buildOnnx(model, rest);
  const plan = externalData === true ? null : planOnnxModel(graph, name, info);
  const fs = await import('node:fs/promises');
  const { basename } = await import('node:path');
  const temp = (p: string): string => `${p}.tmp-${process.pid}-${Date.now()}`;
  if (plan && (externalData === false || plan.size <= MAX_PROTOBUF_BYTES)) {
    const bytes = writeOnnxPlan(plan);
    await writeReplacing(fs, path, temp(path), (fh) => writeAt(fh, bytes, 0));
    return { path, bytes: bytes.length, dataPath: null, dataBytes: 0 };
  }
  const dataPath = `${path}.data`;
  const external = encodeOnnxModelExternal(graph, name, info, basename(dataPath));
  await writeReplacing(fs, dataPath, temp(dataPath), async (fh) => {
    await fh.truncate(external.dataSize); // the alignment gaps read as zeros
    for (const { init, offset } of external.tensors) {
      const bytes = new Uint8Array(init.byteLength);
      init.fill(bytes);
      await writeAt(fh, bytes, offset);
    }
  });
  await writeReplacing(fs, path, temp(path), (fh) => writeAt(fh, external.model, 0));
  return { path, bytes: external.model.length, dataPath, dataBytes: external.dataSize };
}

type Fs = typeof import('node:fs/promises');
type FileHandle = Awaited<ReturnType<Fs['open']>>;

/** Writes all of `bytes` at `position` (a write may take fewer bytes than asked). */
async function writeAt(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let at = 0;
  while (at < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, at, bytes.length - at, position + at);
    at += bytesWritten;
  }
}

/** Writes `target` through `temp` (removed on failure), then renames it into place. */
async function writeReplacing(fs: Fs, target: string, temp: string, write: (fh: FileHandle) => Promise<void>): Promise<void> {
  try {
    const fh = await fs.open(temp, 'w');
    try {
      await write(fh);
    } finally {
      await fh.close();
    }
    await fs.rename(temp, target);
  } catch (e) {
    await fs.rm(temp, { force: true });
    throw e;
  }
}
