/** Opening a GPT-2 model directory for generation, as `generate` and `serve` do. */

import { GPT2, type Tokenizer } from '@tessera/models';
import { ready } from '@tessera/tensor';
import { CliError } from './errors.js';
import { recoverCheckpointDir, requireDir } from './data/files.js';

/**
 * The GPT-2 in `dir` (a `tessera train` checkpoint, recovered first if a save was killed, or a
 * Hugging Face directory) in eval mode,
 * with its tokenizer; a CliError naming the directory when either is missing. The caller
 * disposes the model.
 */
export async function loadGenerationModel(dir: string): Promise<{ model: GPT2; tokenizer: Tokenizer }> {
  // A save killed between its renames leaves the checkpoint as a *.old-* sibling: take it back first.
  await recoverCheckpointDir(dir);
  await requireDir(dir, 'cannot read --model');
  await ready();
  const model = await GPT2.fromPretrained(dir);
  const tokenizer = model.tokenizer;
  if (!tokenizer) {
    model.dispose();
    throw new CliError(`${dir} has no tokenizer files (tokenizer.json, vocab.json + merges.txt, or char_tokenizer.json)`);
  }
  return { model: model.eval(), tokenizer };
}
