/**
 * Node file helpers for safetensors. The file is read once into one buffer that the returned
 * F32/I32 tensors view (see `openSafetensors`), so a model's weights are held once, not twice.
 *
 * `node:fs` is imported on first use, so the package entry stays loadable where it does not exist
 * (browsers); Deno and Bun provide it.
 */

import type { FileHandle } from 'node:fs/promises';
import { FileError, fileError } from './errors.js';
import {
  openSafetensors,
  planSafetensors,
  type SafetensorsContents,
  type SafetensorsReadOptions,
  type SafetensorsReader,
  type TensorToSave,
} from './safetensors.js';

/** Reads the whole file into one exactly-sized buffer (no 2 GiB `readFile` limit, no pooled slab). */
async function readWhole(path: string): Promise<Uint8Array> {
  const { open } = await import('node:fs/promises');
  if (typeof path !== 'string') throw new FileError(`safetensors file: the path must be a string, got ${path === null ? 'null' : typeof path}`, String(path), undefined);
  const fh = await open(path, 'r').catch((e: unknown) => {
    throw fileError('safetensors file', path, e);
  });
  try {
    const stat = await fh.stat();
    if (stat.isDirectory()) throw fileError('safetensors file', path, Object.assign(new Error('EISDIR'), { code: 'EISDIR' }));
    const { size } = stat;
    const buf = new Uint8Array(new ArrayBuffer(size));
    let at = 0;
    while (at < size) {
      const { bytesRead } = await fh.read(buf, at, Math.min(size - at, 1 << 30), at).catch((e: unknown) => {
        throw fileError('safetensors file', path, e);
      });
      if (bytesRead === 0) break; // the file shrank while being read: parse what is there
      at += bytesRead;
    }
    return at === size ? buf : buf.subarray(0, at);
  } finally {
    await fh.close();
  }
}

async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, at, bytes.length - at);
    at += bytesWritten;
  }
}

/**
 * Opens a safetensors file for lazy access (header validated now, tensors converted on `get`).
 * @example const st = await openSafetensorsFile('gpt2/model.safetensors'); st.get('wte.weight');
 */
export async function openSafetensorsFile(path: string, options?: SafetensorsReadOptions): Promise<SafetensorsReader> {
  return openSafetensors(await readWhole(path), options);
}

/**
 * Reads and loads every tensor of a safetensors file.
 * @example const { tensors, metadata } = await readSafetensorsFile('model.safetensors');
 */
export async function readSafetensorsFile(path: string, options?: SafetensorsReadOptions): Promise<SafetensorsContents> {
  const reader = await openSafetensorsFile(path, options);
  return { tensors: reader.readAll(), metadata: reader.metadata };
}

/**
 * Writes tensors as a safetensors file (layout: see `planSafetensors`), one tensor at a time, so
 * the file is never assembled in memory.
 * @example await writeSafetensorsFile('out.safetensors', { w: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
 */
export async function writeSafetensorsFile(
  path: string,
  tensors: Readonly<Record<string, TensorToSave>>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const plan = planSafetensors(tensors, metadata);
  const { open } = await import('node:fs/promises');
  const fh = await open(path, 'w');
  try {
    await writeAll(fh, plan.header);
    for (const part of plan.parts) await writeAll(fh, part.encode());
  } finally {
    await fh.close();
  }
}
