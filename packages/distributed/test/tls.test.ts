/**
 * TLS settings reach the NATS client: against a TLS-only server (a throwaway self-signed certificate
 * for 127.0.0.1 and localhost (the name the NATS client checks for a loopback IP) made with openssl), a client that does not trust the certificate is refused, one
 * given the CA joins; with client verification on, the client certificate and key are needed too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConnectionFailedError, initProcessGroup } from '@tessera/distributed';
import { startNatsServer, uniqueRunId, type NatsServer } from './helpers.js';

let openssl = true;
try {
  execFileSync('openssl', ['version'], { stdio: 'ignore' });
} catch {
  openssl = false;
}

describe.skipIf(!openssl)('TLS (needs openssl to make a certificate)', () => {
  let dir: string;
  let tlsOnly: NatsServer;
  let mutual: NatsServer;
  let cert: string;
  let key: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-tls-'));
    cert = join(dir, 'cert.pem');
    key = join(dir, 'key.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    [tlsOnly, mutual] = await Promise.all([
      startNatsServer(['--tls', '--tlscert', cert, '--tlskey', key]),
      startNatsServer(['--tlsverify', '--tlscert', cert, '--tlskey', key, '--tlscacert', cert]),
    ]);
  });
  afterAll(async () => {
    await Promise.all([tlsOnly?.stop(), mutual?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('an untrusted certificate is refused; the CA passed through as tls.caFile lets the ranks in', async () => {
    const base = { servers: tlsOnly.url, worldSize: 1, rank: 0, timeoutMs: 3000 };
    const e = await initProcessGroup({ ...base, runId: uniqueRunId('tls') }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConnectionFailedError);
    expect((e as Error).message).toMatch(/self-signed certificate/);
    const runId = uniqueRunId('tls');
    const gs = await Promise.all([0, 1].map((rank) => initProcessGroup({ ...base, worldSize: 2, rank, runId, tls: { caFile: cert } })));
    const bufs = [new Float32Array([1, 2, 3]), new Float32Array([4, 5, 6])];
    await Promise.all(gs.map((g, r) => g.allReduce(bufs[r])));
    expect([...bufs[1]]).toEqual([5, 7, 9]);
    await Promise.all(gs.map((g) => g.destroy()));
  });

  it('client verification: without a client certificate the server refuses; with certFile/keyFile it accepts', async () => {
    const base = { servers: mutual.url, worldSize: 1, rank: 0, timeoutMs: 3000 };
    const e = await initProcessGroup({ ...base, runId: uniqueRunId('mtls'), tls: { caFile: cert } }).catch((x: unknown) => x);
    // The server drops the handshake; the client gives up at its connect timeout.
    expect(e).toBeInstanceOf(ConnectionFailedError);
    const g = await initProcessGroup({ ...base, runId: uniqueRunId('mtls'), tls: { caFile: cert, certFile: cert, keyFile: key } });
    await g.barrier();
    await g.destroy();
  });
});
