import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { BuiltImage, buildImage, busyboxImage, multiLayerImage, passwdFiles, pushImage, randomFiles } from '../fixtures/image-builder';
import { startRegistryProxy } from '../fixtures/registry-proxy';
import { startRegistry, TestRegistry } from './harness/registry';
import { startServer, TestServer } from './harness/server';

const run = promisify(execFile);

async function rpcError(p: Promise<unknown>): Promise<grpc.ServiceError> {
  return p.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (e: grpc.ServiceError) => e,
  );
}

describe('CRI ImageService over gRPC', function () {
  this.timeout(60_000);
  let registry: TestRegistry;
  let server: TestServer;
  let numeric: BuiltImage;
  let named: BuiltImage;
  let confFile: string;

  before(async () => {
    registry = await startRegistry();
    numeric = await busyboxImage({ User: '1000:1000', Labels: { which: 'numeric' } });
    named = await multiLayerImage({ User: 'app' });
    await pushImage(registry.url, 'test/numeric', 'v1', numeric);
    await pushImage(registry.url, 'test/numeric', 'v2', numeric);
    await pushImage(registry.url, 'test/named', 'latest', named);
    const dir = fs.mkdtempSync(path.join(registry.dir, 'conf-'));
    confFile = path.join(dir, 'registries.conf');
    fs.writeFileSync(confFile, `unqualified-search-registries = ["${registry.host}"]\n`);
    server = await startServer({ config: `[image]\nregistries_conf = "${dir}/registries.conf"\nregistries_conf_dir = "${dir}/none.d"\npinned_images = ["${registry.host}/test/nam*"]\n` });
  });
  after(async () => {
    await server?.cleanup();
    await registry?.stop();
  });

  it('PullImage answers the image ID; ImageStatus reports tags, digests, size, uid and the verbose config', async () => {
    const res = await server.client.image.PullImage({ image: { image: `${registry.host}/test/numeric:v1` } });
    expect(res.image_ref).to.equal(numeric.configDigest);
    const st = await server.client.image.ImageStatus({ image: { image: `${registry.host}/test/numeric:v1` }, verbose: true });
    expect(st.image!.id).to.equal(numeric.configDigest);
    expect(st.image!.repo_tags).to.deep.equal([`${registry.host}/test/numeric:v1`]);
    expect(st.image!.repo_digests).to.deep.equal([`${registry.host}/test/numeric@${numeric.manifestDigest}`]);
    expect(Number(st.image!.size)).to.be.greaterThan(fs.statSync('/bin/busybox').size);
    expect(st.image!.uid).to.deep.equal({ value: '1000' });
    expect(st.image!.username).to.equal('');
    expect(st.image!.pinned).to.equal(false);
    const info = JSON.parse(st.info!.info) as { imageSpec: { config: { Labels: Record<string, string> } } };
    expect(info.imageSpec.config.Labels).to.deep.equal({ which: 'numeric' });
  });

  it('pulls a short name through unqualified-search-registries and reports a user name', async () => {
    const res = await server.client.image.PullImage({ image: { image: 'test/named' } });
    expect(res.image_ref).to.equal(named.configDigest);
    const st = await server.client.image.ImageStatus({ image: { image: res.image_ref } });
    expect(st.image!.username).to.equal('app');
    expect(st.image!.pinned).to.equal(true);
    expect(st.image!.uid).to.equal(null);
    expect(st.image!.repo_tags).to.deep.equal([`${registry.host}/test/named:latest`]);
  });

  it("ImageStatus and ListImages see another process's change of the store at once (their cached views follow the database's version)", async () => {
    const tag = `${registry.host}/test/numeric:v2`;
    await server.client.image.PullImage({ image: { image: tag } });
    const before = await server.client.image.ImageStatus({ image: { image: tag } });
    expect(before.image!.repo_tags).to.include(tag);
    expect((await server.client.image.ListImages({})).images.find((i) => i.id === numeric.configDigest)!.repo_tags).to.include(tag);
    // Another process (as the CLI's `rmi` of one tag would) drops the tag in images.db.
    const sqlite = require.resolve('better-sqlite3');
    const script = `const D = require(${JSON.stringify(sqlite)}); const db = new D(${JSON.stringify(path.join(server.root, 'storage', 'images.db'))}); db.prepare('DELETE FROM image_tags WHERE name = ?').run(${JSON.stringify(tag)}); db.close();`;
    await run(process.execPath, ['-e', script]);
    expect((await server.client.image.ImageStatus({ image: { image: tag } })).image).to.equal(null);
    expect((await server.client.image.ListImages({})).images.find((i) => i.id === numeric.configDigest)!.repo_tags).to.not.include(tag);
    expect((await server.client.image.ListImages({ filter: { image: { image: tag } } })).images).to.deep.equal([]);
    // Pulled again: listed again.
    await server.client.image.PullImage({ image: { image: tag } });
    expect((await server.client.image.ImageStatus({ image: { image: tag } })).image!.repo_tags).to.include(tag);
  });

  it('ImageStatus of an unknown image is an empty response, not an error', async () => {
    const st = await server.client.image.ImageStatus({ image: { image: `${registry.host}/test/unknown:v1` } });
    expect(st.image).to.equal(null);
  });

  it('ListImages lists every image and filters by reference', async () => {
    const all = await server.client.image.ListImages({});
    expect(all.images.map((i) => i.id).sort()).to.deep.equal([numeric.configDigest, named.configDigest].sort());
    const one = await server.client.image.ListImages({ filter: { image: { image: `${registry.host}/test/named` } } });
    expect(one.images.map((i) => i.id)).to.deep.equal([named.configDigest]);
    const none = await server.client.image.ListImages({ filter: { image: { image: 'sha256:' + '0'.repeat(64) } } });
    expect(none.images).to.deep.equal([]);
  });

  it('refuses a malformed reference with INVALID_ARGUMENT naming it, and a missing one', async () => {
    const bad = await rpcError(server.client.image.PullImage({ image: { image: 'UPPER/Case' } }));
    expect(bad.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(bad.details).to.contain('"UPPER/Case"');
    const missing = await rpcError(server.client.image.PullImage({ image: { image: '' } }));
    expect(missing.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(missing.details).to.contain('image.image');
  });

  it('reads registries.conf at each pull: a blocked registry is PERMISSION_DENIED, a broken file FAILED_PRECONDITION', async () => {
    const original = fs.readFileSync(confFile, 'utf8');
    try {
      fs.writeFileSync(confFile, `${original}[[registry]]\nlocation = "${registry.host}"\nblocked = true\n`);
      const blocked = await rpcError(server.client.image.PullImage({ image: { image: `${registry.host}/test/numeric:v1` } }));
      expect(blocked.code).to.equal(grpc.status.PERMISSION_DENIED);
      expect(blocked.details).to.contain('blocked');
      fs.writeFileSync(confFile, 'unqualified-search-registries = [\n');
      const broken = await rpcError(server.client.image.PullImage({ image: { image: `${registry.host}/test/numeric:v1` } }));
      expect(broken.code).to.equal(grpc.status.FAILED_PRECONDITION);
      expect(broken.details).to.contain(confFile);
    } finally {
      fs.writeFileSync(confFile, original);
    }
  });

  it('answers NOT_FOUND for a tag the registry lacks', async () => {
    const err = await rpcError(server.client.image.PullImage({ image: { image: `${registry.host}/test/numeric:nope` } }));
    expect(err.code).to.equal(grpc.status.NOT_FOUND);
  });

  it('RemoveImage by one tag removes the image with all its tags; again is a no-op', async () => {
    await server.client.image.PullImage({ image: { image: `${registry.host}/test/numeric:v2` } });
    const before = await server.client.image.ImageStatus({ image: { image: numeric.configDigest } });
    expect(before.image!.repo_tags).to.deep.equal([`${registry.host}/test/numeric:v1`, `${registry.host}/test/numeric:v2`]);
    await server.client.image.RemoveImage({ image: { image: `${registry.host}/test/numeric:v2` } });
    for (const ref of [`${registry.host}/test/numeric:v1`, `${registry.host}/test/numeric:v2`, numeric.configDigest]) {
      expect((await server.client.image.ImageStatus({ image: { image: ref } })).image, ref).to.equal(null);
    }
    await server.client.image.RemoveImage({ image: { image: `${registry.host}/test/numeric:v2` } });
    await server.client.image.RemoveImage({ image: { image: numeric.configDigest } });
  });

  it('ImageFsInfo reports the store mountpoint, bytes and inodes used, and a timestamp in ns', async () => {
    const res = await server.client.image.ImageFsInfo({});
    expect(res.image_filesystems).to.have.length(1);
    const fsu = res.image_filesystems[0];
    expect(fsu.fs_id!.mountpoint).to.equal(path.join(server.root, 'storage'));
    expect(Number(fsu.used_bytes!.value)).to.be.greaterThan(100_000);
    expect(Number(fsu.inodes_used!.value)).to.be.greaterThan(100);
    const ts = BigInt(fsu.timestamp);
    const now = BigInt(Date.now()) * 1_000_000n;
    expect(ts > now - 60_000_000_000n && ts <= now).to.equal(true);
  });

  it('shares the store with another process (the CLI): pulling one image at once fetches each blob once', async () => {
    const image = await buildImage({ layers: [{ files: randomFiles(1 << 20, 'shared-a') }, { files: randomFiles(1 << 20, 'shared-b') }, { files: passwdFiles() }] });
    await pushImage(registry.url, 'test/shared', 'v1', image);
    const proxy = await startRegistryProxy(registry.url);
    try {
      const ref = `${proxy.host}/test/shared:v1`;
      const script = path.resolve(__dirname, '..', 'fixtures', 'pull-process.js');
      const [viaServer, viaCli] = await Promise.all([
        server.client.image.PullImage({ image: { image: ref } }),
        run(process.execPath, [script, path.join(server.root, 'storage'), ref]),
      ]);
      expect(viaServer.image_ref).to.equal(image.configDigest);
      expect(viaCli.stdout.trim()).to.equal(image.configDigest);
      for (const d of [image.configDigest, ...image.layers.map((l) => l.digest)]) expect(proxy.blobGets(d), d).to.equal(1);
      // What the other process stored, the server sees.
      const st = await server.client.image.ImageStatus({ image: { image: ref } });
      expect(st.image!.id).to.equal(image.configDigest);
    } finally {
      await proxy.stop();
    }
  });

  it('keeps images across a restart', async () => {
    await server.stop();
    const again = await startServer({ dir: server.dir, config: fs.readFileSync(server.configFile, 'utf8') });
    try {
      const st = await again.client.image.ImageStatus({ image: { image: named.configDigest } });
      expect(st.image!.id).to.equal(named.configDigest);
    } finally {
      again.client.close();
      await again.stop();
    }
  });
});
