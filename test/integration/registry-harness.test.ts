import { expect } from 'chai';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { busyboxImage, busyboxIndex, MEDIA_OCI_INDEX, pushImage, pushIndex, sha256 } from '../fixtures/image-builder';
import { startRegistry, TestRegistry } from './harness/registry';

async function tarNames(data: Buffer): Promise<string[]> {
  const ex = tar.extract();
  const names: string[] = [];
  ex.on('entry', (h, stream, next) => {
    names.push(h.name);
    stream.on('end', next);
    stream.resume();
  });
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(data);
  await done;
  return names;
}

describe('test harness: registry and image builder', () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry();
  });
  after(async () => {
    await registry?.stop();
  });

  it('pushes a busybox image and serves its manifest and blobs back with matching digests', async () => {
    const image = await busyboxImage();
    await pushImage(registry.url, 'test/busybox', 'v1', image);

    const res = await fetch(`${registry.url}/v2/test/busybox/manifests/v1`, { headers: { accept: image.manifestMediaType } });
    expect(res.status).to.equal(200);
    const manifest = Buffer.from(await res.arrayBuffer());
    expect(sha256(manifest)).to.equal(image.manifestDigest);
    expect(res.headers.get('docker-content-digest')).to.equal(image.manifestDigest);

    const parsed = JSON.parse(manifest.toString()) as { config: { digest: string }; layers: { digest: string }[] };
    expect(parsed.layers).to.have.length(1);
    for (const digest of [parsed.config.digest, ...parsed.layers.map((l) => l.digest)]) {
      const blob = Buffer.from(await (await fetch(`${registry.url}/v2/test/busybox/blobs/${digest}`)).arrayBuffer());
      expect(sha256(blob)).to.equal(digest);
    }
    const layer = Buffer.from(await (await fetch(`${registry.url}/v2/test/busybox/blobs/${parsed.layers[0].digest}`)).arrayBuffer());
    const raw = zlib.gunzipSync(layer);
    expect(sha256(raw)).to.equal(image.diffIds[0]);
    const names = await tarNames(raw);
    expect(names).to.include.members(['bin/busybox', 'bin/sh', 'etc/passwd']);
  });

  it('pushes an index with linux/amd64 and linux/arm64', async () => {
    const index = await busyboxIndex();
    await pushIndex(registry.url, 'test/multi', 'latest', index);
    const res = await fetch(`${registry.url}/v2/test/multi/manifests/latest`, { headers: { accept: MEDIA_OCI_INDEX } });
    const body = Buffer.from(await res.arrayBuffer());
    expect(sha256(body)).to.equal(index.indexDigest);
    const parsed = JSON.parse(body.toString()) as { manifests: { platform: { architecture: string } }[] };
    expect(parsed.manifests.map((m) => m.platform.architecture)).to.deep.equal(['amd64', 'arm64']);
  });

  it('requires Basic auth when started with htpasswd users', async () => {
    const secured = await startRegistry({ htpasswd: { alice: 's3cret' } });
    try {
      expect((await fetch(`${secured.url}/v2/`)).status).to.equal(401);
      const ok = await fetch(`${secured.url}/v2/`, { headers: { authorization: 'Basic ' + Buffer.from('alice:s3cret').toString('base64') } });
      expect(ok.status).to.equal(200);
      const bad = await fetch(`${secured.url}/v2/`, { headers: { authorization: 'Basic ' + Buffer.from('alice:nope').toString('base64') } });
      expect(bad.status).to.equal(401);
    } finally {
      await secured.stop();
    }
  });
});
