// GPT-2 benchmark contenders with one interface, { forward(ids) -> Float32Array logits [T, V],
// decode(ids, n) -> { tokens, times } } (greedy, KV cache, times[i] when token i was known), and
// the median statistics the GPT-2 benchmarks report.
//
//   tesseraGpt2(model, { be })  a Tessera GPT2 (eval; prepacked or quantized as the caller made it);
//                               be: a backend to select before every call (several in one process)
//   ortContender('ort-node' | 'ort-web', threads, onnx, cfg, { name })
//     ONNX Runtime running a GPT-2 export with past_key_values (Tessera's
//     exportOnnxBytes(model, { kvCache: true }), Optimum's input and output names): onnxruntime-node
//     (native CPU EP) or onnxruntime-web (wasm EP, in Node). onnx: the model's bytes (Uint8Array);
//     cfg: the GPT-2 config (n_layer, n_head, n_embd, vocab_size); name: the label (default: the
//     runtime's). Adds { name, build, release() }.
//   medianStats(xs)             { median, min, max, all }
//
// onnxruntime-web reads env.wasm.numThreads when it creates its first session in a process, so a
// process runs one thread count (the benchmarks start one child per count).
import { noGrad, setBackend, tensor } from '@tessera/tensor';

/** Median, min and max of `xs` (and xs itself as `all`). */
export function medianStats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { median: s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2, min: s[0], max: s[s.length - 1], all: xs };
}

/** forward (all positions' logits, copied out) and greedy decode with the KV cache of a Tessera GPT2. */
export function tesseraGpt2(model, { be } = {}) {
  const select = async () => {
    if (be) await setBackend(be);
  };
  return {
    async forward(ids) {
      await select();
      return noGrad(() => {
        const t = tensor([ids], undefined, 'i32');
        const logits = model.forward(t);
        const out = Float32Array.from(logits.dataSync());
        logits.dispose();
        t.dispose();
        return out;
      });
    },
    async decode(ids, n) {
      await select();
      const times = [];
      const tokens = await model.generate(ids, { maxNewTokens: n, greedy: true, stopTokens: [], onToken: () => void times.push(performance.now()) });
      return { tokens, times };
    },
  };
}

/**
 * A contender running `onnx` in onnxruntime-node (`intraOpNumThreads: threads`) or
 * onnxruntime-web (`env.wasm.numThreads = threads`): prefill with an empty past, decode feeding
 * present.* back as past_key_values.*.
 */
export async function ortContender(lib, threads, onnx, cfg, { name = lib } = {}) {
  let ort;
  let options;
  let build;
  if (lib === 'ort-web') {
    ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = threads;
    options = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
    build = `onnxruntime-web ${ort.env.versions?.web ?? ''} wasm EP, ${threads} thread(s) asked, SIMD ${ort.env.wasm.simd !== false ? 'on' : 'off'}, KV cache (export with past_key_values)`;
  } else if (lib === 'ort-node') {
    ort = await import('onnxruntime-node');
    options = { executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
    build = `onnxruntime-node ${ort.env.versions?.node ?? ''} native CPU EP (MLAS, native SIMD/FMA), intra-op ${threads} thread(s), KV cache`;
  } else {
    throw new Error(`ortContender: runtime must be 'ort-node' or 'ort-web', got ${JSON.stringify(lib)}`);
  }
  const session = await ort.InferenceSession.create(onnx, options);
  const H = cfg.n_head;
  const D = cfg.n_embd / H;
  const i64 = (values, dims) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), dims);
  /** One run: ids after `past` (null: empty) -> { logits, present }. */
  const step = async (ids, past, pastLen) => {
    const T = ids.length;
    const feeds = {
      input_ids: i64(ids, [1, T]),
      attention_mask: i64(new Array(pastLen + T).fill(1), [1, pastLen + T]),
      position_ids: i64(
        ids.map((_, i) => pastLen + i),
        [1, T],
      ),
    };
    for (let i = 0; i < cfg.n_layer; i++) {
      for (const part of ['key', 'value']) {
        feeds[`past_key_values.${i}.${part}`] = past ? past[`present.${i}.${part}`] : new ort.Tensor('float32', new Float32Array(0), [1, H, 0, D]);
      }
    }
    return session.run(feeds);
  };
  const argmaxLast = (logits, T) => {
    const V = cfg.vocab_size;
    const d = logits.data;
    let best = 0;
    for (let j = 1; j < V; j++) if (d[(T - 1) * V + j] > d[(T - 1) * V + best]) best = j;
    return best;
  };
  return {
    name,
    build,
    async forward(ids) {
      const out = await step(ids, null, 0);
      return out.logits.data;
    },
    async decode(ids, n) {
      const tokens = [];
      const times = [];
      let out = await step(ids, null, 0);
      let len = ids.length;
      let next = argmaxLast(out.logits, ids.length);
      for (let i = 0; i < n; i++) {
        tokens.push(next);
        times.push(performance.now());
        if (i === n - 1) break;
        out = await step([next], out, len);
        len += 1;
        next = argmaxLast(out.logits, 1);
      }
      return { tokens, times };
    },
    release: () => session.release(),
  };
}
