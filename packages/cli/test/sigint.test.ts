// Ctrl-C during training: the process finishes its step, saves a checkpoint, exits with 130,
// and the checkpoint resumes.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from './helpers.js';

describe('SIGINT', () => {
  it('saves a checkpoint before exiting', async () => {
    const out = join(tempDir(), 'ck');
    let sent = false;
    const r = await runCli(['train', '--preset', 'tiny', '--steps', '100000', '--eval-every', '0', '--sample', '0', '--out', out], {
      // Non-TTY progress prints a line after the first step: training is under way.
      onStderr: (text, child) => {
        if (!sent && /step 1\/100000/.test(text)) {
          sent = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(sent).toBe(true);
    expect(r.code).toBe(130);
    expect(r.stderr).toContain('interrupted: saving a checkpoint');
    expect(r.stderr).toMatch(/checkpoint: step \d+ saved to .* \(interrupted\)/);
    expect(r.stdout).toMatch(/stopped at step \d+\/100000/);
    const state = JSON.parse(readFileSync(join(out, 'trainer_state.json'), 'utf8'));
    expect(state.step).toBeGreaterThanOrEqual(1);
    expect(state.step).toBeLessThan(100000);
    expect(state.history.train).toHaveLength(state.step);
    for (const f of ['config.json', 'model.safetensors', 'training_state.safetensors', 'loss.svg', 'char_tokenizer.json']) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }

    const resumed = await runCli(['train', '--out', out, '--resume', '--stop-at', String(state.step + 2)]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`at step ${state.step}`);
    expect(JSON.parse(readFileSync(join(out, 'trainer_state.json'), 'utf8')).step).toBe(state.step + 2);
  });
});
