/**
 * The NATS server going away in the middle of a run: restarted on the same port, the clients
 * reconnect and the group either goes on (a collective whose messages all got through completes
 * with the right sums) or the collective that lost a message fails with CollectiveTimeoutError
 * within its timeout; left down, every rank fails with CollectiveTimeoutError within the timeout.
 * Never a hang, and destroy() returns promptly while disconnected.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CollectiveTimeoutError, initProcessGroup, startLocalNatsServer, type LocalNatsServer, type ProcessGroup } from '@tessera/distributed';
import { uniqueRunId } from './helpers.js';

const TIMEOUT_MS = 3000;
const N = 50_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let servers: LocalNatsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

/** Rank r's loop of all-reduces: counts the collectives that completed (checking their sums) and the error that ended it. */
async function loop(g: ProcessGroup, until: () => boolean): Promise<{ done: number; error: unknown; endedAt: number }> {
  let done = 0;
  try {
    while (!until()) {
      const buf = new Float32Array(N).fill(g.rank + 1 + done);
      await g.allReduce(buf, 'sum');
      // 2 ranks: (1 + done) + (2 + done)
      if (buf[0] !== 3 + 2 * done || buf[N - 1] !== 3 + 2 * done) throw new Error(`wrong sum ${buf[0]} at collective ${done}`);
      done++;
    }
    return { done, error: null, endedAt: Date.now() };
  } catch (error) {
    return { done, error, endedAt: Date.now() };
  }
}

async function twoRanks(url: string): Promise<ProcessGroup[]> {
  const runId = uniqueRunId('restart');
  return Promise.all([0, 1].map((rank) => initProcessGroup({ servers: url, rank, worldSize: 2, runId, timeoutMs: TIMEOUT_MS })));
}

/** A server, two ranks looping over all-reduces for 500 ms, then the server stopped: the loops and when it stopped. */
async function loopThenStopServer() {
  const server = await startLocalNatsServer();
  servers.push(server);
  const groups = await twoRanks(server.url);
  let stop = false;
  const loops = groups.map((g) => loop(g, () => stop));
  await sleep(500);
  const killedAt = Date.now();
  await server.stop();
  return { server, groups, killedAt, finish: (stopLoops: boolean) => ((stop = stopLoops), Promise.all(loops)) };
}

/** destroy() on both ranks, bounded even while disconnected. */
async function destroyPromptly(groups: ProcessGroup[]): Promise<void> {
  const t0 = Date.now();
  await Promise.all(groups.map((g) => g.destroy()));
  expect(Date.now() - t0).toBeLessThan(TIMEOUT_MS + 1000);
}

describe('the NATS server restarts during a run', () => {
  it('left down: both ranks fail with CollectiveTimeoutError within the timeout, and destroy() returns', async () => {
    const { groups, killedAt, finish } = await loopThenStopServer();
    // Left down: the loops must end by themselves.
    const results = await finish(false);
    for (const r of results) {
      expect(r.error).toBeInstanceOf(CollectiveTimeoutError);
      expect((r.error as CollectiveTimeoutError).message).toMatch(/connection to the NATS server was lost/);
      expect(r.endedAt - killedAt).toBeLessThan(TIMEOUT_MS + 2000);
      expect(r.done).toBeGreaterThan(0);
    }
    await destroyPromptly(groups);
  });

  it('restarted on the same port: the clients reconnect; the run goes on or fails typed within the timeout', async () => {
    const { server: first, groups, killedAt, finish } = await loopThenStopServer();
    await sleep(300);
    const second = await startLocalNatsServer({ port: first.port });
    servers.push(second);
    // Let the loop run a while after the restart: collectives either keep completing or one has failed.
    await sleep(TIMEOUT_MS + 1500);
    const results = await finish(true);
    const outcome = results.map((r) => (r.error ? (r.error as Error).constructor.name : `ok ${r.done}`));
    console.log('restart outcome:', outcome.join(', '));
    for (const r of results) {
      if (r.error) {
        expect(r.error).toBeInstanceOf(CollectiveTimeoutError);
        expect(r.endedAt - killedAt).toBeLessThan(300 + TIMEOUT_MS + 2000);
      }
    }
    await destroyPromptly(groups);
  });

  it('restarted while the group is idle: the clients reconnect and the next collectives complete', async () => {
    const first = await startLocalNatsServer();
    servers.push(first);
    const groups = await twoRanks(first.url);
    const before = groups.map((g) => Float32Array.from([g.rank + 1]));
    await Promise.all(groups.map((g, r) => g.allReduce(before[r])));
    await first.stop();
    await sleep(300);
    const second = await startLocalNatsServer({ port: first.port });
    servers.push(second);
    const deadline = Date.now() + 5000;
    while (groups.some((g) => g.traffic.reconnects < 1) && Date.now() < deadline) await sleep(50);
    for (const g of groups) expect(g.traffic).toMatchObject({ disconnects: 1, reconnects: 1 });
    // The subscriptions came back with the connection: three more collectives, the right sums.
    for (let i = 0; i < 3; i++) {
      const bufs = groups.map((g) => new Float32Array(N).fill(g.rank + 1 + i));
      await Promise.all(groups.map((g, r) => g.allReduce(bufs[r], 'sum')));
      for (const b of bufs) expect([b[0], b[N - 1]]).toEqual([3 + 2 * i, 3 + 2 * i]);
    }
    await Promise.all(groups.map((g) => g.destroy()));
  });
});
