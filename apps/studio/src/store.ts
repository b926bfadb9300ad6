/**
 * The saved model across reloads: one zip of the model directory in IndexedDB (available in
 * workers and in every browser, unlike OPFS's synchronous handles), under a fixed key.
 */

import { StudioIoError } from './errors.js';

const DB = 'tessera-studio';
const STORE = 'models';
const KEY = 'current';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new StudioIoError(`cannot open IndexedDB '${DB}': ${req.error?.message ?? 'unknown error'}`));
  });
}

async function transact<T>(mode: IDBTransactionMode, run: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = run(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(new StudioIoError(`IndexedDB '${DB}' ${mode}: ${tx.error?.message ?? 'unknown error'}`));
      tx.onabort = () => reject(new StudioIoError(`IndexedDB '${DB}' ${mode} aborted: ${tx.error?.message ?? 'quota exceeded?'}`));
    });
  } finally {
    db.close();
  }
}

/** A saved model: the zip and where it came from. */
export interface SavedModel {
  zip: Uint8Array;
  source: string;
  savedAt: string;
}

export function saveModel(saved: SavedModel): Promise<IDBValidKey> {
  return transact('readwrite', (s) => s.put(saved, KEY));
}

/** The saved model, or undefined when none was saved. */
export function loadSavedModel(): Promise<SavedModel | undefined> {
  return transact('readonly', (s) => s.get(KEY) as IDBRequest<SavedModel | undefined>);
}
