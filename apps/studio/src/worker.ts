/**
 * The training worker: it owns the backend, the model and the training loop, so the page's main
 * thread only draws. Training is `@tessera/cli/train-core`'s `TrainLoop` — the code
 * `tessera train` runs — with the CLI's validation cadence, so equal settings give the CLI's
 * losses. Between steps the loop yields to the message queue, which is how pause, resume and
 * stop arrive.
 */

import { createWasmBackend } from '@tessera/core';
import { setBackend } from '@tessera/tensor';
import { TokenPrinter, TrainLoop, decodeCorpus, encodePrompt, newModel, presetSettings, tokenizeCorpus } from '@tessera/cli/train-core';
import { CharTokenizer, quantizedBytes, quantizedWeights, type GPT2, type SavableTokenizer } from '@tessera/models';
import { StudioIoError, StudioStateError } from './errors.js';
import { chooseBackend, type BackendChoice, type BackendRequest, type Environment } from './backend-choice.js';
import { modelFilesFrom, modelFromFiles, modelToFiles, openModel, zipModel } from './model-files.js';
import type { CorpusSource, ModelInfo, Reply, Request, SampleSettings } from './protocol.js';
import { loadSavedModel, saveModel } from './store.js';

const post = (reply: Reply, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(reply, transfer);

let backendReady: Promise<void> | null = null;
let model: GPT2 | null = null;
let tokenizer: SavableTokenizer | null = null;
let info: ModelInfo | null = null;
/** Set while a training run is in progress (paused or not). */
let training: { paused: boolean; stop: boolean; resume: (() => void) | null } | null = null;
let generating = false;

/** What the browser offers this worker (WebGPU adapter, isolation, cores). */
async function environment(): Promise<Environment> {
  const base = { crossOriginIsolated: self.crossOriginIsolated === true, cores: navigator.hardwareConcurrency || 1 };
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return { ...base, gpuAdapter: null, gpuMissing: 'navigator.gpu is not defined: this browser has WebGPU off or lacks it' };
  try {
    const adapter = await gpu.requestAdapter();
    if (!adapter) return { ...base, gpuAdapter: null, gpuMissing: 'navigator.gpu.requestAdapter() returned null' };
    const i = adapter.info;
    return { ...base, gpuAdapter: [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' / ') || 'unnamed adapter' };
  } catch (e) {
    return { ...base, gpuAdapter: null, gpuMissing: `requestAdapter() failed: ${(e as Error).message}` };
  }
}

/** Creates the chosen backend; a WebGPU device that fails to start falls back to wasm, saying so. */
async function startBackend(request: BackendRequest): Promise<void> {
  const env = await environment();
  let choice: BackendChoice = chooseBackend(request, env);
  let note: string | null = null;
  if (choice.kind === 'webgpu') {
    try {
      const { webgpu } = await import('@tessera/webgpu');
      await setBackend(await webgpu());
      post({ type: 'backend', choice, threads: 1, note });
      return;
    } catch (e) {
      note = `WebGPU did not start (${(e as Error).message}); using wasm`;
      choice = chooseBackend(env.crossOriginIsolated ? 'wasm-threads' : 'wasm-single', env);
    }
  }
  const be = await createWasmBackend({ threads: choice.threads });
  await setBackend(be);
  if (be.threadsUnavailable && choice.threads > 1) note = `the worker pool did not start (${be.threadsUnavailable}); running on one thread`;
  post({ type: 'backend', choice, threads: be.features.numThreads, note });
}

/** Resolves after the message queue had a turn (a MessageChannel task: no timer clamping). */
const channel = new MessageChannel();
const waiting: (() => void)[] = [];
channel.port1.onmessage = () => waiting.shift()?.();
const yieldToMessages = (): Promise<void> =>
  new Promise((resolve) => {
    waiting.push(resolve);
    channel.port2.postMessage(0);
  });

/** A quantized model's weights in words, or null for an f32 model. */
function quantization(m: GPT2): string | null {
  const [first] = quantizedWeights(m).values();
  if (!first) return null;
  const b = quantizedBytes(m);
  return `int${first.weight.bits}, groups of ${first.weight.groupSize}: ${b.weights} weight${b.weights === 1 ? '' : 's'}, ${(b.quantized / 1e6).toFixed(2)} MB (${(b.f32 / 1e6).toFixed(2)} MB in f32)`;
}

function describe(m: GPT2, tok: SavableTokenizer | null, source: string): ModelInfo {
  const c = m.config;
  return {
    source,
    // A quantized weight is no parameter any more (it has no gradient); count its values.
    parameters: m.numParameters() + quantizedBytes(m).f32 / 4,
    layers: c.n_layer,
    heads: c.n_head,
    embd: c.n_embd,
    context: c.n_positions,
    vocab: c.vocab_size,
    tokenizer: tok === null ? 'none' : tok instanceof CharTokenizer ? 'char' : 'gpt2',
    quantized: quantization(m),
  };
}

function setModel(m: GPT2 | null, tok: SavableTokenizer | null, source: string): void {
  if (model && model !== m) model.dispose();
  model = m;
  tokenizer = tok;
  info = m ? describe(m, tok, source) : null;
  post({ type: 'model', info });
}

/** The text of a corpus: fetched, decoded as `tessera train --data` decodes a file, or as given. */
async function corpusText(c: CorpusSource): Promise<string> {
  let text: string;
  if (c.kind === 'url') {
    const res = await fetch(c.url);
    if (!res.ok) throw new StudioIoError(`cannot load ${c.name} from ${c.url}: HTTP ${res.status}`);
    text = await res.text();
  } else if (c.kind === 'bytes') text = decodeCorpus(c.bytes, c.name).text;
  else text = c.text;
  if (text.length === 0) throw new StudioIoError(`${c.name} is empty`);
  return text;
}

async function train(req: Extract<Request, { type: 'train' }>): Promise<void> {
  const asked = performance.now();
  const settings = presetSettings(req.preset, { steps: req.steps, seed: req.seed });
  const text = await corpusText(req.corpus);
  const data = await tokenizeCorpus(text, req.corpus.name, settings);
  const m = newModel(settings, data.tokenizer);
  // The model being trained is the current one: a paused run samples and saves from it.
  setModel(m, data.tokenizer, `training: ${req.preset} on ${req.corpus.name}`);
  const loop = new TrainLoop(m, data.split, settings);
  const run = { paused: false, stop: false, resume: null as (() => void) | null };
  training = run;
  post({ type: 'started', corpus: req.corpus.name, characters: text.length, steps: settings.steps, parameters: m.numParameters(), trainTokens: data.split.train.length, valTokens: data.split.val.length, settings: { ...settings } });
  const validate = async (): Promise<number> => {
    const loss = await loop.evaluate(req.evalIters);
    post({ type: 'val', step: loop.step, loss });
    return loss;
  };
  let active = 0;
  let tokens = 0;
  let firstStepMs = 0;
  let lastVal = -1;
  try {
    // The CLI's cadence: validate at step 0, every evalEvery steps, and at the end.
    if (req.evalEvery > 0) {
      await validate();
      lastVal = 0;
    }
    while (loop.step < settings.steps && !run.stop) {
      if (run.paused) {
        post({ type: 'paused' });
        await new Promise<void>((resolve) => (run.resume = resolve));
        run.resume = null;
        if (run.stop) break;
        post({ type: 'resumed' });
      }
      const t0 = performance.now();
      const r = await loop.trainStep();
      const t1 = performance.now();
      active += t1 - t0;
      tokens += r.tokens;
      if (r.step === 1) firstStepMs = t1 - asked;
      post({ type: 'step', step: r.step, loss: r.loss, lr: r.lr, tokensPerSecond: tokens / (active / 1000), elapsed: active / 1000, firstStepMs });
      if (req.evalEvery > 0 && r.step % req.evalEvery === 0 && r.step !== settings.steps) {
        await validate();
        lastVal = r.step;
      }
      await yieldToMessages();
    }
    if (loop.step === settings.steps && lastVal !== loop.step) await validate();
  } finally {
    training = null;
    loop.dispose();
    setModel(m, data.tokenizer, `trained here: ${req.preset}, ${loop.step} step${loop.step === 1 ? '' : 's'} on ${req.corpus.name}`);
    post({ type: 'trained', step: loop.step, stopped: run.stop, seconds: active / 1000 });
  }
}

async function generate(s: SampleSettings): Promise<void> {
  if (!model || !tokenizer) throw new StudioStateError(model ? 'this model has no tokenizer, so a prompt cannot be encoded' : 'there is no model yet: train one, or open a saved one');
  if (training && !training.paused) throw new StudioStateError('training is running: pause or stop it first');
  const ids = encodePrompt(tokenizer, s.prompt);
  if (ids.length === 0) throw new StudioStateError('the prompt is empty: type at least one character');
  const printer = new TokenPrinter(tokenizer);
  const out: number[] = [];
  const t0 = performance.now();
  generating = true;
  const m = model;
  m.eval();
  try {
    const options = { maxNewTokens: s.maxNewTokens, temperature: s.temperature, topK: s.topK > 0 ? s.topK : undefined, topP: s.topP, seed: s.seed, stopTokens: [] };
    for await (const id of m.stream(ids, options)) {
      out.push(id);
      post({ type: 'token', id, text: printer.push(id) });
    }
    const rest = printer.flush();
    if (rest) post({ type: 'token', id: -1, text: rest });
  } finally {
    if (training) m.train();
    generating = false;
  }
  post({ type: 'generated', ids: out, text: tokenizer.decode(out), ms: performance.now() - t0 });
}

async function currentZip(): Promise<Uint8Array> {
  if (!model) throw new StudioStateError('there is no model to save yet: train one, or open a saved one');
  if (training && !training.paused) throw new StudioStateError('training is running: pause or stop it first');
  return zipModel(await modelToFiles(model, tokenizer));
}

async function handle(req: Request): Promise<void> {
  switch (req.type) {
    case 'init':
      backendReady = startBackend(req.backend);
      return backendReady;
    case 'train':
      if (training) throw new StudioStateError('a training run is already in progress');
      if (generating) throw new StudioStateError('generation is running: wait for it to finish');
      await backendReady;
      return train(req);
    case 'pause':
      if (training) training.paused = true;
      return;
    case 'resume':
      if (training) {
        training.paused = false;
        training.resume?.();
      }
      return;
    case 'stop':
      if (training) {
        training.stop = true;
        training.resume?.();
      }
      return;
    case 'generate':
      await backendReady;
      return generate(req.settings);
    case 'export': {
      const bytes = await currentZip();
      post({ type: 'exported', name: 'model.zip', bytes }, [bytes.buffer]);
      return;
    }
    case 'persist': {
      const zip = await currentZip();
      await saveModel({ zip, source: info?.source ?? 'unknown', savedAt: new Date().toISOString() });
      post({ type: 'persisted', bytes: zip.byteLength });
      return;
    }
    case 'restore': {
      await backendReady;
      const saved = await loadSavedModel();
      if (!saved) return post({ type: 'model', info });
      const { model: m, tokenizer: tok } = modelFromFiles(modelFilesFrom(saved.zip, 'the saved model'), 'the saved model');
      setModel(m, tok, `${saved.source} (saved ${saved.savedAt})`);
      return;
    }
    case 'open': {
      await backendReady;
      if (training) throw new StudioStateError('stop training before opening another model');
      const { model: m, tokenizer: tok } = openModel(req.files, req.name);
      setModel(m, tok, req.name);
      return;
    }
  }
}

self.onmessage = (e: MessageEvent<Request>) => {
  const req = e.data;
  handle(req).catch((err: unknown) => post({ type: 'error', message: err instanceof Error ? err.message : String(err), during: req.type }));
};
