/** `tessera quantize`: write a model directory's weights as int8 / int4, as a directory or a GGUF file. */

import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError, type QuantActivations, type QuantBits } from '@tessera/core';
import {
  GGUF_WRITER,
  GGUF_WRITER_KEY,
  GPT2,
  GPT2ForSequenceClassification,
  GPT2Tokenizer,
  gpt2ToGguf,
  openGgufFile,
  quantize,
  quantizedBytes,
  quantizedWeights,
  saveModelDirectory,
  type Module,
  type SavableTokenizer,
} from '@tessera/models';
import { ready } from '@tessera/tensor';
import { defineCommand } from '../args.js';
import { command } from '../command.js';
import { CliError, UsageError } from '../errors.js';
import { checkReplaceable, describeFsError, readText, recoverCheckpointDir, replaceDirAtomic, requireDir, writeFileAtomic, writeText } from '../data/files.js';
import { FINETUNE_FILE } from '../classify/spam-task.js';
import { loadClassifier } from '../classify/model.js';

/** The record `tessera quantize` writes into an output directory (its marker for --overwrite). */
export const QUANTIZE_FILE = 'tessera_quantize.json';

const spec = defineCommand({
  name: 'quantize',
  summary: 'Quantize a GPT-2 model directory to int8 / int4 weights: a smaller directory, or a GGUF file.',
  description:
    'Linear / Conv1D weights and the token embedding become int8 or int4 with one f32 scale per group of --group-size values (symmetric, zero point 0); biases, norms and the position embedding stay f32. ' +
    'A directory output is a Hugging Face layout with a quantization_config that generate, serve and eval load directly (GPT-2 language models and both classifier architectures). ' +
    '--activations int8 lets decoding quantize each activation row to int8 too (faster int4/int8 decode on wasm; logits within 2% of f32 activations in the tests). ' +
    'A .gguf output is llama.cpp\'s gpt2 layout with Q8_0 (--bits 8) or Q4_0 (--bits 4) blocks (group size 32, f16 scales), or with --gguf-type Q4_K (--bits 4) K-quant super-blocks of 256 values quantized from the f32 weights, readable by generate, serve and llama.cpp (Tessera runs a Q4_K file as f32 in memory). ' +
    'An existing --out is replaced only with --overwrite, and only when tessera quantize wrote it.',
  options: {
    model: { type: 'string', placeholder: '<dir>', help: 'model directory: tessera train / finetune output, or a Hugging Face GPT-2 (required)' },
    bits: { type: 'int', min: 4, max: 8, help: 'bits per weight: 8 or 4 (required)' },
    groupSize: { type: 'int', min: 32, max: 128, help: 'values per scale: 32, 64 or 128 (default: 32 for --bits 4; for --bits 8 the largest of 128, 64, 32 dividing every input dimension; GGUF: 32)' },
    activations: {
      type: 'string',
      choices: ['f32', 'int8'],
      default: 'f32',
      help: 'activations the products may use: f32 (as given), or int8 (quantized per row and group where the backend finds that faster: decode steps on wasm, never on WebGPU; saved in the directory, and onnx exports of it ask for int8 too). Directory output only',
    },
    ggufType: {
      type: 'string',
      choices: ['Q8_0', 'Q4_0', 'Q4_K'],
      help: 'GGUF block type of the matrices: Q8_0 (--bits 8), Q4_0 or Q4_K (--bits 4; every input dimension a multiple of 256). Default: Q8_0 for --bits 8, Q4_0 for --bits 4. GGUF output only',
    },
    out: { type: 'string', placeholder: '<dir|file.gguf>', help: 'output directory, or a .gguf file (required)' },
    overwrite: { type: 'boolean', help: 'replace --out if it already exists (only a directory or file tessera quantize wrote)' },
  },
  examples: ['tessera quantize --model checkpoints/gpt2 --bits 8 --out checkpoints/gpt2-int8', 'tessera quantize --model checkpoints/gpt2 --bits 4 --activations int8 --out checkpoints/gpt2-int4-a8', 'tessera quantize --model checkpoints/gpt2 --bits 4 --out gpt2.Q4_0.gguf', 'tessera quantize --model checkpoints/gpt2 --bits 4 --gguf-type Q4_K --out gpt2.Q4_K.gguf', 'tessera quantize --model checkpoints/spam --bits 8 --group-size 64 --out checkpoints/spam-int8'],
});

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new CliError(describeFsError(e, `cannot use ${path}`));
  }
}

/** Refuses to replace a GGUF file unless --overwrite is given and Tessera wrote it. */
async function checkGgufOut(path: string, overwrite: boolean): Promise<void> {
  if (!(await exists(path))) return;
  if (!overwrite) throw new UsageError(`tessera quantize: ${path} already exists; pass --overwrite to replace it`, 'quantize');
  let writer: unknown;
  try {
    writer = (await openGgufFile(path)).metadata.get(GGUF_WRITER_KEY)?.value;
  } catch {
    writer = undefined;
  }
  if (writer !== GGUF_WRITER) throw new CliError(`${path} is not a GGUF file tessera quantize wrote; refusing to replace it (choose another --out)`);
}

/** A model directory's config.json and its architecture. */
async function configOf(dir: string): Promise<{ config: Record<string, unknown>; arch: unknown }> {
  const path = join(dir, 'config.json');
  try {
    const config = JSON.parse(await readText(path, 'cannot read the model config')) as Record<string, unknown>;
    if (config.quantization_config !== undefined) throw new CliError(`${dir} is already quantized; quantize the f32 model it came from`);
    return { config, arch: Array.isArray(config.architectures) ? config.architectures[0] : 'GPT2LMHeadModel' };
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
}

export const quantizeCommand = command(spec, async ({ options: o }, io) => {
  if (o.model === undefined) throw new CliError('tessera quantize needs --model <dir> (a model directory: tessera train / finetune output or a Hugging Face GPT-2)');
  if (o.bits === undefined || (o.bits !== 8 && o.bits !== 4)) throw new UsageError(`tessera quantize: --bits must be 8 or 4${o.bits === undefined ? '' : `, got ${o.bits}`}`, 'quantize');
  if (o.groupSize !== undefined && ![32, 64, 128].includes(o.groupSize)) throw new UsageError(`tessera quantize: --group-size must be 32, 64 or 128, got ${o.groupSize}`, 'quantize');
  if (o.out === undefined) throw new CliError('tessera quantize needs --out <dir|file.gguf>');
  const gguf = o.out.toLowerCase().endsWith('.gguf');
  if (gguf && o.activations !== 'f32') throw new UsageError(`tessera quantize: a GGUF file has no place for --activations ${o.activations}; write a directory`, 'quantize');
  if (o.ggufType !== undefined && !gguf) throw new UsageError(`tessera quantize: --gguf-type ${o.ggufType} is for a .gguf --out, not the directory ${o.out}`, 'quantize');
  const ggufType = (o.ggufType ?? (o.bits === 8 ? 'Q8_0' : 'Q4_0')) as 'Q8_0' | 'Q4_0' | 'Q4_K';
  if ((ggufType === 'Q8_0') !== (o.bits === 8)) throw new UsageError(`tessera quantize: --gguf-type ${ggufType} holds ${ggufType === 'Q8_0' ? 8 : 4}-bit weights, not --bits ${o.bits}`, 'quantize');
  if (ggufType === 'Q4_K' && o.groupSize !== undefined) throw new UsageError(`tessera quantize: Q4_K has its own 256-value super-blocks of 32-value sub-blocks; --group-size ${o.groupSize} does not apply`, 'quantize');
  if (gguf && o.groupSize !== undefined && o.groupSize !== 32) throw new UsageError(`tessera quantize: GGUF's Q8_0 / Q4_0 blocks are 32 values; --group-size ${o.groupSize} cannot be written to ${o.out}`, 'quantize');
  await recoverCheckpointDir(o.model);
  await requireDir(o.model, 'cannot read --model');
  if (gguf) await checkGgufOut(o.out, o.overwrite);
  else if (await exists(o.out)) {
    if (!o.overwrite) throw new UsageError(`tessera quantize: ${o.out} already exists; pass --overwrite to replace it`, 'quantize');
    await checkReplaceable(o.out, [QUANTIZE_FILE]);
  }
  const { config, arch } = await configOf(o.model);
  if (arch !== 'GPT2LMHeadModel' && arch !== 'GPT2ForSequenceClassification' && arch !== 'TransformerEncoderClassifier') {
    throw new CliError(`${o.model} holds a ${JSON.stringify(arch)} model; tessera quantize handles GPT2LMHeadModel, GPT2ForSequenceClassification and TransformerEncoderClassifier directories`);
  }
  if (gguf && arch !== 'GPT2LMHeadModel') throw new CliError(`${o.model} is a ${String(arch)}; GGUF output is for GPT-2 language models (write a directory instead)`);
  await ready();
  const bits = o.bits as QuantBits;
  const groupSize = (o.groupSize ?? (gguf ? 32 : undefined)) as 32 | 64 | 128 | undefined;
  // The encoder classifier is read (and written, with its own config.json) as tessera finetune does.
  let model: Module;
  let tokenizer: SavableTokenizer | null;
  if (arch === 'TransformerEncoderClassifier') {
    const loaded = await loadClassifier(o.model);
    [model, tokenizer] = [loaded.classifier.module, loaded.tokenizer];
  } else {
    const gpt2 = arch === 'GPT2LMHeadModel' ? await GPT2.fromPretrained(o.model) : await GPT2ForSequenceClassification.fromPretrained(o.model);
    [model, tokenizer] = [gpt2, gpt2.tokenizer];
  }
  try {
    if (gguf && !(tokenizer instanceof GPT2Tokenizer)) {
      throw new CliError(`${o.model} has ${tokenizer ? 'a character-level' : 'no'} tokenizer; a GGUF file carries GPT-2's byte-level BPE tokenizer (train with --tokenizer gpt2, or write a directory)`);
    }
    const started = performance.now();
    if (ggufType === 'Q4_K' && gguf) {
      // Q4_K is quantized from the f32 weights (an int4 pass first would quantize twice).
      let bytes: Uint8Array;
      try {
        bytes = await gpt2ToGguf(model as GPT2, { type: 'Q4_K' });
      } catch (e) {
        if (e instanceof TesseraError) throw new CliError(`cannot write ${o.model} as Q4_K: ${e.message}`);
        throw e;
      }
      await writeFileAtomic(o.out, bytes);
      io.stdout.write(`${o.model} -> ${o.out}: matrices as Q4_K (256-value super-blocks), ${(bytes.length / 2 ** 20).toFixed(1)} MiB in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
      return 0;
    }
    try {
      // f16 scales for GGUF: the quantized weights are then exactly its Q8_0 / Q4_0 blocks.
      await quantize(model, { bits, groupSize, f16Scales: gguf, activations: o.activations as QuantActivations });
    } catch (e) {
      if (e instanceof TesseraError) throw new CliError(`cannot quantize ${o.model}: ${e.message}`);
      throw e;
    }
    const b = quantizedBytes(model);
    // The group quantize() chose when --group-size was not given (defaultGroupSize).
    const group = quantizedWeights(model).values().next().value?.weight.groupSize ?? groupSize;
    if (gguf) {
      await writeFileAtomic(o.out, await gpt2ToGguf(model as GPT2));
    } else {
      await replaceDirAtomic(
        o.out,
        async (tmp) => {
          if (model instanceof GPT2 || model instanceof GPT2ForSequenceClassification) await model.savePretrained(tmp);
          else await saveModelDirectory(tmp, model, { config, tokenizer });
          // A fine-tuned classifier keeps its record, so `tessera eval` finds its test split.
          if (await exists(join(o.model!, FINETUNE_FILE))) await writeText(join(tmp, FINETUNE_FILE), await readText(join(o.model!, FINETUNE_FILE)));
          await writeText(join(tmp, QUANTIZE_FILE), `${JSON.stringify({ format: 'tessera-quantize', version: 1, source: o.model, bits, group_size: group, activations: o.activations }, null, 2)}\n`);
        },
        [QUANTIZE_FILE],
      );
    }
    const mb = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
    io.stdout.write(
      `${o.model} -> ${o.out}: ${b.weights} weights as int${bits} (group ${group}${gguf ? `, ${bits === 8 ? 'Q8_0' : 'Q4_0'}` : ''}${o.activations === 'int8' ? ', int8 activations' : ''}), ${mb(b.f32)} -> ${mb(b.quantized)} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
    );
  } finally {
    model.dispose();
  }
  return 0;
});
