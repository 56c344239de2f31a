import { expect } from 'chai';
import { execFile, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { ImagePuller, PullerOptions, PullError, PullProgress } from '../../src/image-service/puller';
import { RegistriesConf } from '../../src/image-service/registries-conf';
import { RegistryError } from '../../src/image-service/registry-client';
import { ImageStore } from '../../src/image-service/store/image-store';
import {
  BuiltImage,
  busyboxFiles,
  busyboxImage,
  busyboxIndex,
  buildImage,
  buildIndex,
  multiLayerImage,
  pushImage,
  pushIndex,
  randomFiles,
  sha256,
} from '../fixtures/image-builder';
import { startRegistryProxy } from '../fixtures/registry-proxy';
import { startTokenServer, TokenServer } from '../fixtures/token-server';
import { startRegistry, TestRegistry } from './harness/registry';

const run = promisify(execFile);
const NO_REGISTRIES: RegistriesConf = { unqualifiedSearchRegistries: [], registries: [] };

describe('image service library: pull into the store', function () {
  this.timeout(60_000);
  let registry: TestRegistry;
  let busybox: BuiltImage;
  let tmp: string;
  const stores: ImageStore[] = [];

  function openStore(name = 'storage'): ImageStore {
    const s = ImageStore.open(path.join(tmp, name));
    stores.push(s);
    return s;
  }
  function puller(store: ImageStore, options: Partial<PullerOptions> = {}): ImagePuller {
    return new ImagePuller(store, { registries: NO_REGISTRIES, ...options });
  }
  /** No image, blob or layer left, rows or files (after the store's background deletions). */
  async function storeIsEmpty(store: ImageStore): Promise<void> {
    await store.settled();
    expect(store.list()).to.have.length(0);
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM blobs').get()).to.deep.equal({ n: 0 });
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM layers').get()).to.deep.equal({ n: 0 });
    expect(fs.readdirSync(path.join(store.root, 'blobs', 'sha256'))).to.deep.equal([]);
    expect(fs.readdirSync(path.join(store.root, 'overlay'))).to.deep.equal(['l']);
    expect(fs.readdirSync(path.join(store.root, 'overlay', 'l'))).to.deep.equal([]);
  }

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-image-pull-'));
    registry = await startRegistry();
    busybox = await busyboxImage({ User: '1000:1000', Entrypoint: ['/bin/sh'], WorkingDir: '/tmp', StopSignal: 'SIGQUIT' });
    await pushImage(registry.url, 'test/busybox', 'v1', busybox);
    await pushImage(registry.url, 'test/busybox', 'v2', busybox);
  });
  after(async () => {
    for (const s of stores) s.close();
    await registry?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('pulls by tag: image ID is the config digest, layers unpacked, found by tag, ID, short ID and digest', async () => {
    const store = openStore('by-tag');
    const img = await puller(store).pull(`${registry.host}/test/busybox:v1`);
    expect(img.id).to.equal(busybox.configDigest);
    expect(img.repoTags).to.deep.equal([`${registry.host}/test/busybox:v1`]);
    expect(img.repoDigests).to.deep.equal([`${registry.host}/test/busybox@${busybox.manifestDigest}`]);
    expect(img.chainIds).to.deep.equal(busybox.diffIds);
    expect(img.config.config?.User).to.equal('1000:1000');
    expect(img.config.config?.Entrypoint).to.deep.equal(['/bin/sh']);
    expect(img.size).to.be.greaterThan(fs.statSync('/bin/busybox').size);

    const { linkDir, lowers } = store.layerLowerDirs(img);
    expect(lowers).to.have.length(1);
    expect(lowers[0]).to.match(/^l\/[A-Z2-7]{26}$/);
    const diff = path.join(linkDir, lowers[0]);
    expect(fs.readFileSync(path.join(diff, 'bin', 'busybox')).equals(fs.readFileSync('/bin/busybox'))).to.equal(true);
    expect(fs.statSync(path.join(diff, 'bin', 'busybox')).mode & 0o7777).to.equal(0o755);
    expect(fs.readlinkSync(path.join(diff, 'bin', 'sh'))).to.equal('busybox');
    expect(fs.statSync(path.join(diff, 'tmp')).mode & 0o7777).to.equal(0o1777);
    expect(fs.statSync(path.join(diff, 'home', 'app')).uid).to.equal(1000);

    for (const key of [img.id, img.id.slice(7), img.id.slice(7, 19), `${registry.host}/test/busybox:v1`, `${registry.host}/test/busybox@${busybox.manifestDigest}`]) {
      expect(store.resolve(key)?.id, key).to.equal(img.id);
    }
    expect(store.resolve(`${registry.host}/test/busybox:nope`)).to.equal(undefined);
    // The compressed layer and config are in the content store, verified.
    for (const d of [busybox.configDigest, ...busybox.layers.map((l) => l.digest)]) expect(sha256(fs.readFileSync(store.blobPath(d)))).to.equal(d);
  });

  it('pulls by digest (no tag) and then by a second tag, which joins the same image', async () => {
    const store = openStore('by-digest');
    const p = puller(store);
    const a = await p.pull(`${registry.host}/test/busybox@${busybox.manifestDigest}`);
    expect(a.repoTags).to.deep.equal([]);
    expect(a.repoDigests).to.deep.equal([`${registry.host}/test/busybox@${busybox.manifestDigest}`]);
    const b = await p.pull(`${registry.host}/test/busybox:v2`);
    expect(b.id).to.equal(a.id);
    expect(b.repoTags).to.deep.equal([`${registry.host}/test/busybox:v2`]);
    expect(store.list()).to.have.length(1);
  });

  it('fails clearly for a missing tag and a missing repository', async () => {
    const store = openStore('missing');
    const err = await puller(store).pull(`${registry.host}/test/busybox:nope`).catch((e: Error) => e);
    expect(err).to.be.instanceOf(RegistryError);
    expect((err as RegistryError).status).to.equal(404);
    expect((err as Error).message).to.contain('test/busybox').and.contain('not found');
    await storeIsEmpty(store);
  });

  it('resolves a short name through unqualified-search-registries, in order', async () => {
    const empty = await startRegistry();
    try {
      const store = openStore('short');
      const conf: RegistriesConf = { unqualifiedSearchRegistries: [empty.host, registry.host], registries: [] };
      const img = await puller(store, { registries: conf }).pull('test/busybox:v1');
      expect(img.repoTags).to.deep.equal([`${registry.host}/test/busybox:v1`]);
      expect(store.resolve('test/busybox:v1')?.id).to.equal(img.id);
      const err = await puller(store, { registries: conf }).pull('test/nothing').catch((e: Error) => e);
      expect((err as Error).message).to.contain(`${empty.host}/test/nothing`).and.contain(`${registry.host}/test/nothing`);
    } finally {
      await empty.stop();
    }
  });

  it('pulls through a mirror before the registry, and honors pull-from-mirror = "digest-only"', async () => {
    const store = openStore('mirror');
    const mk = (pullFromMirror: 'all' | 'digest-only'): RegistriesConf => ({
      unqualifiedSearchRegistries: [],
      // The registry itself is a closed port: only the mirror can deliver.
      registries: [{ prefix: 'mirrored.test', location: '127.0.0.1:1', insecure: true, blocked: false, mirrors: [{ location: `${registry.host}/test`, insecure: true, pullFromMirror }] }],
    });
    const img = await puller(store, { registries: mk('all') }).pull('mirrored.test/busybox:v1');
    expect(img.id).to.equal(busybox.configDigest);
    expect(img.repoTags).to.deep.equal(['mirrored.test/busybox:v1']);
    const err = await puller(store, { registries: mk('digest-only') }).pull('mirrored.test/busybox:v2').catch((e: Error) => e);
    expect((err as Error).message).to.contain('127.0.0.1:1');
    const byDigest = await puller(store, { registries: mk('digest-only') }).pull(`mirrored.test/busybox@${busybox.manifestDigest}`);
    expect(byDigest.id).to.equal(img.id);
  });

  it('refuses a blocked registry with a clear error', async () => {
    const store = openStore('blocked');
    const conf: RegistriesConf = { unqualifiedSearchRegistries: [], registries: [{ prefix: registry.host, location: registry.host, insecure: false, blocked: true, mirrors: [] }] };
    const err = await puller(store, { registries: conf }).pull(`${registry.host}/test/busybox:v1`).catch((e: Error) => e);
    expect((err as Error).message).to.match(/blocked/);
  });

  it('resolves an OCI index to linux/amd64, and lists the platforms offered when the host has none', async () => {
    const index = await busyboxIndex();
    await pushIndex(registry.url, 'test/multi', 'latest', index);
    const store = openStore('index');
    const img = await puller(store, { platform: { os: 'linux', architecture: 'amd64' } }).pull(`${registry.host}/test/multi`);
    expect(img.config.architecture).to.equal('amd64');
    expect(img.config.config?.Labels).to.deep.equal({ arch: 'amd64' });
    expect(img.repoDigests).to.deep.equal([`${registry.host}/test/multi@${index.indexDigest}`]);
    const arm = await puller(store, { platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }).pull(`${registry.host}/test/multi`);
    expect(arm.config.architecture).to.equal('arm64');
    const err = await puller(openStore('index-none'), { platform: { os: 'linux', architecture: 's390x' } }).pull(`${registry.host}/test/multi`).catch((e: Error) => e);
    expect(err).to.be.instanceOf(PullError);
    expect((err as Error).message).to.contain('no image for platform linux/s390x').and.contain('linux/amd64, linux/arm64/v8');
  });

  it('stores nothing when a blob digest does not match', async () => {
    const proxy = await startRegistryProxy(registry.url);
    try {
      proxy.corrupt.add(busybox.layers[0].digest);
      const store = openStore('corrupt');
      const err = await puller(store).pull(`${proxy.host}/test/busybox:v1`).catch((e: Error) => e);
      expect(err).to.be.instanceOf(PullError);
      expect((err as Error).message).to.contain('digest mismatch').and.contain(busybox.layers[0].digest);
      await storeIsEmpty(store);
      expect(fs.readdirSync(path.join(store.root, 'tmp')).flatMap((d) => fs.readdirSync(path.join(store.root, 'tmp', d)))).to.satisfy((names: string[]) =>
        names.every((n) => !fs.existsSync(path.join(store.root, 'tmp', n, 'blob'))),
      );
    } finally {
      await proxy.stop();
    }
  });

  it('gives whiteouts and opaque directories the right merged view under overlayfs', async () => {
    const image = await multiLayerImage();
    await pushImage(registry.url, 'test/layers', 'v1', image);
    const store = openStore('overlay');
    const img = await puller(store).pull(`${registry.host}/test/layers:v1`);
    const { linkDir, lowers } = store.layerLowerDirs(img);
    expect(lowers).to.have.length(3);
    const top = path.join(linkDir, lowers[0]);
    const wh = fs.lstatSync(path.join(top, 'data', 'a.txt'));
    expect(wh.isCharacterDevice()).to.equal(true);
    expect(wh.rdev).to.equal(0);
    expect(fs.existsSync(path.join(top, 'data', '.wh.a.txt'))).to.equal(false);
    const xattr = execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'trusted.overlay.opaque', path.join(top, 'opaque')]).toString();
    expect(xattr).to.equal('y');

    const mnt = fs.mkdtempSync(path.join(tmp, 'mnt-'));
    for (const d of ['upper', 'work', 'merged']) fs.mkdirSync(path.join(mnt, d));
    await run('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowers.join(':')},upperdir=${mnt}/upper,workdir=${mnt}/work`, `${mnt}/merged`], { cwd: linkDir });
    try {
      const merged = path.join(mnt, 'merged');
      expect(fs.readdirSync(path.join(merged, 'data')).sort()).to.deep.equal(['b.txt', 'c.txt']);
      expect(fs.readdirSync(path.join(merged, 'opaque'))).to.deep.equal(['new.txt']);
      expect(fs.readFileSync(path.join(merged, 'data', 'b.txt'), 'utf8')).to.equal('b from layer 2\n');
      expect(fs.existsSync(path.join(merged, 'bin', 'busybox'))).to.equal(true);
    } finally {
      await run('umount', [`${mnt}/merged`]);
    }
  });

  it('unpacks hard links, symlinks, devices, FIFOs, xattrs, long names and mtimes', async () => {
    const long = 'd'.repeat(120) + '/' + 'f'.repeat(150);
    const mtime = new Date('2021-05-06T07:08:09Z');
    const image = await buildImage({
      layers: [
        {
          files: [
            { type: 'file', path: 'etc/original', content: 'shared\n', mode: 0o4755, uid: 12, gid: 34, mtime },
            { type: 'hardlink', path: 'etc/hardlink', target: 'etc/original' },
            { type: 'symlink', path: 'etc/abs-link', target: '/etc/passwd' },
            { type: 'symlink', path: 'etc/rel-link', target: '../etc/original' },
            { type: 'chardev', path: 'dev/null', major: 1, minor: 3, mode: 0o666 },
            { type: 'blockdev', path: 'dev/loopx', major: 7, minor: 200 },
            { type: 'fifo', path: 'run/fifo', mode: 0o620 },
            { type: 'file', path: 'x/attr', content: 'a', xattrs: { 'user.peapod': 'hello' } },
            { type: 'file', path: long, content: 'long\n' },
          ],
        },
      ],
    });
    await pushImage(registry.url, 'test/special', 'v1', image);
    const store = openStore('special');
    const img = await puller(store).pull(`${registry.host}/test/special:v1`);
    const diff = path.join(store.linkDir, store.layerLowerDirs(img).lowers[0]);
    const orig = fs.lstatSync(path.join(diff, 'etc/original'));
    expect(fs.lstatSync(path.join(diff, 'etc/hardlink')).ino).to.equal(orig.ino);
    expect(orig.mode & 0o7777).to.equal(0o4755);
    expect([orig.uid, orig.gid]).to.deep.equal([12, 34]);
    expect(orig.mtime.getTime()).to.equal(mtime.getTime());
    expect(fs.readlinkSync(path.join(diff, 'etc/abs-link'))).to.equal('/etc/passwd');
    expect(fs.readlinkSync(path.join(diff, 'etc/rel-link'))).to.equal('../etc/original');
    const nul = fs.lstatSync(path.join(diff, 'dev/null'));
    expect(nul.isCharacterDevice()).to.equal(true);
    expect(nul.rdev).to.equal((1 << 8) | 3);
    expect(nul.mode & 0o777).to.equal(0o666);
    expect(fs.lstatSync(path.join(diff, 'dev/loopx')).isBlockDevice()).to.equal(true);
    expect(fs.lstatSync(path.join(diff, 'run/fifo')).isFIFO()).to.equal(true);
    expect(execFileSync('getfattr', ['--absolute-names', '--only-values', '-n', 'user.peapod', path.join(diff, 'x/attr')]).toString()).to.equal('hello');
    expect(fs.readFileSync(path.join(diff, long), 'utf8')).to.equal('long\n');
  });

  describe('refuses layer entries that escape the layer, leaving the host untouched', () => {
    const hostDir = path.join(os.tmpdir(), `peapod-escape-target-${process.pid}`);
    before(() => {
      fs.mkdirSync(hostDir, { recursive: true });
      fs.writeFileSync(path.join(hostDir, 'victim'), 'original\n');
    });
    after(() => fs.rmSync(hostDir, { recursive: true, force: true }));

    const cases: { name: string; files: () => Parameters<typeof buildImage>[0]['layers'][0]['files']; message: RegExp }[] = [
      { name: 'a ../ name', files: () => [{ type: 'raw', header: { name: '../../../../../../../../..' + hostDir + '/victim', type: 'file', size: 4 }, content: Buffer.from('evil') }], message: /escapes the layer/ },
      {
        name: 'a file written through a symlink',
        files: () => [
          { type: 'raw', header: { name: 'escape', type: 'symlink', linkname: hostDir } },
          { type: 'raw', header: { name: 'escape/victim', type: 'file', size: 4 }, content: Buffer.from('evil') },
        ],
        message: /through the symlink "escape"/,
      },
      {
        name: 'a whiteout of ".." at the layer root',
        files: () => [{ type: 'raw', header: { name: '.wh...', type: 'file', size: 0 } }],
        message: /whiteout without a valid name/,
      },
      {
        name: 'a hard link to a host file',
        files: () => [{ type: 'raw', header: { name: 'hl', type: 'link', linkname: '../../../../../../..' + hostDir + '/victim' } }],
        message: /escapes the layer/,
      },
    ];
    it('normalizes a leading "/" and "a/../b" into the layer root as containerd does, and still refuses a ".." above it', async () => {
      const image = await buildImage({
        layers: [
          {
            files: [
              { type: 'raw', header: { name: hostDir + '/victim', type: 'file', size: 4 }, content: Buffer.from('abs\n') },
              { type: 'raw', header: { name: 'a/../b', type: 'file', size: 2 }, content: Buffer.from('b\n') },
              { type: 'raw', header: { name: './c/./d/../e', type: 'file', size: 2 }, content: Buffer.from('e\n') },
            ],
          },
        ],
      });
      await pushImage(registry.url, 'test/normalize', 'v1', image);
      const store = openStore('normalize');
      const img = await puller(store).pull(`${registry.host}/test/normalize:v1`);
      const diff = path.join(store.linkDir, store.layerLowerDirs(img).lowers[0]);
      expect(fs.readFileSync(path.join(diff, hostDir, 'victim'), 'utf8')).to.equal('abs\n');
      expect(fs.readFileSync(path.join(diff, 'b'), 'utf8')).to.equal('b\n');
      expect(fs.readFileSync(path.join(diff, 'c', 'e'), 'utf8')).to.equal('e\n');
      expect(fs.existsSync(path.join(diff, 'a'))).to.equal(false);
      expect(fs.readFileSync(path.join(hostDir, 'victim'), 'utf8')).to.equal('original\n');
    });

    for (const c of cases) {
      it(`refuses ${c.name}`, async () => {
        const image = await buildImage({ layers: [{ files: c.files() }] });
        const repo = `test/escape-${cases.indexOf(c)}`;
        await pushImage(registry.url, repo, 'v1', image);
        const store = openStore(`escape-${cases.indexOf(c)}`);
        const err = await puller(store).pull(`${registry.host}/${repo}:v1`).catch((e: Error) => e);
        expect(err).to.be.instanceOf(PullError);
        expect((err as Error).message).to.match(c.message);
        expect(fs.readdirSync(hostDir)).to.deep.equal(['victim']);
        expect(fs.readFileSync(path.join(hostDir, 'victim'), 'utf8')).to.equal('original\n');
        await storeIsEmpty(store);
      });
    }
  });

  it('pulls zstd and uncompressed layers', async () => {
    const image = await buildImage({
      layers: [
        { files: busyboxFiles(), compression: 'zstd' },
        { files: [{ type: 'file', path: 'plain.txt', content: 'uncompressed\n' }], compression: 'none' },
      ],
    });
    expect(image.layers.map((l) => l.mediaType)).to.deep.equal(['application/vnd.oci.image.layer.v1.tar+zstd', 'application/vnd.oci.image.layer.v1.tar']);
    await pushImage(registry.url, 'test/zstd', 'v1', image);
    const store = openStore('zstd');
    const img = await puller(store).pull(`${registry.host}/test/zstd:v1`);
    const [top, bottom] = store.layerLowerDirs(img).lowers.map((l) => path.join(store.linkDir, l));
    expect(fs.readFileSync(path.join(bottom, 'bin', 'busybox')).equals(fs.readFileSync('/bin/busybox'))).to.equal(true);
    expect(fs.readFileSync(path.join(top, 'plain.txt'), 'utf8')).to.equal('uncompressed\n');
  });

  it('refuses an unknown layer media type before downloading anything', async () => {
    const image = await busyboxImage();
    const manifest = JSON.parse(image.manifest.toString()) as { layers: { mediaType: string }[] };
    manifest.layers[0].mediaType = 'application/x-weird';
    const body = Buffer.from(JSON.stringify(manifest));
    await pushImage(registry.url, 'test/weird', 'v1', { ...image, manifest: body, manifestDigest: sha256(body) });
    const store = openStore('weird');
    const err = await puller(store).pull(`${registry.host}/test/weird:v1`).catch((e: Error) => e);
    expect((err as Error).message).to.contain('unsupported media type "application/x-weird"');
    expect(store.list()).to.have.length(0);
  });

  it('removes an image with all its tags, and its layers and blobs unless another image uses them', async () => {
    const store = openStore('remove');
    const p = puller(store);
    const a = await p.pull(`${registry.host}/test/busybox:v1`);
    await p.pull(`${registry.host}/test/busybox:v2`);
    const layered = await p.pull(`${registry.host}/test/layers:v1`);
    expect(store.resolve(`${registry.host}/test/busybox:v1`)!.repoTags).to.have.length(2);
    const busyLayerDir = path.join(store.linkDir, store.layerLowerDirs(a).lowers[0]);
    const layeredDirs = store.layerLowerDirs(layered).lowers.map((l) => fs.realpathSync(path.join(store.linkDir, l)));
    expect(store.remove(store.resolve(`${registry.host}/test/busybox:v2`)!.id)).to.equal(true);
    expect(store.resolve(`${registry.host}/test/busybox:v1`)).to.equal(undefined);
    expect(store.resolve(a.id)).to.equal(undefined);
    // busybox's layer is also the bottom layer of test/layers: it stays; the config blob goes.
    expect(fs.existsSync(busyLayerDir)).to.equal(true);
    expect(fs.realpathSync(busyLayerDir)).to.equal(layeredDirs[layeredDirs.length - 1]);
    expect(fs.existsSync(store.blobPath(a.id))).to.equal(false);
    for (const d of layeredDirs) expect(fs.existsSync(d)).to.equal(true);
    expect(store.remove(a.id)).to.equal(false);
    store.remove(layered.id);
    await storeIsEmpty(store);
  });

  it('takes removed layers out of place at once and deletes their files in the background', async () => {
    const store = openStore('remove-background');
    const img = await puller(store).pull(`${registry.host}/test/busybox:v1`);
    const diff = fs.realpathSync(path.join(store.linkDir, store.layerLowerDirs(img).lowers[0]));
    expect(store.remove(img.id)).to.equal(true);
    expect(fs.existsSync(diff)).to.equal(false);
    expect(fs.existsSync(store.blobPath(img.id))).to.equal(false);
    await storeIsEmpty(store);
    expect(fs.readdirSync(path.join(store.root, 'tmp')).filter((n) => n.includes('trash'))).to.deep.equal([]);
  });

  it('reads an image in one query with its config parsed once: every read shares one frozen config', async () => {
    const store = openStore('reads');
    const img = await puller(store).pull(`${registry.host}/test/busybox:v1`);
    const byTag = store.resolve(`${registry.host}/test/busybox:v1`)!;
    const [listed] = store.list();
    expect(byTag.config).to.equal(img.config);
    expect(listed.config).to.equal(img.config);
    expect(Object.isFrozen(img.config) && Object.isFrozen(img.config.config) && Object.isFrozen(img.config.config?.Entrypoint)).to.equal(true);
    expect(listed).to.deep.equal(byTag);
    // A second store (another process) reads the same rows.
    expect(ImageStore.open(store.root).get(img.id)).to.deep.include({ id: img.id, repoTags: img.repoTags, chainIds: img.chainIds, size: img.size });
  });

  it('walks disk usage in the background and follows pulls and removals', async () => {
    const store = openStore('usage');
    const empty = await store.usage();
    const img = await puller(store).pull(`${registry.host}/test/busybox:v1`);
    const full = await store.usage();
    expect(full.bytes - empty.bytes).to.be.greaterThan(fs.statSync('/bin/busybox').size);
    expect(full.inodes - empty.inodes).to.be.greaterThan(200); // an applet symlink each
    expect(await store.usage()).to.deep.equal(full); // cached
    store.remove(img.id);
    await store.settled();
    expect((await store.usage()).bytes).to.be.below(full.bytes - fs.statSync('/bin/busybox').size);
  });

  it('reports progress: resolved, per layer waiting, downloading (bounded), unpacking and done, then done; exists when stored', async () => {
    const image = await buildImage({ layers: [{ files: busyboxFiles() }, { files: randomFiles(2 << 20, 'progress'), gzipLevel: 0 }] });
    await pushImage(registry.url, 'test/progress', 'v1', image);
    await pushImage(registry.url, 'test/progress', 'v2', image);
    const store = openStore('progress');
    const events: PullProgress[] = [];
    const img = await puller(store).pull(`${registry.host}/test/progress:v1`, { onProgress: (e) => events.push(e) });
    expect(events[0]).to.deep.equal({
      type: 'resolved',
      reference: `${registry.host}/test/progress:v1`,
      manifestDigest: image.manifestDigest,
      layers: image.layers.map((l) => ({ digest: l.digest, size: l.size })),
    });
    expect(events[events.length - 1]).to.deep.equal({ type: 'done', imageId: img.id });
    for (const l of image.layers) {
      const mine = events.filter((e): e is Extract<PullProgress, { type: 'layer' }> => e.type === 'layer' && e.digest === l.digest);
      expect(mine.every((e) => e.size === l.size)).to.equal(true);
      expect(mine.map((e) => e.state).filter((s, i, a) => s !== a[i - 1])).to.deep.equal(['waiting', 'downloading', 'unpacking', 'done']);
      const fetched = mine.filter((e) => e.state === 'downloading').map((e) => e.fetched);
      expect(fetched[0]).to.equal(0);
      expect(fetched[fetched.length - 1]).to.equal(l.size);
      expect(fetched.every((f, i) => i === 0 || f - fetched[i - 1] >= 64 << 10 || f === l.size)).to.equal(true);
      expect(fetched.length).to.be.at.most(Math.ceil(l.size / (64 << 10)) + 2);
    }
    const again: PullProgress[] = [];
    await puller(store).pull(`${registry.host}/test/progress:v2`, {
      onProgress: (e) => {
        again.push(e);
        throw new Error('a failing listener does not fail the pull');
      },
    });
    const states = again.filter((e) => e.type === 'layer').map((e) => `${(e as { digest: string }).digest}:${(e as { state: string }).state}`);
    expect(states).to.deep.equal([...image.layers.map((l) => `${l.digest}:waiting`), ...image.layers.map((l) => `${l.digest}:exists`)]);
    expect(again[again.length - 1]).to.deep.equal({ type: 'done', imageId: img.id });
  });

  it('fetches each blob once when two processes pull the same image at the same time', async () => {
    const image = await multiLayerImage({ Labels: { case: 'two-processes' } });
    await pushImage(registry.url, 'test/twoproc', 'v1', image);
    const proxy = await startRegistryProxy(registry.url);
    try {
      const root = path.join(tmp, 'twoproc');
      const script = path.resolve(__dirname, '..', 'fixtures', 'pull-process.js');
      const ref = `${proxy.host}/test/twoproc:v1`;
      const results = await Promise.all([run(process.execPath, [script, root, ref]), run(process.execPath, [script, root, ref])]);
      expect(results.map((r) => r.stdout.trim())).to.deep.equal([image.configDigest, image.configDigest]);
      for (const d of [image.configDigest, ...image.layers.map((l) => l.digest)]) expect(proxy.blobGets(d), d).to.equal(1);
      const store = openStore('twoproc');
      expect(store.list().map((i) => i.id)).to.deep.equal([image.configDigest]);
    } finally {
      await proxy.stop();
    }
  });

  it('fetches a layer once for concurrent pulls in one process and for a layer shared by two images', async () => {
    const proxy = await startRegistryProxy(registry.url);
    try {
      const store = openStore('inproc');
      const p = puller(store);
      const [x, y] = await Promise.all([p.pull(`${proxy.host}/test/busybox:v1`), p.pull(`${proxy.host}/test/busybox:v1`)]);
      expect(x.id).to.equal(y.id);
      await p.pull(`${proxy.host}/test/layers:v1`); // shares busybox's layer blob
      expect(proxy.blobGets(busybox.layers[0].digest)).to.equal(1);
    } finally {
      await proxy.stop();
    }
  });

  it('retries blob GETs answered 503, and drops Authorization on a redirect to another host', async () => {
    const secured = await startRegistry({ htpasswd: { alice: 's3cret' } });
    const front = await startRegistryProxy(secured.url);
    const other = await startRegistryProxy(secured.url);
    try {
      const basic = { authorization: 'Basic ' + Buffer.from('alice:s3cret').toString('base64') };
      await pushImage(secured.url, 'test/redir', 'v1', busybox, { headers: basic });
      front.failBlobGets = 2;
      const flaky = await puller(openStore('flaky')).pull(`${front.host}/test/redir:v1`, { credentials: { username: 'alice', password: 's3cret' } });
      expect(flaky.id).to.equal(busybox.configDigest);
      expect(front.failBlobGets).to.equal(0);

      // "other" is another host (port): the credentials must not follow the redirect,
      // so the registry behind it refuses the blob GET.
      front.redirectBlobsTo = other.url;
      const err = await puller(openStore('redirect')).pull(`${front.host}/test/redir:v1`, { credentials: { username: 'alice', password: 's3cret' } }).catch((e: Error) => e);
      expect((err as RegistryError).status).to.equal(401);
      expect(other.requests.length).to.be.greaterThan(0);
      expect(other.requests.every((r) => r.authorization === undefined)).to.equal(true);
      expect(front.requests.some((r) => r.authorization?.startsWith('Basic '))).to.equal(true);
    } finally {
      await front.stop();
      await other.stop();
      await secured.stop();
    }
  });

  it('pulls Docker schema 2 images through a Docker manifest list', async () => {
    const amd = await buildImage({ layers: [{ files: busyboxFiles() }], config: { architecture: 'amd64', Labels: { fmt: 'docker' } }, docker: true });
    const list = buildIndex([amd], { docker: true });
    expect(amd.manifestMediaType).to.equal('application/vnd.docker.distribution.manifest.v2+json');
    await pushIndex(registry.url, 'test/docker', 'v1', list);
    const img = await puller(openStore('docker'), { platform: { os: 'linux', architecture: 'amd64' } }).pull(`${registry.host}/test/docker:v1`);
    expect(img.id).to.equal(amd.configDigest);
    expect(img.config.config?.Labels).to.deep.equal({ fmt: 'docker' });
  });

  it('leaves nothing visible after a pull process is killed mid-download, and cleans its leftovers at the next open', async () => {
    const image = await multiLayerImage({ Labels: { case: 'killed' } });
    await pushImage(registry.url, 'test/killed', 'v1', image);
    const proxy = await startRegistryProxy(registry.url);
    const root = path.join(tmp, 'killed');
    try {
      proxy.stall.add(image.layers[2].digest);
      const script = path.resolve(__dirname, '..', 'fixtures', 'pull-process.js');
      const child = spawn(process.execPath, [script, root, `${proxy.host}/test/killed:v1`], { stdio: 'ignore' });
      // Wait until the stalled layer's download has started writing its temp file.
      const deadline = Date.now() + 20_000;
      const tmpFiles = (): string[] => (fs.existsSync(path.join(root, 'tmp')) ? fs.readdirSync(path.join(root, 'tmp'), { recursive: true }).map(String) : []);
      while (!(proxy.blobGets(image.layers[2].digest) > 0 && tmpFiles().some((f) => f.endsWith('blob')))) {
        if (Date.now() > deadline) throw new Error('the pull did not reach the stalled layer');
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const store = openStore('killed');
      expect(store.list()).to.deep.equal([]);
      expect(store.resolve(`${proxy.host}/test/killed:v1`)).to.equal(undefined);
      await storeIsEmpty(store);
      expect(fs.readdirSync(path.join(root, 'tmp'))).to.deep.equal([]);
    } finally {
      await proxy.stop();
    }
  });

  it('refuses manifests over 4 MiB, schema 1 manifests, and a manifest whose digest differs from the one asked for', async () => {
    const big = Buffer.alloc(5 << 20, 0x20);
    const schema1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x/y', tag: 'v1', fsLayers: [] }));
    const server = http.createServer((req, res) => {
      const url = req.url ?? '';
      if (url === '/v2/') res.writeHead(200).end('{}');
      else if (url.endsWith('/manifests/big')) res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }).end(big);
      else if (url.endsWith('/manifests/old')) res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' }).end(schema1);
      else if (url.includes('/manifests/sha256:')) res.writeHead(200, { 'content-type': busybox.manifestMediaType }).end(busybox.manifest.subarray(0, -1));
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const p = puller(openStore('fake'));
      expect(((await p.pull(`${host}/x/y:big`).catch((e: Error) => e)) as Error).message).to.contain('over the 4194304-byte limit');
      expect(((await p.pull(`${host}/x/y:old`).catch((e: Error) => e)) as Error).message).to.contain('schema 1 is not supported');
      expect(((await p.pull(`${host}/x/y@${busybox.manifestDigest}`).catch((e: Error) => e)) as Error).message).to.contain('manifest digest mismatch');
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });

  it('cleans what a crashed pull left at open', async () => {
    const root = path.join(tmp, 'crash');
    const s1 = ImageStore.open(root);
    s1.close();
    // a dead process's temp dir, an unrecorded layer dir and blob
    fs.mkdirSync(path.join(root, 'tmp', '999999-dead', 'x'), { recursive: true });
    fs.mkdirSync(path.join(root, 'overlay', 'ab'.repeat(32), 'diff'), { recursive: true });
    fs.writeFileSync(path.join(root, 'blobs', 'sha256', 'cd'.repeat(32)), 'half');
    const s2 = openStore('crash');
    await storeIsEmpty(s2);
    expect(fs.readdirSync(path.join(root, 'tmp'))).to.deep.equal([]);
  });

  describe('registry authentication', () => {
    it('uses Basic credentials with an htpasswd registry', async () => {
      const secured = await startRegistry({ htpasswd: { alice: 's3cret' } });
      try {
        const basic = { authorization: 'Basic ' + Buffer.from('alice:s3cret').toString('base64') };
        await pushImage(secured.url, 'test/private', 'v1', busybox, { headers: basic });
        const ref = `${secured.host}/test/private:v1`;
        const anon = await puller(openStore('basic-anon')).pull(ref).catch((e: Error) => e);
        expect(anon).to.be.instanceOf(RegistryError);
        expect((anon as RegistryError).status).to.equal(401);
        const wrong = await puller(openStore('basic-wrong')).pull(ref, { credentials: { username: 'alice', password: 'nope' } }).catch((e: Error) => e);
        expect((wrong as RegistryError).status).to.equal(401);
        const ok = await puller(openStore('basic-ok')).pull(ref, { credentials: { username: 'alice', password: 's3cret' } });
        expect(ok.id).to.equal(busybox.configDigest);
        const ok2 = await puller(openStore('basic-auth-field')).pull(ref, { credentials: { auth: Buffer.from('alice:s3cret').toString('base64') } });
        expect(ok2.id).to.equal(busybox.configDigest);
      } finally {
        await secured.stop();
      }
    });

    it('fetches a Bearer token from the realm (with credentials) and pulls with it', async () => {
      let tokens: TokenServer | undefined;
      let secured: TestRegistry | undefined;
      try {
        tokens = await startTokenServer({ users: { bob: 'pw' }, refreshTokens: { 'refresh-me': 'bob-refresh' } });
        secured = await startRegistry({ token: { realm: tokens.realm, service: tokens.service, issuer: tokens.issuer, rootCertBundle: tokens.certFile } });
        const bearer = { authorization: `Bearer ${tokens.issue('test/tok', ['pull', 'push'])}` };
        await pushImage(secured.url, 'test/tok', 'v1', busybox, { headers: bearer });
        const ref = `${secured.host}/test/tok:v1`;
        const anon = await puller(openStore('tok-anon')).pull(ref).catch((e: Error) => e);
        expect((anon as Error).message).to.contain('token server').and.contain('401');
        const img = await puller(openStore('tok-ok')).pull(ref, { credentials: { username: 'bob', password: 'pw' } });
        expect(img.id).to.equal(busybox.configDigest);
        expect(tokens.requests.some((r) => r.user === 'bob' && r.scope === 'repository:test/tok:pull')).to.equal(true);
        const viaIdentity = await puller(openStore('tok-identity')).pull(ref, { credentials: { identityToken: 'refresh-me' } });
        expect(viaIdentity.id).to.equal(busybox.configDigest);
        expect(tokens.requests.some((r) => r.user === 'bob-refresh')).to.equal(true);
        const viaToken = await puller(openStore('tok-registry-token')).pull(ref, { credentials: { registryToken: tokens.issue('test/tok', ['pull']) } });
        expect(viaToken.id).to.equal(busybox.configDigest);
      } finally {
        await secured?.stop();
        await tokens?.stop();
      }
    });
  });
});
