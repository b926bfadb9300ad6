// One rank: joins the group from the environment (RANK, WORLD_SIZE, TESSERA_NATS_URL, TESSERA_RUN_ID),
// runs the collectives described by TESSERA_TEST_SPEC (JSON), and prints one JSON line per result.
//   spec: { sizes: number[], op: 'sum'|'mean', wire: 'f32'|'f16'|'bf16', chunkBytes?: number, bucketBytes?: number, loop?: number }
// With `loop`, it all-reduces sizes[0] that many times, printing {"step": i} after each (the kill test).
import { initProcessGroupFromEnv } from '@tessera/distributed';
import { rankInput, sha256 } from './inputs.mjs';

const spec = JSON.parse(process.env.TESSERA_TEST_SPEC ?? '{}');
const out = (o) => console.log(JSON.stringify(o));
let group;
try {
  group = await initProcessGroupFromEnv({ chunkBytes: spec.chunkBytes, bucketBytes: spec.bucketBytes });
  const runtime = typeof Bun !== 'undefined' ? 'bun' : typeof Deno !== 'undefined' ? 'deno' : 'node';
  out({ joined: group.rank, runtime, chunkElements: group.chunkElements(spec.wire ?? 'f32') });
  await group.barrier();
  if (spec.loop) {
    const x = rankInput(group.rank, spec.sizes[0]);
    for (let i = 0; i < spec.loop; i++) {
      await group.allReduce(x.slice(), spec.op ?? 'sum');
      out({ step: i, t: Date.now() });
    }
  } else {
    for (const n of spec.sizes) {
      const x = rankInput(group.rank, n);
      const before = group.traffic;
      const t0 = performance.now();
      await group.allReduce(x, spec.op ?? 'sum', { wireDType: spec.wire ?? 'f32' });
      const ms = performance.now() - t0;
      const after = group.traffic;
      // No rank starts the next collective (whose payload a faster rank could deliver before this
      // snapshot) until every rank has taken its snapshot; a barrier message carries no payload.
      await group.barrier();
      out({
        size: n,
        sha: await sha256(x),
        head: Array.from(x.subarray(0, 3)),
        ms,
        bytesSent: after.bytesSent - before.bytesSent,
        bytesReceived: after.bytesReceived - before.bytesReceived,
        messagesSent: after.messagesSent - before.messagesSent,
        messagesReceived: after.messagesReceived - before.messagesReceived,
        messagesIgnored: after.messagesIgnored,
      });
    }
    // broadcast from the last rank, then a barrier: checks both collectives on every runtime.
    const b = rankInput(group.rank, 1001, 7);
    await group.broadcast(b, group.worldSize - 1);
    out({ broadcast: await sha256(b) });
    await group.barrier();
  }
  await group.destroy();
  out({ done: true });
} catch (e) {
  out({ error: e?.name, message: e?.message, missing: e?.missingRanks, t: Date.now() });
  await group?.destroy().catch(() => {});
  process.exitCode = 3;
}
