/**
 * allReduce across rank processes (node, and bun/deno) on a private nats-server: every rank's result is
 * bit for bit the fixed-order reference (SHA-256 of the bytes), and the byte counters match the
 * reduce-scatter + all-gather traffic formula.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { referenceAllReduce, segmentRange, HEADER_BYTES, type WireDType } from '@tessera/distributed';
// @ts-expect-error plain JS shared with the workers
import { rankInput, sha256 } from './workers/inputs.mjs';
import { expectAllOk, runRanks, startNatsServer, workers, type NatsServer, type RankResult, type Runtime } from './helpers.js';
import { resolve } from 'node:path';

const script = resolve(workers, 'allreduce.mjs');
let nats: NatsServer;
beforeAll(async () => {
  nats = await startNatsServer();
});
afterAll(async () => {
  await nats?.stop();
});

const inputs = (N: number, n: number): Float32Array[] => [...Array(N).keys()].map((r) => rankInput(r, n) as Float32Array);
const expectedSha = (N: number, n: number, op: 'sum' | 'mean', wire: WireDType): Promise<string> => sha256(referenceAllReduce(inputs(N, n), op, wire));
const results = (r: RankResult) => r.lines.filter((l) => typeof l.size === 'number');

async function checkRun(N: number, sizes: number[], op: 'sum' | 'mean', wire: WireDType, runtimes?: Runtime[], limits: { chunkBytes?: number; bucketBytes?: number } = {}) {
  const spec = { sizes, op, wire, ...limits };
  const out = await runRanks({ script, worldSize: N, url: nats.url, runtimes, env: { TESSERA_TEST_SPEC: JSON.stringify(spec) } });
  expectAllOk(out);
  for (const n of sizes) {
    const want = await expectedSha(N, n, op, wire);
    for (const r of out) {
      const line = results(r).find((l) => l.size === n)!;
      expect(line.sha, `rank ${r.rank} (${runtimes?.[r.rank] ?? 'node'}), size ${n}`).toBe(want);
      expect(line.messagesIgnored).toBe(0);
    }
  }
  // The broadcast from the last rank reached everyone exactly.
  const bsha = await sha256(rankInput(N - 1, 1001, 7));
  for (const r of out) expect(r.lines.find((l) => 'broadcast' in l)!.broadcast).toBe(bsha);
  return out;
}

describe('allReduce across processes equals the fixed-order reference bit for bit', () => {
  it('the reference depends on the order (the inputs have teeth)', async () => {
    const xs = inputs(4, 10_007);
    const forward = referenceAllReduce(xs, 'sum');
    const reversed = referenceAllReduce([...xs].reverse(), 'sum');
    let differ = 0;
    for (let i = 0; i < forward.length; i++) if (forward[i] !== reversed[i]) differ++;
    expect(differ).toBeGreaterThan(100);
  });

  for (const N of [2, 3, 4]) {
    it(`${N} ranks, sum, sizes 1, 7, 1000003`, async () => {
      const out = await checkRun(N, [1, 7, 1_000_003], 'sum', 'f32');
      // Traffic of the big one: rank r receives its segment from N-1 ranks (reduce-scatter)
      // and every other segment once (all-gather); it sends N-1 slices and its segment once.
      const n = 1_000_003;
      for (const r of out) {
        const line = results(r).find((l) => l.size === n)! as Record<string, number>;
        const [s0, s1] = segmentRange(n, N, r.rank);
        const mine = s1 - s0;
        expect(line.bytesReceived - line.messagesReceived * HEADER_BYTES).toBe(4 * ((N - 1) * mine + (n - mine)));
        expect(line.bytesSent - line.messagesSent * HEADER_BYTES).toBe(4 * n);
        // 2(N-1)/N of the buffer in, to within one element per segment.
        expect(Math.abs((line.bytesReceived - line.messagesReceived * HEADER_BYTES) / 4 - (2 * (N - 1) * n) / N)).toBeLessThanOrEqual(N);
      }
    });
  }

  it('3 ranks, mean, 4,000,037 elements (16 MB) in 4 MiB buckets of 64 KiB messages', async () => {
    const out = await checkRun(3, [4_000_037], 'mean', 'f32', undefined, { chunkBytes: 65536, bucketBytes: 4 << 20 });
    // Each 4 MiB bucket is one collective: per bucket, every 16376-element chunk of the other two
    // segments (all-gather) and of this rank's segment from the two others (reduce-scatter).
    const ce = Math.floor((65536 - HEADER_BYTES) / 4);
    const bucket = (4 << 20) / 4;
    for (const r of out) {
      let want = 0;
      for (let start = 0; start < 4_000_037; start += bucket) {
        const n = Math.min(bucket, 4_000_037 - start);
        for (let src = 0; src < 3; src++) {
          const [s0, s1] = segmentRange(n, 3, src);
          want += (src === r.rank ? 2 : 1) * Math.ceil((s1 - s0) / ce);
        }
      }
      // The worker snapshots its counters before a barrier (so no rank starts a payload-carrying
      // collective inside another's window); up to two payload-free barrier messages from faster
      // ranks can still land before the snapshot.
      const got = results(r)[0].messagesReceived as number;
      expect(got).toBeGreaterThanOrEqual(want);
      expect(got).toBeLessThanOrEqual(want + 2);
    }
  });

  it('3 ranks, sum, 16,000,057 elements (64 MB) in the default 16 MiB buckets and 1 MiB messages', async () => {
    const out = await checkRun(3, [16_000_057], 'sum', 'f32');
    for (const r of out) console.log(`rank ${r.rank}: 64 MB all-reduce over 3 ranks in ${Math.round(results(r)[0].ms as number)} ms`);
  });

  it('f16 and bf16 on the wire: the reference with the same rounding, on every rank', async () => {
    for (const [N, op, wire] of [[3, 'mean', 'f16'], [2, 'sum', 'bf16']] as const) {
      const out = await checkRun(N, [7, 100_003], op, wire);
      // Two bytes per element: half of f32's traffic.
      for (const r of out) {
        const line = results(r).find((l) => l.size === 100_003)! as Record<string, number>;
        expect(line.bytesSent - line.messagesSent * HEADER_BYTES).toBe(2 * 100_003);
      }
    }
    // The rounding is real: the f16 result differs from the f32 one.
    const xs = inputs(3, 100_003);
    expect(await sha256(referenceAllReduce(xs, 'mean', 'f16'))).not.toBe(await sha256(referenceAllReduce(xs, 'mean', 'f32')));
  });
});

describe('ranks in other runtimes', () => {
  it('2 bun ranks', async () => {
    await checkRun(2, [7, 1_000_003], 'sum', 'f32', ['bun', 'bun']);
  });
  it('2 deno ranks', async () => {
    await checkRun(2, [7, 1_000_003], 'sum', 'f32', ['deno', 'deno']);
  });
  it('mixed: a node rank, a bun rank and a deno rank', async () => {
    const out = await checkRun(3, [7, 1_000_003], 'sum', 'f32', ['node', 'bun', 'deno']);
    expect(out.map((r) => r.lines[0].runtime)).toEqual(['node', 'bun', 'deno']);
  });
});
