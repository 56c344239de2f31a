import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { BlobGet, BlobGetOutcome, BlobGetRequest, MAX_REDIRECTS, parseResponseHead } from '../../src/image-service/store/blob-get';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A local HTTP server answering with `handler`; records each request's URL and headers. */
async function server(handler: Handler): Promise<{ url: string; host: string; requests: { url: string; headers: http.IncomingHttpHeaders }[]; close(): Promise<void> }> {
  const requests: { url: string; headers: http.IncomingHttpHeaders }[] = [];
  const s = http.createServer((req, res) => {
    requests.push({ url: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(s.address() as net.AddressInfo).port}`;
  return {
    url: `http://${host}`,
    host,
    requests,
    async close() {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    },
  };
}

/** Runs one BlobGet and records what its sink saw. */
async function get(url: string, over: Partial<BlobGetRequest> = {}): Promise<{ outcome: BlobGetOutcome; started?: number; body: Buffer; ended: boolean; error?: Error }> {
  const chunks: Buffer[] = [];
  let started: number | undefined;
  let ended = false;
  let error: Error | undefined;
  const g = new BlobGet(
    { url, insecure: true, connectTimeoutMs: 5_000, idleTimeoutMs: 5_000, ...over },
    {
      start: (n) => {
        started = n;
        return true;
      },
      data: (buf, start, end) => chunks.push(Buffer.from(buf.subarray(start, end))),
      end: () => (ended = true),
      error: (e) => (error = e),
    },
  );
  const outcome = await g.outcome;
  return { outcome, started, body: Buffer.concat(chunks), ended, error };
}

describe('BlobGet: a layer worker\'s blob GET over a bare socket', function () {
  this.timeout(20_000);
  const blob = crypto.randomBytes(3 << 20);

  it('streams a 200 with Content-Length to the sink, byte for byte, sending the Authorization header', async () => {
    const s = await server((_req, res) => res.writeHead(200, { 'content-length': blob.length }).end(blob));
    try {
      const r = await get(`${s.url}/v2/x/blobs/sha256:1`, { authorization: 'Bearer tok' });
      expect(r.outcome).to.deep.equal({ kind: 'streamed' });
      expect(r.started).to.equal(blob.length);
      expect(r.ended).to.equal(true);
      expect(r.error).to.equal(undefined);
      expect(r.body.equals(blob)).to.equal(true);
      expect(s.requests[0].url).to.equal('/v2/x/blobs/sha256:1');
      expect(s.requests[0].headers.authorization).to.equal('Bearer tok');
      expect(s.requests[0].headers['accept-encoding']).to.equal('identity');
    } finally {
      await s.close();
    }
  });

  it('follows redirects, sending Authorization only to the first host', async () => {
    const other = await server((_req, res) => res.writeHead(200, { 'content-length': blob.length }).end(blob));
    const front = await server((req, res) => {
      if (req.url === '/v2/x/blobs/sha256:1') res.writeHead(307, { location: '/moved' }).end();
      else res.writeHead(302, { location: `${other.url}/cdn/blob?sig=1` }).end();
    });
    try {
      const r = await get(`${front.url}/v2/x/blobs/sha256:1`, { authorization: 'Basic c2VjcmV0' });
      expect(r.outcome.kind).to.equal('streamed');
      expect(r.body.equals(blob)).to.equal(true);
      expect(front.requests.map((q) => [q.url, q.headers.authorization])).to.deep.equal([
        ['/v2/x/blobs/sha256:1', 'Basic c2VjcmV0'],
        ['/moved', 'Basic c2VjcmV0'],
      ]);
      expect(other.requests.map((q) => [q.url, q.headers.authorization])).to.deep.equal([['/cdn/blob?sig=1', undefined]]);
    } finally {
      await front.close();
      await other.close();
    }
  });

  it('falls back, with nothing sent to the sink, for what only the full client handles', async () => {
    const cases: [string, Handler, RegExp][] = [
      ['401', (_q, res) => res.writeHead(401, { 'www-authenticate': 'Bearer realm="x"' }).end(), /HTTP 401/],
      ['404', (_q, res) => res.writeHead(404).end('{}'), /HTTP 404/],
      ['503', (_q, res) => res.writeHead(503).end(), /HTTP 503/],
      ['a chunked body', (_q, res) => res.writeHead(200).end(blob), /transfer-encoding chunked/],
      ['a header block over 16 KiB', (_q, res) => res.writeHead(200, { 'x-big': 'a'.repeat(20 << 10), 'content-length': 1 }).end('a'), /over the limit/],
      ['a connection closed before a response', (q) => q.socket.destroy(), /closed|reset|hang up/i],
    ];
    for (const [what, handler, reason] of cases) {
      const s = await server(handler);
      try {
        const r = await get(`${s.url}/b`);
        expect(r.outcome.kind, what).to.equal('fallback');
        expect((r.outcome as { reason: string }).reason, what).to.match(reason);
        expect(r.started, what).to.equal(undefined);
        expect(r.body.length, what).to.equal(0);
      } finally {
        await s.close();
      }
    }
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as net.AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    const refused = await get(`http://127.0.0.1:${port}/b`);
    expect(refused.outcome.kind).to.equal('fallback');
    expect((refused.outcome as { reason: string }).reason).to.match(/ECONNREFUSED/);
  });

  it(`falls back after ${MAX_REDIRECTS} redirects`, async () => {
    const s = await server((_req, res) => res.writeHead(302, { location: '/again' }).end());
    try {
      const r = await get(`${s.url}/b`);
      expect(r.outcome).to.deep.equal({ kind: 'fallback', reason: 'too many redirects' });
      expect(s.requests.length).to.equal(MAX_REDIRECTS + 1);
    } finally {
      await s.close();
    }
  });

  it('reports a body cut off before its Content-Length, or idle too long, as an error and never as the end', async () => {
    const cut = await server((req, res) => {
      res.writeHead(200, { 'content-length': blob.length });
      res.write(blob.subarray(0, 1 << 20), () => req.socket.destroy());
    });
    try {
      const r = await get(`${cut.url}/b`);
      expect(r.outcome.kind).to.equal('streamed');
      expect(r.ended).to.equal(false);
      expect(r.error?.message).to.match(/cut off|reset/);
      expect(r.body.length).to.be.at.most(1 << 20);
    } finally {
      await cut.close();
    }
    const idle = await server((_req, res) => {
      res.writeHead(200, { 'content-length': blob.length });
      res.write(blob.subarray(0, 1000));
    });
    try {
      const r = await get(`${idle.url}/b`, { idleTimeoutMs: 300 });
      expect(r.ended).to.equal(false);
      expect(r.error?.message).to.contain('no data for 300 ms');
      expect(r.body.equals(blob.subarray(0, 1000))).to.equal(true);
    } finally {
      await idle.close();
    }
  });

  it('speaks https, verifying the certificate unless the registry is insecure', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-blob-get-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`, '-days', '2', '-subj', '/CN=localhost'], { stdio: 'ignore' });
      const s = https.createServer({ key: fs.readFileSync(`${dir}/key.pem`), cert: fs.readFileSync(`${dir}/cert.pem`) }, (_req, res) => res.writeHead(200, { 'content-length': blob.length }).end(blob));
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      const url = `https://127.0.0.1:${(s.address() as net.AddressInfo).port}/b`;
      try {
        const r = await get(url, { insecure: true });
        expect(r.outcome.kind).to.equal('streamed');
        expect(r.ended).to.equal(true);
        expect(r.body.equals(blob)).to.equal(true);
        const verified = await get(url, { insecure: false });
        expect(verified.outcome.kind).to.equal('fallback');
        expect((verified.outcome as { reason: string }).reason).to.match(/self[- ]signed/i);
      } finally {
        s.closeAllConnections();
        await new Promise((r) => s.close(r));
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses a response head, refusing two different Content-Lengths', () => {
    const h = parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nx-a: 2');
    expect(h?.status).to.equal(200);
    expect(h?.headers.get('content-length')).to.equal('5');
    expect(h?.headers.get('x-a')).to.equal('1, 2');
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6')).to.equal(undefined);
    expect(parseResponseHead('SPDY/3 200 OK')).to.equal(undefined);
    expect(parseResponseHead('HTTP/1.1 200 OK\r\nno colon')).to.equal(undefined);
  });
});
