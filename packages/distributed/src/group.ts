/**
 * A process group over one NATS server (or cluster): rendezvous, then
 * collectives (`allReduce`, `broadcast`, `barrier`) as messages on subjects
 * under `tessera.<runId>.`.
 *
 * Subjects (P = `tessera.<runId>`):
 *   P.rdzv        rank 0 answers join requests (rendezvous, late duplicate refusal)
 *   P.rank.<r>    answered by the live process holding rank r (duplicate probe)
 *   P.to.<r>      point-to-point data for rank r (reduce-scatter slices)
 *   P.all         fan-out data for every rank (all-gather segments, broadcast, barrier);
 *                 the server copies each message to every subscriber, so the sender
 *                 publishes it once. The connection uses noEcho, so a rank never
 *                 receives its own messages back.
 */

import { connect, type NodeConnectionOptions } from '@nats-io/transport-node';
import type { Msg, NatsConnection, Subscription } from '@nats-io/nats-core';
import {
  AuthenticationError,
  CollectiveMismatchError,
  CollectiveTimeoutError,
  ConnectionFailedError,
  DistributedConfigError,
  DuplicateRankError,
  GroupClosedError,
  RendezvousTimeoutError,
} from './errors.js';
import {
  HEADER_BYTES,
  Kind,
  WIRE_DTYPES,
  bytesPerElement,
  decodeHeader,
  decodeValues,
  encodeMessage,
  kindName,
  roundThroughWire,
  type Header,
  type WireDType,
} from './wire.js';

/** TLS settings handed to the NATS client as they are (file paths or PEM strings). */
export interface TlsSettings {
  caFile?: string;
  ca?: string;
  certFile?: string;
  cert?: string;
  keyFile?: string;
  key?: string;
  handshakeFirst?: boolean;
  rejectUnauthorized?: boolean;
}

export interface ProcessGroupOptions {
  /** NATS server URL(s), e.g. `nats://127.0.0.1:4222` (comma-separated string or array). */
  servers: string | readonly string[];
  /** This process's rank in [0, worldSize). */
  rank: number;
  worldSize: number;
  /** Names the run; ranks of different runs on one server never see each other's messages. [A-Za-z0-9_-]+ */
  runId: string;
  /** The rank on this machine (informational; LOCAL_RANK). Default: rank. */
  localRank?: number;
  /** Server authorization token. */
  token?: string;
  /** Server user and password. */
  user?: string;
  pass?: string;
  /** TLS options, passed through to the NATS client. */
  tls?: TlsSettings;
  /** Deadline for connecting, for the rendezvous, and for each collective, in ms. Default 60000. */
  timeoutMs?: number;
  /** Default wire format of `allReduce`. Default 'f32'. */
  wireDType?: WireDType;
  /** Largest payload per message in bytes (header included); capped by the server's max_payload. Default: max_payload. */
  chunkBytes?: number;
  /** allReduce works on buckets of at most this many bytes (f32) at a time, bounding what is in flight. Default 16 MiB. */
  bucketBytes?: number;
}

export type ReduceOp = 'sum' | 'mean';

/** Byte and message counters since the group was created (payload bytes, the 32-byte headers included). */
export interface TrafficStats {
  bytesSent: number;
  bytesReceived: number;
  messagesSent: number;
  messagesReceived: number;
  /** Received messages dropped: not Tessera frames, or late for a collective that had already ended. */
  messagesIgnored: number;
  /** Times the connection to the NATS server was lost, and re-established (the client retries without limit). */
  disconnects: number;
  reconnects: number;
}

interface Delivered {
  h: Header;
  data: Uint8Array;
}

interface Waiter {
  resolve: (m: Delivered) => void;
  reject: (e: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_BUCKET_BYTES = 16 << 20;
const RUN_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** Half-open element range [start, end) of rank r's segment of an n-element buffer split N ways. */
export function segmentRange(n: number, N: number, r: number): [number, number] {
  return [Math.floor((r * n) / N), Math.floor(((r + 1) * n) / N)];
}

function checkInt(name: string, v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new DistributedConfigError(`initProcessGroup: ${name} must be an integer in [${min}, ${max}], got ${String(v)}`);
  }
  return v;
}

function serverList(servers: string | readonly string[]): string[] {
  const list = (typeof servers === 'string' ? servers.split(',') : [...servers]).map((s) => s.trim()).filter((s) => s.length > 0);
  if (list.length === 0) throw new DistributedConfigError(`initProcessGroup: servers must name at least one NATS URL, got ${JSON.stringify(servers)}`);
  return list;
}

function isAuthFailure(e: unknown): boolean {
  const err = e as { name?: string; message?: string; code?: string };
  return /authoriz|authenticat|auth_required|permissions/i.test(`${err?.name ?? ''} ${err?.message ?? ''} ${err?.code ?? ''}`);
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const json = (v: unknown): Uint8Array => enc.encode(JSON.stringify(v));
const parse = (m: Msg): Record<string, unknown> => JSON.parse(dec.decode(m.data)) as Record<string, unknown>;

/**
 * Connects, takes the rank (refusing a duplicate), and waits for all
 * `worldSize` ranks to arrive (up to `timeoutMs`). Resolves when every rank
 * has subscribed to its data subjects, so the first collective loses nothing.
 */
export async function initProcessGroup(options: ProcessGroupOptions): Promise<ProcessGroup> {
  const o = options;
  const worldSize = checkInt('worldSize', o.worldSize, 1, 65535);
  const rank = checkInt('rank', o.rank, 0, worldSize - 1);
  if (typeof o.runId !== 'string' || !RUN_ID.test(o.runId)) {
    throw new DistributedConfigError(`initProcessGroup: runId must match ${RUN_ID.source} (it becomes part of NATS subjects), got ${JSON.stringify(o.runId)}`);
  }
  const timeoutMs = checkInt('timeoutMs', o.timeoutMs ?? DEFAULT_TIMEOUT_MS, 1);
  const wire = o.wireDType ?? 'f32';
  if (!WIRE_DTYPES.includes(wire)) throw new DistributedConfigError(`initProcessGroup: wireDType must be one of ${WIRE_DTYPES.join(', ')}, got ${String(wire)}`);
  if (o.chunkBytes !== undefined) checkInt('chunkBytes', o.chunkBytes, HEADER_BYTES + 4);
  const bucketBytes = checkInt('bucketBytes', o.bucketBytes ?? DEFAULT_BUCKET_BYTES, 4);
  if ((o.user === undefined) !== (o.pass === undefined)) {
    throw new DistributedConfigError(`initProcessGroup: user and pass go together (got ${o.user === undefined ? 'pass' : 'user'} only)`);
  }
  const servers = serverList(o.servers);
  const connOpts: NodeConnectionOptions = {
    servers,
    name: `tessera-${o.runId}-rank${rank}`,
    noEcho: true,
    timeout: Math.min(timeoutMs, 20_000),
    // A lost server is retried for the group's whole life: the collectives' own deadlines bound
    // every wait, so one failure mode (CollectiveTimeoutError) covers a server that stays away.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ...(o.token !== undefined ? { token: o.token } : {}),
    ...(o.user !== undefined ? { user: o.user, pass: o.pass } : {}),
    ...(o.tls !== undefined ? { tls: { ...o.tls } } : {}),
  };
  let nc: NatsConnection;
  try {
    nc = await connect(connOpts);
  } catch (e) {
    const why = (e as Error)?.message ?? String(e);
    if (isAuthFailure(e)) throw new AuthenticationError(`rank ${rank}: the NATS server at ${servers.join(', ')} refused the credentials (${why})`);
    throw new ConnectionFailedError(`rank ${rank}: cannot connect to NATS at ${servers.join(', ')} within ${connOpts.timeout} ms: ${why}`);
  }
  const group = new ProcessGroup(nc, {
    rank,
    worldSize,
    runId: o.runId,
    localRank: o.localRank ?? rank,
    timeoutMs,
    wire,
    chunkBytes: o.chunkBytes,
    bucketBytes,
  });
  try {
    await group._rendezvous();
  } catch (e) {
    await group.destroy();
    throw e;
  }
  return group;
}

/** Reads `process.env` where the runtime has one (Node, Bun, Deno's Node compatibility). */
function environment(): Record<string, string | undefined> {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return p?.env ?? {};
}

function envInt(env: Record<string, string | undefined>, key: string): number | undefined {
  const v = env[key];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v.trim())) throw new DistributedConfigError(`initProcessGroupFromEnv: ${key} must be a non-negative integer, got ${JSON.stringify(v)}`);
  return Number(v.trim());
}

/**
 * `initProcessGroup` from the torchrun-style environment: RANK, WORLD_SIZE,
 * LOCAL_RANK, TESSERA_NATS_URL (comma-separated), TESSERA_RUN_ID, and
 * optionally TESSERA_NATS_TOKEN, TESSERA_NATS_USER / TESSERA_NATS_PASS,
 * TESSERA_TIMEOUT_MS. `overrides` win over the environment.
 */
export function processGroupOptionsFromEnv(overrides: Partial<ProcessGroupOptions> = {}, env = environment()): ProcessGroupOptions {
  const need = <T>(value: T | undefined, key: string): T => {
    if (value === undefined) throw new DistributedConfigError(`initProcessGroupFromEnv: ${key} is not set (and no override was given)`);
    return value;
  };
  const fromEnv: Partial<ProcessGroupOptions> = {
    rank: envInt(env, 'RANK'),
    worldSize: envInt(env, 'WORLD_SIZE'),
    localRank: envInt(env, 'LOCAL_RANK'),
    servers: env.TESSERA_NATS_URL || undefined,
    runId: env.TESSERA_RUN_ID || undefined,
    token: env.TESSERA_NATS_TOKEN || undefined,
    user: env.TESSERA_NATS_USER || undefined,
    pass: env.TESSERA_NATS_PASS || undefined,
    timeoutMs: envInt(env, 'TESSERA_TIMEOUT_MS'),
  };
  const merged = { ...fromEnv, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) } as Partial<ProcessGroupOptions>;
  return {
    ...merged,
    rank: need(merged.rank, 'RANK'),
    worldSize: need(merged.worldSize, 'WORLD_SIZE'),
    servers: need(merged.servers, 'TESSERA_NATS_URL'),
    runId: need(merged.runId, 'TESSERA_RUN_ID'),
  };
}

export function initProcessGroupFromEnv(overrides: Partial<ProcessGroupOptions> = {}): Promise<ProcessGroup> {
  return initProcessGroup(processGroupOptionsFromEnv(overrides));
}

interface GroupConfig {
  rank: number;
  worldSize: number;
  runId: string;
  localRank: number;
  timeoutMs: number;
  wire: WireDType;
  chunkBytes: number | undefined;
  bucketBytes: number;
}

export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly localRank: number;
  readonly runId: string;
  readonly timeoutMs: number;
  /** Default wire format of allReduce. */
  readonly wireDType: WireDType;
  /** Largest message payload in bytes (header included). */
  readonly maxMessageBytes: number;
  readonly bucketBytes: number;
  private readonly stats: TrafficStats = { bytesSent: 0, bytesReceived: 0, messagesSent: 0, messagesReceived: 0, messagesIgnored: 0, disconnects: 0, reconnects: 0 };
  /** Whether the connection is down now, and `stats.disconnects` when the current collective began. */
  private disconnected = false;
  private disconnectsAtBegin = 0;
  private readonly prefix: string;
  private readonly nonce = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  private readonly box = new Map<string, Delivered>();
  private readonly waiters = new Map<string, Waiter>();
  private readonly subs: Subscription[] = [];
  private seq = 0;
  /** Set when the group can no longer run collectives (destroyed, connection lost, or a collective failed). */
  private failure: Error | null = null;

  /** @internal Use `initProcessGroup`. */
  constructor(
    private readonly nc: NatsConnection,
    c: GroupConfig,
  ) {
    this.rank = c.rank;
    this.worldSize = c.worldSize;
    this.localRank = c.localRank;
    this.runId = c.runId;
    this.timeoutMs = c.timeoutMs;
    this.wireDType = c.wire;
    this.bucketBytes = c.bucketBytes;
    this.prefix = `tessera.${c.runId}`;
    const serverMax = nc.info?.max_payload ?? 1 << 20;
    this.maxMessageBytes = Math.min(c.chunkBytes ?? serverMax, serverMax);
    void (async () => {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') {
          this.disconnected = true;
          this.stats.disconnects += 1;
        } else if (s.type === 'reconnect') {
          this.disconnected = false;
          this.stats.reconnects += 1;
        }
      }
    })().catch(() => undefined);
    void nc.closed().then((err) => {
      this.fail(new ConnectionFailedError(`rank ${this.rank}: the NATS connection closed${err ? `: ${err.message}` : ''}`));
    });
  }

  /** Byte and message counters (a copy). */
  get traffic(): TrafficStats {
    return { ...this.stats };
  }

  /** Elements per message for a wire dtype (at least 1). */
  chunkElements(dtype: WireDType = 'f32'): number {
    return Math.max(1, Math.floor((this.maxMessageBytes - HEADER_BYTES) / bytesPerElement(dtype)));
  }

  // ---------------------------------------------------------------- rendezvous

  /** @internal Called once by initProcessGroup. */
  async _rendezvous(): Promise<void> {
    const p = this.prefix;
    const deadline = Date.now() + this.timeoutMs;
    // 1. Is this rank already held by a live process? Its holder answers P.rank.<r>.
    try {
      const reply = await this.nc.request(`${p}.rank.${this.rank}`, json({ probe: this.nonce }), { timeout: Math.min(1000, this.timeoutMs) });
      const other = parse(reply);
      throw new DuplicateRankError(
        `rank ${this.rank} of run '${this.runId}' is already held by another process (${String(other.holder)}); each process needs its own RANK`,
        this.rank,
        this.runId,
      );
    } catch (e) {
      if (e instanceof DuplicateRankError) throw e;
      if (isAuthFailure(e)) throw new AuthenticationError(`rank ${this.rank}: not permitted on subjects ${p}.>: ${(e as Error).message}`);
      // No responders / timeout: nobody holds the rank.
    }
    this.subs.push(
      this.nc.subscribe(`${p}.rank.${this.rank}`, {
        callback: (_e, m) => {
          m.respond(json({ holder: `nonce ${this.nonce}` }));
        },
      }),
    );
    // 2. Data subjects first, so nothing sent after the rendezvous can be missed.
    for (const subject of [`${p}.to.${this.rank}`, `${p}.all`]) {
      this.subs.push(this.nc.subscribe(subject, { callback: (err, m) => (err ? this.fail(err) : this.onData(m.data)) }));
    }
    await this.nc.flush();
    // 3. Rank 0 collects the others; the others ask rank 0 until it answers.
    if (this.rank === 0) await this.coordinate(deadline);
    else await this.join(deadline);
  }

  /** Rank 0: answer joins until all ranks are in, then release every waiting joiner at once. */
  private coordinate(deadline: number): Promise<void> {
    const N = this.worldSize;
    const joined = new Map<number, string>([[0, this.nonce]]);
    const pending = new Map<number, Msg>();
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const finish = (err: Error | null) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const release = () => {
        if (joined.size < N) return;
        for (const m of pending.values()) m.respond(json({ ok: true }));
        pending.clear();
        finish(null);
      };
      const sub = this.nc.subscribe(`${this.prefix}.rdzv`, {
        callback: (_e, m) => {
          let req: Record<string, unknown>;
          try {
            req = parse(m);
          } catch {
            return;
          }
          const r = req.rank as number;
          const ws = req.worldSize as number;
          if (ws !== N) {
            m.respond(json({ error: 'worldSize', message: `rank ${r} says WORLD_SIZE ${ws}, rank 0 says ${N}` }));
            return;
          }
          const held = joined.get(r);
          if (held !== undefined && held !== req.nonce) {
            m.respond(json({ error: 'duplicate', message: `rank ${r} of run '${this.runId}' has already joined from another process` }));
            return;
          }
          if (done) {
            // A retry from a rank that joined before the group formed (its earlier reply was lost).
            m.respond(json({ ok: true }));
            return;
          }
          joined.set(r, req.nonce as string);
          pending.set(r, m);
          release();
        },
      });
      // The subscription stays for the group's life: late duplicates are refused, retries answered.
      this.subs.push(sub);
      const timer = setTimeout(() => {
        const missing = [...Array(N).keys()].filter((r) => !joined.has(r));
        const message = `rendezvous of run '${this.runId}': ranks [${missing.join(', ')}] of ${N} did not arrive within ${this.timeoutMs} ms`;
        for (const m of pending.values()) m.respond(json({ error: 'timeout', missing, message }));
        finish(new RendezvousTimeoutError(message, missing, this.timeoutMs));
      }, Math.max(0, deadline - Date.now()));
      this.nc.flush().then(release, (e: Error) => finish(e));
    });
  }

  /** Ranks > 0: ask rank 0 (retrying while it is not up yet) until it releases the group. */
  private async join(deadline: number): Promise<void> {
    const body = json({ rank: this.rank, worldSize: this.worldSize, nonce: this.nonce });
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let reply: Record<string, unknown>;
      try {
        reply = parse(await this.nc.request(`${this.prefix}.rdzv`, body, { timeout: left }));
      } catch (e) {
        if (isAuthFailure(e)) throw new AuthenticationError(`rank ${this.rank}: not permitted on subjects ${this.prefix}.>: ${(e as Error).message}`);
        // No responders yet (rank 0 not subscribed) or a timeout: try again until the deadline.
        await new Promise((r) => setTimeout(r, Math.min(100, Math.max(0, deadline - Date.now()))));
        continue;
      }
      if (reply.ok) return;
      const message = `rank ${this.rank}: ${String(reply.message)}`;
      if (reply.error === 'duplicate') throw new DuplicateRankError(message, this.rank, this.runId);
      if (reply.error === 'worldSize') throw new CollectiveMismatchError(message);
      if (reply.error === 'timeout') throw new RendezvousTimeoutError(message, reply.missing as number[], this.timeoutMs);
      throw new CollectiveMismatchError(message);
    }
    throw new RendezvousTimeoutError(`rank ${this.rank}: rendezvous of run '${this.runId}': rank 0 did not answer within ${this.timeoutMs} ms`, [0], this.timeoutMs);
  }

  // ---------------------------------------------------------------- messages

  private key(seq: number, kind: Kind, src: number, chunk: number): string {
    return `${seq}:${kind}:${src}:${chunk}`;
  }

  private onData(data: Uint8Array): void {
    this.stats.bytesReceived += data.length;
    this.stats.messagesReceived += 1;
    const h = decodeHeader(data);
    // Not ours, or left over from a collective that already finished (or failed).
    if (h === null || h.seq < this.seq - 1 || h.src >= this.worldSize) {
      this.stats.messagesIgnored += 1;
      return;
    }
    const k = this.key(h.seq, h.kind, h.src, h.chunk);
    const w = this.waiters.get(k);
    if (w) {
      this.waiters.delete(k);
      clearTimeout(w.timer);
      w.resolve({ h, data });
    } else this.box.set(k, { h, data });
  }

  private publish(subject: string, h: Header, values: Float32Array | null): void {
    const payload = encodeMessage(h, values);
    this.nc.publish(subject, payload);
    this.stats.bytesSent += payload.length;
    this.stats.messagesSent += 1;
  }

  /**
   * The message `key`, waiting until `deadline`. On timeout every rank in
   * `expected` whose message has not arrived yet is named.
   */
  private take(op: string, key: string, deadline: number, expected: readonly { key: string; src: number }[], from = 0): Promise<Delivered> {
    const have = this.box.get(key);
    if (have) {
      this.box.delete(key);
      return Promise.resolve(have);
    }
    return new Promise<Delivered>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(key);
        // Name the ranks this phase still lacks (a later phase's absences follow from them: a rank
        // stuck in reduce-scatter sends no all-gather either).
        const kind = key.split(':')[1];
        const phase = expected.slice(from).filter((e) => e.key.split(':')[1] === kind);
        const missing = [...new Set(phase.filter((e) => e.key === key || !this.box.has(e.key)).map((e) => e.src))].sort((a, b) => a - b);
        const lost =
          this.disconnected || this.stats.disconnects > this.disconnectsAtBegin
            ? `; the connection to the NATS server was lost during it (${this.disconnected ? 'still down' : 'reconnected'}; messages published while a rank is disconnected are not redelivered)`
            : '';
        const err = new CollectiveTimeoutError(
          `rank ${this.rank}: ${op} (collective #${this.seq - 1} of run '${this.runId}') timed out after ${this.timeoutMs} ms waiting for rank(s) [${missing.join(', ')}] of ${this.worldSize}${lost}`,
          op,
          missing,
          this.timeoutMs,
        );
        this.fail(err);
        reject(err);
      }, Math.max(0, deadline - Date.now()));
      this.waiters.set(key, { resolve, reject, timer });
    });
  }

  /** Marks the group unusable and rejects every pending wait with `err`. */
  private fail(err: Error): void {
    if (!this.failure) this.failure = err;
    for (const [k, w] of this.waiters) {
      clearTimeout(w.timer);
      this.waiters.delete(k);
      w.reject(err);
    }
  }

  /** Starts a collective: checks the group is usable and numbers it. */
  private begin(op: string): number {
    if (this.failure) {
      throw new GroupClosedError(`rank ${this.rank}: ${op} on a process group that can no longer be used: ${this.failure.message}`);
    }
    this.disconnectsAtBegin = this.stats.disconnects;
    return this.seq++;
  }

  private checkFrame(op: string, got: Header, want: { kind: Kind; total: number; offset: number; count: number }): void {
    if (got.total !== want.total || got.offset !== want.offset || got.count !== want.count) {
      throw this.mismatch(
        `rank ${this.rank}: ${op}: rank ${got.src} sent ${kindName(got.kind)} chunk ${got.chunk} for a buffer of ${got.total} elements (offset ${got.offset}, count ${got.count}); ` +
          `this rank has ${want.total} elements and expected offset ${want.offset}, count ${want.count} — every rank must pass the same size`,
      );
    }
  }

  private mismatch(message: string): CollectiveMismatchError {
    const err = new CollectiveMismatchError(message);
    this.fail(err);
    return err;
  }

  // ---------------------------------------------------------------- collectives

  /**
   * In-place all-reduce of `buffer` (the same length on every rank).
   *
   * Result, element by element, identical in every bit on every rank:
   *   w(v) = v rounded through the wire dtype (identity for f32)
   *   s = w(x_0) + w(x_1) + ... + w(x_{N-1})      f32 additions, left to right, in rank order
   *   sum: w(s);   mean: w(f32(s / N))
   *
   * Reduce-scatter then all-gather: rank r owns segment r (`segmentRange`);
   * every rank sends its slice of segment r to rank r (point to point), rank r
   * sums the slices in rank order, then publishes the reduced segment once to
   * every rank. Per rank: received 2(N-1)/N of the buffer (up to the segments'
   * rounding), sent (N-1)/N + 1/N (the server fans the segment out). Buckets of
   * `bucketBytes` run one after another; messages are chunked under max_payload.
   */
  async allReduce(buffer: Float32Array, op: ReduceOp = 'sum', options: { wireDType?: WireDType } = {}): Promise<Float32Array> {
    if (!(buffer instanceof Float32Array)) throw new DistributedConfigError(`allReduce: buffer must be a Float32Array, got ${Object.prototype.toString.call(buffer)}`);
    if (op !== 'sum' && op !== 'mean') throw new DistributedConfigError(`allReduce: op must be 'sum' or 'mean', got ${JSON.stringify(op)}`);
    const dtype = options.wireDType ?? this.wireDType;
    if (!WIRE_DTYPES.includes(dtype)) throw new DistributedConfigError(`allReduce: wireDType must be one of ${WIRE_DTYPES.join(', ')}, got ${String(dtype)}`);
    const bucket = Math.max(1, Math.floor(this.bucketBytes / 4));
    if (buffer.length === 0) {
      this.begin('allReduce');
      return buffer;
    }
    for (let start = 0; start < buffer.length; start += bucket) {
      await this.allReduceBucket(buffer.subarray(start, Math.min(buffer.length, start + bucket)), op, dtype);
    }
    return buffer;
  }

  private async allReduceBucket(x: Float32Array, op: ReduceOp, dtype: WireDType): Promise<void> {
    const seq = this.begin('allReduce');
    const N = this.worldSize;
    const me = this.rank;
    const n = x.length;
    const ce = this.chunkElements(dtype);
    const base = { dtype, seq, total: n, root: 0 };
    const p = this.prefix;
    const deadline = Date.now() + this.timeoutMs;
    const [m0, m1] = segmentRange(n, N, me);
    const chunksOf = (len: number) => Math.ceil(len / ce);

    // 1. Reduce-scatter, sending: my slice of every other rank's segment, chunk by chunk.
    for (let r = 0; r < N; r++) {
      if (r === me) continue;
      const [s0, s1] = segmentRange(n, N, r);
      for (let c = 0, off = 0; off < s1 - s0; c++, off += ce) {
        const count = Math.min(ce, s1 - s0 - off);
        this.publish(`${p}.to.${r}`, { ...base, kind: Kind.reduceScatter, src: me, chunk: c, offset: s0 + off, count }, x.subarray(s0 + off, s0 + off + count));
      }
    }

    // Everything this rank will wait for, in the order it waits (for naming the missing ranks).
    const expected: { key: string; src: number }[] = [];
    for (let c = 0; c < chunksOf(m1 - m0); c++) {
      for (let src = 0; src < N; src++) if (src !== me) expected.push({ key: this.key(seq, Kind.reduceScatter, src, c), src });
    }
    for (let src = 0; src < N; src++) {
      if (src === me) continue;
      const [s0, s1] = segmentRange(n, N, src);
      for (let c = 0; c < chunksOf(s1 - s0); c++) expected.push({ key: this.key(seq, Kind.allGather, src, c), src });
    }
    let next = 0;
    const wait = async (kind: Kind, src: number, c: number, offset: number, count: number): Promise<Float32Array> => {
      const k = this.key(seq, kind, src, c);
      const m = await this.take('allReduce', k, deadline, expected, next);
      next++;
      this.checkFrame('allReduce', m.h, { kind, total: n, offset, count });
      if (m.h.dtype !== dtype) throw this.mismatch(`rank ${this.rank}: allReduce: rank ${src} sent ${m.h.dtype} on the wire, this rank uses ${dtype}`);
      return decodeValues(m.data, m.h);
    };

    // 2. Reduce my segment chunk by chunk in rank order, and publish each reduced chunk at once.
    for (let c = 0, off = 0; off < m1 - m0; c++, off += ce) {
      const count = Math.min(ce, m1 - m0 - off);
      const at = m0 + off;
      const acc = new Float32Array(count);
      for (let src = 0; src < N; src++) {
        let v: Float32Array;
        if (src === me) {
          v = x.slice(at, at + count);
          roundThroughWire(v, dtype);
        } else v = await wait(Kind.reduceScatter, src, c, at, count);
        // Float32Array stores round every addition to f32 (double rounding of an f32 sum is exact).
        if (src === 0) acc.set(v);
        else for (let i = 0; i < count; i++) acc[i] += v[i];
      }
      if (op === 'mean') for (let i = 0; i < count; i++) acc[i] /= N;
      // The owner keeps what the others will decode, so every rank holds the same bits.
      roundThroughWire(acc, dtype);
      if (N > 1) this.publish(`${p}.all`, { ...base, kind: Kind.allGather, src: me, chunk: c, offset: at, count }, acc);
      x.set(acc, at);
    }

    // 3. All-gather: every other rank's reduced segment.
    for (let src = 0; src < N; src++) {
      if (src === me) continue;
      const [s0, s1] = segmentRange(n, N, src);
      for (let c = 0, off = 0; off < s1 - s0; c++, off += ce) {
        const count = Math.min(ce, s1 - s0 - off);
        x.set(await wait(Kind.allGather, src, c, s0 + off, count), s0 + off);
      }
    }
  }

  /** Copies `root`'s buffer into every rank's `buffer` (same length everywhere), exactly (f32 on the wire). */
  async broadcast(buffer: Float32Array, root = 0): Promise<Float32Array> {
    if (!(buffer instanceof Float32Array)) throw new DistributedConfigError(`broadcast: buffer must be a Float32Array, got ${Object.prototype.toString.call(buffer)}`);
    checkInt('broadcast root', root, 0, this.worldSize - 1);
    const seq = this.begin('broadcast');
    const n = buffer.length;
    const ce = this.chunkElements('f32');
    const deadline = Date.now() + this.timeoutMs;
    const offsets: number[] = [];
    for (let off = 0; off < n; off += ce) offsets.push(off);
    if (this.rank === root) {
      offsets.forEach((off, c) => {
        const count = Math.min(ce, n - off);
        this.publish(`${this.prefix}.all`, { kind: Kind.broadcast, dtype: 'f32', src: root, seq, chunk: c, offset: off, count, total: n, root }, buffer.subarray(off, off + count));
      });
      // An empty buffer still synchronises nothing; a zero-length broadcast sends no message.
      return buffer;
    }
    const expected = offsets.map((_, c) => ({ key: this.key(seq, Kind.broadcast, root, c), src: root }));
    for (let c = 0; c < offsets.length; c++) {
      const off = offsets[c];
      const count = Math.min(ce, n - off);
      const m = await this.take('broadcast', expected[c].key, deadline, expected, c);
      this.checkFrame('broadcast', m.h, { kind: Kind.broadcast, total: n, offset: off, count });
      buffer.set(decodeValues(m.data, m.h), off);
    }
    return buffer;
  }

  /** Returns once every rank has called barrier() (the same number of collectives in), or throws CollectiveTimeoutError. */
  async barrier(): Promise<void> {
    const seq = this.begin('barrier');
    const deadline = Date.now() + this.timeoutMs;
    this.publish(`${this.prefix}.all`, { kind: Kind.barrier, dtype: 'f32', src: this.rank, seq, chunk: 0, offset: 0, count: 0, total: 0, root: 0 }, null);
    const expected = [...Array(this.worldSize).keys()].filter((r) => r !== this.rank).map((src) => ({ key: this.key(seq, Kind.barrier, src, 0), src }));
    for (let i = 0; i < expected.length; i++) await this.take('barrier', expected[i].key, deadline, expected, i);
  }

  /** Waits until the server has everything this rank published (use before exiting). */
  async flush(): Promise<void> {
    await this.nc.flush();
  }

  /** Unsubscribes and closes the connection (after flushing what was published). Safe to call twice. */
  async destroy(): Promise<void> {
    if (this.nc.isClosed()) return;
    this.fail(new GroupClosedError(`rank ${this.rank}: the process group was destroyed`));
    // A flush needs the server: bounded, so that destroying a disconnected group does not wait for it.
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([this.nc.flush(), new Promise((r) => (timer = setTimeout(r, Math.min(this.timeoutMs, 2000))))]);
    } catch {
      // Closing anyway.
    } finally {
      clearTimeout(timer);
    }
    for (const s of this.subs) s.unsubscribe();
    await this.nc.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}
