import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { loadArchive } from '../../src/image-service/archive/load';
import { ImageStore } from '../../src/image-service/store/image-store';
import { BuiltImage, multiLayerImage, MEDIA_OCI_INDEX } from '../fixtures/image-builder';
import { CliResult, makeCliEnv } from './cli/cli-harness';
import { waitFor } from './helpers/wait';

const OPEN_LOOP = path.resolve(__dirname, '..', 'fixtures', 'store-open-loop.js');

/** An oci-archive (OCI image layout in a tar) of `img`, tagged `ref`. */
async function ociArchive(img: BuiltImage, ref: string): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve) => pack.on('data', (c: unknown) => chunks.push(c as Buffer)).on('end', () => resolve()));
  const index = { schemaVersion: 2, mediaType: MEDIA_OCI_INDEX, manifests: [{ mediaType: img.manifestMediaType, digest: img.manifestDigest, size: img.manifest.length, annotations: { 'org.opencontainers.image.ref.name': ref } }] };
  const files: [string, Buffer][] = [
    ['oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}')],
    ['index.json', Buffer.from(JSON.stringify(index))],
    [`blobs/sha256/${img.manifestDigest.slice(7)}`, img.manifest],
    ...[...img.blobs].map(([d, b]): [string, Buffer] => [`blobs/sha256/${d.slice(7)}`, b]),
  ];
  for (const [name, content] of files) {
    await new Promise<void>((resolve, reject) => pack.entry({ name, size: content.length, mode: 0o644 }, content, (err) => (err ? reject(err) : resolve())));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Every blob of every image has its file, and every layer its diff/ directory. */
function imagesAreWhole(store: ImageStore): void {
  for (const img of store.list()) {
    for (const d of store.imageBlobs(img.id)) expect(fs.existsSync(store.blobPath(d)), `blob ${d} of ${img.id}`).to.equal(true);
    for (const lower of store.layerLowerDirs(img).lowers) expect(fs.existsSync(path.join(store.linkDir, lower)), `layer ${lower} of ${img.id}`).to.equal(true);
  }
}

describe('image store: temp files and recovery with several processes on one root', function () {
  this.timeout(180_000);
  let tmp: string;
  let multi: BuiltImage;
  let archive: Buffer;
  const ref = 'example.com/test/multi:v1';

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-store-processes-'));
    multi = await multiLayerImage();
    archive = await ociArchive(multi, ref);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('a load resolves only once every blob it committed is in place (the renames out of its temp dir are awaited)', async () => {
    const store = ImageStore.open(path.join(tmp, 'slow-commit'));
    try {
      // A busy disk: each commit's rename starts a turn of the event loop after the call.
      const commit = store.commitBlob.bind(store);
      store.commitBlob = async (digest, file, size) => {
        await new Promise((resolve) => setImmediate(resolve));
        return commit(digest, file, size);
      };
      const loaded = await loadArchive(store, Readable.from([archive]));
      expect(loaded.map((l) => l.id)).to.deep.equal([multi.configDigest]);
      for (const d of [multi.manifestDigest, multi.configDigest, ...multi.layers.map((l) => l.digest)]) expect(store.hasBlob(d), d).to.equal(true);
      imagesAreWhole(store);
    } finally {
      await store.settled();
      store.close();
    }
  });

  it("another process's recovery (opens over and over) removes none of the blobs a pulling process commits meanwhile", async () => {
    const root = path.join(tmp, 'recovery-race');
    const store = ImageStore.open(root);
    const stopFile = path.join(tmp, 'stop-recovery-race');
    // Announced as a pull is, so the other process's recovery keeps rows no image uses yet.
    const release = await store.lock('pull:test');
    const child = spawn(process.execPath, [OPEN_LOOP, root, stopFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const digests: string[] = [];
    try {
      // The child has opened the store at least once before the commits start.
      await waitFor(() => out !== '' || child.exitCode !== null, 30_000, 'the open loop to start');
      for (let i = 0; i < 400 && child.exitCode === null; i++) {
        const data = crypto.randomBytes(64);
        const digest = `sha256:${crypto.createHash('sha256').update(data).digest('hex')}`;
        await store.putBlob(digest, data);
        digests.push(digest);
      }
    } finally {
      fs.writeFileSync(stopFile, '');
      expect(await exited, err).to.equal(0);
      release();
    }
    try {
      const opens = Number(out.trim().split('\n').pop());
      expect(opens, 'opens by the other process').to.be.greaterThan(1);
      const missing = digests.filter((d) => !store.hasBlob(d));
      expect(missing, `blobs removed by the other process's recovery (of ${digests.length}, ${opens} opens)`).to.deep.equal([]);
    } finally {
      await store.settled();
      store.close();
    }
  });

  it('two `peapod load` processes at once on one root both succeed and leave the image whole', async () => {
    const env = makeCliEnv();
    try {
      const file = path.join(env.dir, 'multi.tar');
      fs.writeFileSync(file, archive);
      for (let round = 0; round < 3; round++) {
        const results: CliResult[] = await Promise.all([env.run(['load', '-q', '-i', file]), env.run(['load', '-q', '-i', file])]);
        for (const r of results) expect(r.code, r.stderr).to.equal(0);
        const store = ImageStore.open(path.join(env.root, 'storage'));
        try {
          expect(store.list().map((i) => i.id)).to.deep.equal([multi.configDigest]);
          imagesAreWhole(store);
        } finally {
          store.close();
        }
        const rmi = await env.run(['rmi', ref]);
        expect(rmi.code, rmi.stderr).to.equal(0);
      }
    } finally {
      env.cleanup();
    }
  });
});
