/**
 * Data parallelism on a tiny GPT-2 across rank processes: DDP at batch B/2 on 2 ranks gives the losses of
 * one process at batch B; DiLoCo with H = 1, outer lr 1 and no momentum is parameter averaging; DiLoCo
 * with H = 4 and Nesterov keeps every rank on the same weights with one all-reduce per 4 steps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ready } from '@tessera/tensor';
import { AdamW } from '@tessera/optim';
import { GPT2 } from '@tessera/models';
import { DiLoCo, DistributedConfigError, DistributedDataParallel, HEADER_BYTES, initProcessGroup } from '@tessera/distributed';
import { expectAllOk, runRanks, startNatsServer, uniqueRunId, workers, type NatsServer, type RankResult } from './helpers.js';

const script = resolve(workers, 'train.mjs');
const CONFIG = { vocab_size: 32, n_positions: 16, n_embd: 16, n_layer: 2, n_head: 2 };
let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

const steps = (r: RankResult) => r.lines.filter((l) => typeof l.step === 'number') as { step: number; loss: number; localLoss: number }[];
const field = (r: RankResult, key: string) => r.lines.find((l) => key in l)![key];
const run = (worldSize: number, spec: Record<string, unknown>) => runRanks({ script, worldSize, url: nats.url, env: { TESSERA_TEST_SPEC: JSON.stringify(spec) } });

describe('DistributedDataParallel', () => {
  it('2 ranks at batch 4 each = 1 process at batch 8 (losses within 1e-6 over 20 steps), same weights on every rank', async () => {
    const [single, ddp] = await Promise.all([run(1, { mode: 'single', steps: 20, batch: 8 }), run(2, { mode: 'ddp', steps: 20, batch: 8 })]);
    expectAllOk(single);
    expectAllOk(ddp);
    const ref = steps(single[0]);
    expect(ref).toHaveLength(20);
    // The ranks started from different seeds; rank 0's weights were broadcast.
    expect(field(ddp[0], 'initialSha')).not.toBe(field(ddp[1], 'initialSha'));
    expect(field(ddp[1], 'startSha')).toBe(field(ddp[0], 'initialSha'));
    expect(field(ddp[0], 'startSha')).toBe(field(single[0], 'startSha'));
    let worst = 0;
    for (const r of ddp) {
      const s = steps(r);
      expect(s).toHaveLength(20);
      s.forEach((x, i) => {
        worst = Math.max(worst, Math.abs(x.loss - ref[i].loss));
        expect(Math.abs(x.loss - ref[i].loss), `rank ${r.rank} step ${i}: ${x.loss} vs ${ref[i].loss}`).toBeLessThanOrEqual(1e-6);
      });
    }
    // Training happened, on different shards, and every rank reports the same global loss.
    expect(ref[19].loss).toBeLessThan(ref[0].loss - 0.5);
    expect(steps(ddp[0]).map((s) => s.loss)).toEqual(steps(ddp[1]).map((s) => s.loss));
    expect(steps(ddp[0]).some((s, i) => s.localLoss !== steps(ddp[1])[i].localLoss)).toBe(true);
    expect(field(ddp[0], 'finalSha')).toBe(field(ddp[1], 'finalSha'));
    // Per step one all-reduce of P + 1 floats (the gradient block and the loss); rank 0 also broadcast P.
    const P = GPT2.numParameters(CONFIG);
    const t0 = field(ddp[0], 'traffic') as { bytesSent: number; messagesSent: number };
    expect(t0.bytesSent - t0.messagesSent * HEADER_BYTES).toBe(4 * (P + 20 * (P + 1)));
    console.log(`DDP vs single process: largest loss difference ${worst.toExponential(2)} over 20 steps (P = ${P})`);
  });

  it('refuses to step without gradients, with a typed error', async () => {
    await ready();
    const g = await initProcessGroup({ servers: nats.url, rank: 0, worldSize: 1, runId: uniqueRunId('nograd'), timeoutMs: 3000 });
    const model = new GPT2({ ...CONFIG, resid_pdrop: 0, embd_pdrop: 0, attn_pdrop: 0 }, { seed: 1 });
    const opt = new AdamW(model.flat.groups(0.1), { lr: 1e-3 });
    const ddp = await DistributedDataParallel.create(model, opt, g);
    await expect(ddp.step()).rejects.toThrow(/rank 0: DistributedDataParallel: the model has no gradient block/);
    await expect(DiLoCo.create(model, opt, g, { innerSteps: 0 })).rejects.toThrow(DistributedConfigError);
    await expect(DiLoCo.create(model, opt, g, { innerSteps: 2, outerMomentum: 1 })).rejects.toThrow(/outerMomentum must be in \[0, 1\), got 1/);
    opt.dispose();
    model.dispose();
    await g.destroy();
  });
});

describe('DiLoCo', () => {
  it('H = 1, outer lr 1, no momentum: every sync lands on the mean of the ranks\' local weights (3 ranks, 3 rounds)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-diloco-'));
    try {
      const out = await run(3, { mode: 'diloco', steps: 3, batch: 6, innerSteps: 1, outerLr: 1, outerMomentum: 0, nesterov: false, dumpDir: dir });
      expectAllOk(out);
      const load = (name: string) => new Float32Array(readFileSync(join(dir, name)).buffer.slice(0));
      for (let round = 0; round < 3; round++) {
        const locals = [0, 1, 2].map((r) => load(`local-${round}-rank${r}.f32`));
        const synced = [0, 1, 2].map((r) => load(`synced-${round}-rank${r}.f32`));
        // Identical bits on every rank.
        expect(Buffer.from(synced[1].buffer).equals(Buffer.from(synced[0].buffer))).toBe(true);
        expect(Buffer.from(synced[2].buffer).equals(Buffer.from(synced[0].buffer))).toBe(true);
        let spread = 0;
        let err = 0;
        for (let i = 0; i < synced[0].length; i++) {
          const mean = (locals[0][i] + locals[1][i] + locals[2][i]) / 3;
          spread = Math.max(spread, Math.abs(locals[0][i] - locals[1][i]), Math.abs(locals[1][i] - locals[2][i]));
          err = Math.max(err, Math.abs(synced[0][i] - mean));
        }
        // The ranks really diverged locally (different shards), and the sync is their average
        // (up to the f32 rounding of θ_g − mean(θ_g − θ_r)).
        expect(spread).toBeGreaterThan(1e-3);
        expect(err).toBeLessThanOrEqual(1e-6);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('H = 4 with Nesterov (lr 0.7, momentum 0.9): 24 steps, 6 outer steps, one all-reduce per 4 steps, same weights everywhere', async () => {
    const out = await run(3, { mode: 'diloco', steps: 24, batch: 6, innerSteps: 4, outerLr: 0.7, outerMomentum: 0.9, nesterov: true });
    expectAllOk(out);
    const P = GPT2.numParameters(CONFIG);
    for (const r of out) {
      expect(field(r, 'outerSteps')).toBe(6);
      expect(field(r, 'finalSha')).toBe(field(out[0], 'finalSha'));
      const t = field(r, 'traffic') as { bytesSent: number; messagesSent: number };
      expect(t.bytesSent - t.messagesSent * HEADER_BYTES).toBe(4 * P * (6 + (r.rank === 0 ? 1 : 0)));
      const l = steps(r).map((s) => s.loss);
      const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
      expect(mean(l.slice(-4))).toBeLessThan(mean(l.slice(0, 4)) - 0.5);
    }
  });
});
