// A static server for the built studio on a free loopback port: /isolated/... with the two
// cross-origin isolation headers (COOP same-origin, COEP require-corp), /plain/... without them.
// `served` lists the paths requested, so a caller can tell what a visit downloaded.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.txt': 'text/plain; charset=utf-8', '.png': 'image/png', '.svg': 'image/svg+xml', '.wasm': 'application/wasm' };
export const ISOLATION_HEADERS = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

/** Serves `dist`; resolves to { base, served, close }. */
export async function serveStudio(dist) {
  const served = [];
  const server = createServer((req, res) => {
    const [, mode, ...rest] = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).split('/');
    const headers = mode === 'isolated' ? ISOLATION_HEADERS : {};
    const file = normalize(join(dist, rest.join('/') || 'index.html'));
    try {
      if ((mode !== 'isolated' && mode !== 'plain') || !file.startsWith(dist + sep)) throw new Error('not served');
      const body = readFileSync(file);
      served.push(file.slice(dist.length + 1));
      res.writeHead(200, { ...headers, 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  return { base: `http://127.0.0.1:${server.address().port}`, served, close: () => new Promise((ok) => server.close(ok)) };
}
