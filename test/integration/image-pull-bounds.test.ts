import { expect } from 'chai';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { ImagePuller, PullError } from '../../src/image-service/puller';
import { RegistryError } from '../../src/image-service/registry-client';
import { ImageStore } from '../../src/image-service/store/image-store';
import { sha256 } from '../fixtures/image-builder';

const NO_REGISTRIES = { unqualifiedSearchRegistries: [], registries: [] };
const CONFIG = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256('layer')] } }));
const LAYER_DIGEST = sha256('the layer');

/** What a request gets: a handler writing the response, or undefined for 404. */
type Route = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/**
 * A registry that answers from `routes` (path → handler), counts what it
 * sent per path, and notices when a client hangs up early.
 */
async function fakeRegistry(routes: Record<string, Route>): Promise<{ host: string; sent: Map<string, number>; gets: string[]; close(): Promise<void> }> {
  const sent = new Map<string, number>();
  const gets: string[] = [];
  const server = http.createServer((req, res) => {
    const url = (req.url ?? '').split('?')[0];
    gets.push(url);
    const write = res.write.bind(res);
    res.write = ((chunk: Buffer, ...rest: never[]) => {
      sent.set(url, (sent.get(url) ?? 0) + chunk.length);
      return write(chunk, ...rest);
    }) as typeof res.write;
    const route = routes[url];
    if (url === '/v2/' && !route) res.writeHead(200).end('{}');
    else if (route) route(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    host,
    sent,
    gets,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** Writes 64 KiB chunks until the client goes away or `limit` bytes were sent. */
function endless(res: http.ServerResponse, limit = 256 << 20): void {
  let total = 0;
  const chunk = Buffer.alloc(64 << 10, 0x61);
  const pump = (): void => {
    while (total < limit && !res.destroyed) {
      total += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    res.end();
  };
  res.on('close', () => (total = limit));
  pump();
}

function manifest(config: { digest: string; size: number }, layers: { digest: string; size: number }[] = [{ digest: LAYER_DIGEST, size: 1000 }]): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l })),
    }),
  );
}

const serve =
  (body: Buffer, type = 'application/vnd.oci.image.manifest.v1+json'): Route =>
  (_req, res) =>
    res.writeHead(200, { 'content-type': type, 'content-length': body.length }).end(body);

describe('image pulls: bounds on what a registry sends', function () {
  this.timeout(60_000);
  let tmp: string;
  const stores: ImageStore[] = [];
  function puller(): ImagePuller {
    const s = ImageStore.open(fs.mkdtempSync(path.join(tmp, 'store-')));
    stores.push(s);
    return new ImagePuller(s, { registries: NO_REGISTRIES, idleTimeoutMs: 10_000 });
  }
  before(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-bounds-'))));
  after(() => {
    for (const s of stores) s.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('refuses an image config over 4 MiB by its descriptor, without fetching it', async () => {
    const big = { digest: sha256('big config'), size: 5 << 20 };
    const reg = await fakeRegistry({ '/v2/x/y/manifests/v1': serve(manifest(big)) });
    try {
      const err = await puller().pull(`${reg.host}/x/y:v1`).catch((e: Error) => e);
      expect(err).to.be.instanceOf(PullError);
      expect((err as Error).message).to.contain(`image config ${big.digest} is 5242880 bytes, over the 4194304-byte limit`);
      expect(reg.gets.filter((g) => g.includes('/blobs/'))).to.deep.equal([]);
    } finally {
      await reg.close();
    }
  });

  it('stops reading a config at one byte past its declared size', async () => {
    const cfg = { digest: sha256(CONFIG), size: CONFIG.length };
    const reg = await fakeRegistry({
      '/v2/x/y/manifests/v1': serve(manifest(cfg)),
      [`/v2/x/y/blobs/${cfg.digest}`]: (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked: no length to refuse up front
        endless(res);
      },
    });
    try {
      const err = await puller().pull(`${reg.host}/x/y:v1`).catch((e: Error) => e);
      expect((err as Error).message).to.contain(`image config ${cfg.digest} is over the ${CONFIG.length}-byte limit`);
      expect(reg.sent.get(`/v2/x/y/blobs/${cfg.digest}`)).to.be.below(64 << 20);
    } finally {
      await reg.close();
    }
  });

  it('stops a layer download at one byte past its descriptor, and refuses a Content-Length over it before reading', async () => {
    const cfg = { digest: sha256(CONFIG), size: CONFIG.length };
    let withLength = false;
    const reg = await fakeRegistry({
      '/v2/x/y/manifests/v1': serve(manifest(cfg)),
      [`/v2/x/y/blobs/${cfg.digest}`]: serve(CONFIG, 'application/octet-stream'),
      [`/v2/x/y/blobs/${LAYER_DIGEST}`]: (_req, res) => {
        res.writeHead(200, withLength ? { 'content-length': 200 << 20 } : {});
        endless(res);
      },
    });
    try {
      const err = await puller().pull(`${reg.host}/x/y:v1`).catch((e: Error) => e);
      expect(err).to.be.instanceOf(PullError);
      expect((err as Error).message).to.contain(`blob ${LAYER_DIGEST} is larger than the 1000 bytes its descriptor declares`);
      expect(reg.sent.get(`/v2/x/y/blobs/${LAYER_DIGEST}`)).to.be.below(64 << 20);
      withLength = true;
      const byLength = await puller().pull(`${reg.host}/x/y:v1`).catch((e: Error) => e);
      expect((byLength as Error).message).to.contain(`blob ${LAYER_DIGEST} is 209715200 bytes (Content-Length), larger than the 1000 bytes its descriptor declares`);
    } finally {
      await reg.close();
    }
  });

  it('reads only the start of an error body', async () => {
    const reg = await fakeRegistry({
      '/v2/x/y/manifests/v1': (_req, res) => {
        res.writeHead(404, { 'content-type': 'application/json' });
        endless(res);
      },
    });
    try {
      const err = await puller().pull(`${reg.host}/x/y:v1`).catch((e: Error) => e);
      expect(err).to.be.instanceOf(RegistryError);
      expect((err as RegistryError).status).to.equal(404);
      expect((err as Error).message).to.contain('not found: aaaa');
      expect((err as Error).message.length).to.be.below(1000);
      expect(reg.sent.get('/v2/x/y/manifests/v1')).to.be.below(64 << 20);
    } finally {
      await reg.close();
    }
  });

  it('refuses a token response over 1 MiB', async () => {
    let realm = '';
    const reg = await fakeRegistry({
      '/v2/': (req, res) => {
        if (req.headers.authorization) res.writeHead(200).end('{}');
        else res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="fake"` }).end();
      },
      '/v2/x/y/manifests/v1': (req, res) => {
        if (req.headers.authorization) res.writeHead(404).end();
        else res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm}",service="fake",scope="repository:x/y:pull"` }).end();
      },
      '/token': (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        endless(res);
      },
    });
    realm = `http://${reg.host}/token`;
    try {
      const err = await puller().pull(`${reg.host}/x/y:v1`).catch((e: Error) => e);
      expect(err).to.be.instanceOf(RegistryError);
      expect((err as Error).message).to.contain('sent a response over the 1048576-byte limit');
      expect(reg.sent.get('/token')).to.be.below(64 << 20);
    } finally {
      await reg.close();
    }
  });
});
