/**
 * An HTTP proxy in front of a test registry that holds chosen blobs half-way:
 * it sends the first half of the body, then waits until the test calls
 * `release()`. Lets a test see a pull in the middle of a layer without
 * timing assumptions.
 */
import * as http from 'node:http';

/** A running gated proxy. */
export interface GatedProxy {
  host: string;
  /** Blob digests held half-way. */
  gate: Set<string>;
  /** Sends the rest of every held blob (now and later). */
  release(): void;
  stop(): Promise<void>;
}

/** Starts the proxy to `upstream` (`http://127.0.0.1:PORT`) on a free port of 127.0.0.1. */
export async function startGatedProxy(upstream: string): Promise<GatedProxy> {
  const up = new URL(upstream);
  const gate = new Set<string>();
  let open: () => void = () => undefined;
  const released = new Promise<void>((resolve) => (open = resolve));
  const server = http.createServer((req, res) => {
    const m = /\/blobs\/(sha256:[a-f0-9]{64})$/.exec((req.url ?? '').split('?')[0]);
    const held = m !== null && req.method === 'GET' && gate.has(m[1]);
    const preq = http.request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: { ...req.headers, host: up.host } }, (pres) => {
      res.writeHead(pres.statusCode ?? 502, pres.headers);
      if (!held) {
        pres.pipe(res);
        return;
      }
      const chunks: Buffer[] = [];
      pres.on('data', (c: Buffer) => chunks.push(c));
      pres.on('end', () => {
        const body = Buffer.concat(chunks);
        res.write(body.subarray(0, body.length >> 1));
        void released.then(() => res.end(body.subarray(body.length >> 1)));
      });
    });
    preq.on('error', () => res.writeHead(502).end());
    req.pipe(preq);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    gate,
    release: () => open(),
    async stop() {
      open();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
