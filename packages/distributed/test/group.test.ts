/**
 * Rendezvous, refusal and failure: late ranks are waited for, duplicate ranks and wrong credentials are
 * refused with typed errors, a dead rank makes the others fail within the timeout naming it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { connect } from '@nats-io/transport-node';
import {
  AuthenticationError,
  CollectiveMismatchError,
  CollectiveTimeoutError,
  ConnectionFailedError,
  DistributedConfigError,
  DuplicateRankError,
  GroupClosedError,
  RendezvousTimeoutError,
  initProcessGroup,
  processGroupOptionsFromEnv,
  type ProcessGroup,
  type ProcessGroupOptions,
} from '@tessera/distributed';
import { TesseraError } from '@tessera/core';
import { freePort, spawnRank, startNatsServer, uniqueRunId, workers, type NatsServer, type RankProc } from './helpers.js';

let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const join = (o: Partial<ProcessGroupOptions> & { rank: number; worldSize: number; runId: string }) => initProcessGroup({ servers: nats.url, timeoutMs: 5000, ...o });
async function closeAll(groups: (ProcessGroup | undefined)[]) {
  await Promise.all(groups.map((g) => g?.destroy()));
}

describe('rendezvous', () => {
  it('waits for a rank that arrives late, then the group works', async () => {
    const runId = uniqueRunId('late');
    const t0 = Date.now();
    const first = Promise.all([join({ rank: 0, worldSize: 3, runId }), join({ rank: 2, worldSize: 3, runId })]);
    await sleep(1200);
    const late = await join({ rank: 1, worldSize: 3, runId });
    const [g0, g2] = await first;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1200);
    const bufs = [new Float32Array([1, 2]), new Float32Array([10, 20]), new Float32Array([100, 200])];
    await Promise.all([g0.allReduce(bufs[0]), late.allReduce(bufs[1]), g2.allReduce(bufs[2])]);
    for (const b of bufs) expect([...b]).toEqual([111, 222]);
    await closeAll([g0, late, g2]);
  });

  it('rank 0 arriving last is fine too (the others retry)', async () => {
    const runId = uniqueRunId('late0');
    const others = join({ rank: 1, worldSize: 2, runId });
    await sleep(800);
    const g0 = await join({ rank: 0, worldSize: 2, runId });
    const g1 = await others;
    await Promise.all([g0.barrier(), g1.barrier()]);
    await closeAll([g0, g1]);
  });

  it('names the ranks that never arrive (RendezvousTimeoutError) on rank 0 and on the waiting ranks', async () => {
    const runId = uniqueRunId('missing');
    const [e0, e1] = await Promise.all([
      join({ rank: 0, worldSize: 4, runId, timeoutMs: 1500 }).then(() => null, (e: unknown) => e),
      join({ rank: 1, worldSize: 4, runId, timeoutMs: 3000 }).then(() => null, (e: unknown) => e),
    ]);
    expect(e0).toBeInstanceOf(RendezvousTimeoutError);
    expect(e0).toBeInstanceOf(TesseraError);
    expect((e0 as RendezvousTimeoutError).missingRanks).toEqual([2, 3]);
    expect((e0 as Error).message).toMatch(/ranks \[2, 3\] of 4 did not arrive within 1500 ms/);
    expect(e1).toBeInstanceOf(RendezvousTimeoutError);
    expect((e1 as RendezvousTimeoutError).missingRanks).toEqual([2, 3]);
  });

  it('a rank whose rank 0 never comes fails at its timeout naming rank 0', async () => {
    const t0 = Date.now();
    const e = await join({ rank: 1, worldSize: 2, runId: uniqueRunId('norank0'), timeoutMs: 1000 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RendezvousTimeoutError);
    expect((e as RendezvousTimeoutError).missingRanks).toEqual([0]);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('refuses a duplicate rank while the holder is alive, before and after the group formed', async () => {
    const runId = uniqueRunId('dup');
    const g0 = join({ rank: 0, worldSize: 2, runId });
    await sleep(300);
    const dup0 = await join({ rank: 0, worldSize: 2, runId }).catch((e: unknown) => e);
    expect(dup0).toBeInstanceOf(DuplicateRankError);
    expect((dup0 as DuplicateRankError).rank).toBe(0);
    expect((dup0 as Error).message).toMatch(/rank 0 of run '.*' is already held by another process/);
    const g1 = await join({ rank: 1, worldSize: 2, runId });
    const group0 = await g0;
    const dup1 = await join({ rank: 1, worldSize: 2, runId }).catch((e: unknown) => e);
    expect(dup1).toBeInstanceOf(DuplicateRankError);
    await closeAll([group0, g1]);
  });

  it('two processes racing for one rank: the coordinator refuses the second', async () => {
    const runId = uniqueRunId('race');
    const g0 = join({ rank: 0, worldSize: 3, runId, timeoutMs: 3000 }).catch((e: unknown) => e);
    const [a, b] = await Promise.all([join({ rank: 1, worldSize: 3, runId, timeoutMs: 3000 }).catch((e: unknown) => e), join({ rank: 1, worldSize: 3, runId, timeoutMs: 3000 }).catch((e: unknown) => e)]);
    // One of them holds rank 1 (and then times out waiting for rank 2, as does rank 0); the other is refused as a duplicate.
    const kinds = [a, b].map((e) => (e as Error).constructor.name).sort();
    expect(kinds).toEqual(['DuplicateRankError', 'RendezvousTimeoutError']);
    expect(await g0).toBeInstanceOf(RendezvousTimeoutError);
  });

  it('refuses a WORLD_SIZE that differs from rank 0', async () => {
    const runId = uniqueRunId('ws');
    const g0 = join({ rank: 0, worldSize: 2, runId, timeoutMs: 2000 }).catch((e: unknown) => e);
    const e = await join({ rank: 1, worldSize: 3, runId, timeoutMs: 2000 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CollectiveMismatchError);
    expect((e as Error).message).toMatch(/rank 1 says WORLD_SIZE 3, rank 0 says 2/);
    expect(await g0).toBeInstanceOf(RendezvousTimeoutError);
  });

  it('checks options and the environment with typed errors', async () => {
    await expect(join({ rank: 2, worldSize: 2, runId: 'x' })).rejects.toThrow(DistributedConfigError);
    await expect(join({ rank: 0, worldSize: 1, runId: 'a.b' })).rejects.toThrow(/runId must match/);
    await expect(join({ rank: 0, worldSize: 1, runId: 'x', user: 'u' })).rejects.toThrow(/user and pass go together/);
    expect(() => processGroupOptionsFromEnv({}, { WORLD_SIZE: '2', TESSERA_NATS_URL: 'nats://127.0.0.1:1', TESSERA_RUN_ID: 'r' })).toThrow(/RANK is not set/);
    expect(() => processGroupOptionsFromEnv({}, { RANK: 'one' })).toThrow(/RANK must be a non-negative integer, got "one"/);
    const o = processGroupOptionsFromEnv(
      { timeoutMs: 1234 },
      { RANK: '1', WORLD_SIZE: '4', LOCAL_RANK: '0', TESSERA_NATS_URL: 'nats://127.0.0.1:1,nats://127.0.0.1:2', TESSERA_RUN_ID: 'job7', TESSERA_NATS_TOKEN: 't', TESSERA_TIMEOUT_MS: '99' },
    );
    expect(o).toMatchObject({ rank: 1, worldSize: 4, localRank: 0, servers: 'nats://127.0.0.1:1,nats://127.0.0.1:2', runId: 'job7', token: 't', timeoutMs: 1234 });
  });

  it('a server that is not there is a ConnectionFailedError', async () => {
    const port = await freePort();
    await expect(initProcessGroup({ servers: `nats://127.0.0.1:${port}`, rank: 0, worldSize: 1, runId: 'x', timeoutMs: 1000 })).rejects.toThrow(ConnectionFailedError);
  });

  it('a size mismatch between ranks is a CollectiveMismatchError, and the group is then closed', async () => {
    const runId = uniqueRunId('size');
    const [g0, g1] = await Promise.all([join({ rank: 0, worldSize: 2, runId, timeoutMs: 2000 }), join({ rank: 1, worldSize: 2, runId, timeoutMs: 2000 })]);
    const [e0] = await Promise.all([g0.allReduce(new Float32Array(10)).catch((e: unknown) => e), g1.allReduce(new Float32Array(12)).catch((e: unknown) => e)]);
    expect(e0).toBeInstanceOf(CollectiveMismatchError);
    expect((e0 as Error).message).toMatch(/rank 1 sent reduceScatter chunk 0 for a buffer of 12 elements .* this rank has 10 elements/);
    await expect(g0.barrier()).rejects.toThrow(GroupClosedError);
    await closeAll([g0, g1]);
  });
});

describe('faults', () => {
  it('killing a rank mid-run makes the others fail within the timeout, naming it', async () => {
    const N = 3;
    const timeoutMs = 3000;
    const runId = uniqueRunId('kill');
    const victim = 1;
    let started = 0;
    let resolveReady!: () => void;
    const ready = new Promise<void>((r) => (resolveReady = r));
    const procs: RankProc[] = [...Array(N).keys()].map((rank) =>
      spawnRank({
        script: resolve(workers, 'allreduce.mjs'),
        rank,
        worldSize: N,
        url: nats.url,
        runId,
        killAfterMs: 60_000,
        env: { TESSERA_TEST_SPEC: JSON.stringify({ sizes: [300_007], loop: 100000 }), TESSERA_TIMEOUT_MS: String(timeoutMs) },
        onLine: (l) => {
          if (l.step === 2 && ++started === N) resolveReady();
        },
      }),
    );
    await ready;
    const killedAt = Date.now();
    procs[victim].proc.kill('SIGKILL');
    const results = await Promise.all(procs.map((p) => p.done));
    expect(results[victim].signal).toBe('SIGKILL');
    for (const r of results) {
      if (r.rank === victim) continue;
      const last = r.lines[r.lines.length - 1] as { error: string; missing: number[]; message: string; t: number };
      expect(last.error, JSON.stringify(last)).toBe('CollectiveTimeoutError');
      expect(last.missing).toEqual([victim]);
      expect(last.message).toMatch(new RegExp(`timed out after ${timeoutMs} ms waiting for rank\\(s\\) \\[${victim}\\] of ${N}`));
      // Within the timeout (the survivor's wait began at most one step before the kill) plus scheduling slack.
      expect(last.t - killedAt).toBeLessThan(timeoutMs + 2000);
      expect(r.code).toBe(3);
    }
  });

  it('a stalled rank (alive, not calling) is named too, in process', async () => {
    const runId = uniqueRunId('stall');
    const gs = await Promise.all([0, 1, 2].map((rank) => join({ rank, worldSize: 3, runId, timeoutMs: 800 })));
    const t0 = Date.now();
    const errs = await Promise.all([gs[0].allReduce(new Float32Array(100)).catch((e: unknown) => e), gs[2].allReduce(new Float32Array(100)).catch((e: unknown) => e)]);
    for (const e of errs) {
      expect(e).toBeInstanceOf(CollectiveTimeoutError);
      expect((e as CollectiveTimeoutError).missingRanks).toEqual([1]);
      expect((e as CollectiveTimeoutError).op).toBe('allReduce');
    }
    expect(Date.now() - t0).toBeLessThan(2500);
    const b = await gs[1].barrier().catch((e: unknown) => e);
    expect((b as CollectiveTimeoutError).missingRanks).toEqual([0, 2]);
    await closeAll(gs);
  });
});

describe('authentication', () => {
  let secured: NatsServer;
  let userPass: NatsServer;
  beforeAll(async () => {
    [secured, userPass] = await Promise.all([startNatsServer(['--auth', 's3cret-token']), startNatsServer(['--user', 'tessera', '--pass', 'pw-123'])]);
  });
  afterAll(async () => {
    await Promise.all([secured?.stop(), userPass?.stop()]);
  });

  it('a token server: without or with a wrong token a client can neither join nor subscribe; with it the group works', async () => {
    const base = { servers: secured.url, worldSize: 1, rank: 0, timeoutMs: 3000 };
    const none = await initProcessGroup({ ...base, runId: uniqueRunId('tok') }).catch((e: unknown) => e);
    expect(none).toBeInstanceOf(AuthenticationError);
    expect((none as Error).message).toMatch(/refused the credentials/);
    await expect(initProcessGroup({ ...base, runId: uniqueRunId('tok'), token: 'wrong' })).rejects.toThrow(AuthenticationError);
    // A raw client (an eavesdropper on the gradient subjects) cannot even connect.
    await expect(connect({ servers: secured.url, timeout: 2000 })).rejects.toThrow(/authorization/i);

    const runId = uniqueRunId('tok');
    const gs = await Promise.all([0, 1].map((rank) => initProcessGroup({ ...base, worldSize: 2, rank, runId, token: 's3cret-token' })));
    const bufs = [new Float32Array([1.5]), new Float32Array([2.25])];
    await Promise.all(gs.map((g, r) => g.allReduce(bufs[r], 'mean')));
    expect([bufs[0][0], bufs[1][0]]).toEqual([1.875, 1.875]);
    await closeAll(gs);
  });

  it('a user/password server refuses a missing or wrong password', async () => {
    const base = { servers: userPass.url, worldSize: 1, rank: 0, runId: uniqueRunId('up'), timeoutMs: 3000 };
    await expect(initProcessGroup(base)).rejects.toThrow(AuthenticationError);
    await expect(initProcessGroup({ ...base, user: 'tessera', pass: 'nope' })).rejects.toThrow(AuthenticationError);
    const g = await initProcessGroup({ ...base, user: 'tessera', pass: 'pw-123' });
    const x = new Float32Array([3]);
    await g.allReduce(x);
    expect(x[0]).toBe(3);
    await g.destroy();
  });
});
