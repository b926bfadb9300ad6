/**
 * GPT-2 on a backend without synchronous reads (as WebGPU is), faked with a
 * reference backend whose readSync refuses: loading a checkpoint with a tied
 * lm_head.weight checks it without reading the model back, and greedy
 * generation reads logits asynchronously. The real WebGPU runs are in
 * packages/webgpu/test/gpt2-training.test.ts.
 */
import { ReferenceBackend, UnsupportedError, type ArrayFor, type DType, type Features, type Storage } from '@tessera/core';
import { setBackend } from '@tessera/tensor';
import { afterAll, describe, expect, it } from 'vitest';
import { GPT2 } from '../src/index.js';
import { SMALL } from './helpers.js';

class AsyncOnlyBackend extends ReferenceBackend {
  override readonly features: Features = { ...new ReferenceBackend().features, syncRead: false };
  override readSync<D extends DType>(_storage: Storage, _dtype: D, _offset?: number, _length?: number): ArrayFor<D> {
    throw new UnsupportedError('readSync: this test backend reads asynchronously');
  }
  override async read<D extends DType>(storage: Storage, dtype: D, offset?: number, length?: number): Promise<ArrayFor<D>> {
    await Promise.resolve();
    return super.readSync(storage, dtype, offset, length);
  }
}

/** The parameters of `model` as host arrays, under Hugging Face's names (no `transformer.` prefix). */
function hostDict(model: GPT2): Map<string, { shape: readonly number[]; data: Float32Array }> {
  const out = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  for (const [name, p] of model.namedParameters()) out.set(name.replace(/^transformer\./, ''), { shape: p.shape, data: p.dataSync() as Float32Array });
  return out;
}

describe('GPT-2 on a backend without synchronous reads', () => {
  afterAll(async () => {
    await setBackend('reference');
  });

  it('loads a checkpoint with a tied lm_head.weight, and refuses an untied one, without reading the model back', async () => {
    await setBackend('reference');
    const src = new GPT2(SMALL, { seed: 3 });
    const dict = hostDict(src);
    const wte = dict.get('wte.weight')!;
    await setBackend(new AsyncOnlyBackend());
    const model = new GPT2(SMALL, { init: false });
    model.loadStateDict(new Map([...dict, ['lm_head.weight', { shape: wte.shape, data: wte.data.slice() }]]));
    expect(await model.transformer.wte.weight.data()).toEqual(wte.data);
    // The same tensor for both keys, as a tied checkpoint built from tensors has it.
    model.loadStateDict(new Map([...src.stateDict(), ['lm_head.weight', src.transformer.wte.weight]]));
    const wrong = wte.data.slice();
    wrong[5] += 1;
    expect(() => model.loadStateDict(new Map([...dict, ['lm_head.weight', { shape: wte.shape, data: wrong }]]))).toThrow(
      /lm_head.weight differs from transformer.wte.weight/,
    );
    // Without the embedding in the same dict there is nothing to compare with on the host.
    expect(() => model.loadStateDict({ 'lm_head.weight': { shape: wte.shape, data: wte.data } }, { strict: false })).toThrow(UnsupportedError);
    expect(() => model.loadStateDict({ 'lm_head.weight': { shape: wte.shape, data: wte.data } }, { strict: false })).toThrow(
      /cannot check lm_head.weight against transformer.wte.weight without synchronous reads \(the model is on backend 'reference'\)/,
    );
    src.dispose();
    model.dispose();
  });

  it('greedy generation gives the tokens it gives on a backend with synchronous reads', async () => {
    await setBackend('reference');
    const ref = new GPT2(SMALL, { seed: 5 });
    const dict = hostDict(ref);
    const want = await ref.generate([1, 2, 3], { maxNewTokens: 6, greedy: true, stopTokens: [] });
    await setBackend(new AsyncOnlyBackend());
    const model = new GPT2(SMALL, { init: false });
    model.loadStateDict(dict);
    expect(await model.generate([1, 2, 3], { maxNewTokens: 6, greedy: true, stopTokens: [] })).toEqual(want);
    ref.dispose();
    model.dispose();
  });
});
