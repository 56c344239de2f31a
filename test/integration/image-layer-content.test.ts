import { expect } from 'chai';
import { execFile, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { ImagePuller, PullError } from '../../src/image-service/puller';
import { ImageStore } from '../../src/image-service/store/image-store';
import { BuiltImage, buildImage, busyboxFiles, layerTar, LayerEntry, pushImage, randomFiles, sha256 } from '../fixtures/image-builder';
import { startRegistryProxy } from '../fixtures/registry-proxy';
import { startRegistry, TestRegistry } from './harness/registry';

const run = promisify(execFile);
const NO_REGISTRIES = { unqualifiedSearchRegistries: [], registries: [] };
const PULL_PROCESS = path.resolve(__dirname, '..', 'fixtures', 'pull-process.js');

function raw(name: string, type: 'file' | 'directory' | 'symlink', content?: string, linkname?: string): LayerEntry {
  const c = content !== undefined ? Buffer.from(content) : undefined;
  return { type: 'raw', header: { name, type, size: c?.length ?? 0, linkname, mode: type === 'directory' ? 0o755 : 0o644, mtime: new Date('2024-01-01T00:00:00Z') }, content: c };
}

describe('image layers: content, semantics and durability of unpacked layers', function () {
  this.timeout(90_000);
  let registry: TestRegistry;
  let tmp: string;
  const stores: ImageStore[] = [];

  function openStore(name: string): ImageStore {
    const s = ImageStore.open(path.join(tmp, name));
    stores.push(s);
    return s;
  }
  async function pullInto(name: string, repo: string, image: BuiltImage): Promise<{ store: ImageStore; lowers: string[] }> {
    await pushImage(registry.url, repo, 'v1', image);
    const store = openStore(name);
    const img = await new ImagePuller(store, { registries: NO_REGISTRIES }).pull(`${registry.host}/${repo}:v1`);
    return { store, lowers: store.layerLowerDirs(img).lowers.map((l) => path.join(store.linkDir, l)) };
  }
  /** Mounts the image's layers read-only with overlayfs and runs `fn` on the merged view. */
  async function merged<T>(lowers: string[], fn: (dir: string) => T): Promise<T> {
    const mnt = fs.mkdtempSync(path.join(tmp, 'mnt-'));
    await run('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lowers.join(':')}`, mnt]);
    try {
      return fn(mnt);
    } finally {
      await run('umount', [mnt]);
    }
  }

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-layer-content-'));
    registry = await startRegistry();
  });
  after(async () => {
    for (const s of stores) s.close();
    await registry?.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('keeps binary extended attributes byte for byte: security.capability stays cap_setuid+ep', async () => {
    const cap = Buffer.from('0100000280000000000000000000000000000000', 'hex');
    const image = await buildImage({
      layers: [{ files: [{ type: 'file', path: 'bin/setuid-tool', content: 'x', mode: 0o755, xattrs: { 'security.capability': cap, 'user.raw': Buffer.from([0x00, 0xff, 0xfe, 0x80]) } }] }],
    });
    const { lowers } = await pullInto('xattrs', 'test/xattrs', image);
    const file = path.join(lowers[0], 'bin/setuid-tool');
    const dump = execFileSync('getfattr', ['--absolute-names', '-d', '-m', '-', '-e', 'hex', file]).toString();
    expect(dump).to.contain(`security.capability=0x${cap.toString('hex')}`);
    expect(dump).to.contain('user.raw=0x00fffe80');
    expect(execFileSync('getcap', [file]).toString().trim()).to.match(/cap_setuid[=+]ep$/);
  });

  it('lets a later entry of the same layer replace a directory by a file and a file by a directory', async () => {
    const image = await buildImage({
      layers: [
        {
          files: [
            raw('d/', 'directory'),
            raw('d/sub/', 'directory'),
            raw('d/sub/f', 'file', 'under d'),
            raw('d', 'file', 'd is a file now\n'),
            raw('e', 'file', 'e was a file'),
            raw('e/', 'directory'),
            raw('e/g', 'file', 'g\n'),
          ],
        },
      ],
    });
    const { lowers } = await pullInto('replace', 'test/replace', image);
    expect(fs.readFileSync(path.join(lowers[0], 'd'), 'utf8')).to.equal('d is a file now\n');
    expect(fs.readFileSync(path.join(lowers[0], 'e', 'g'), 'utf8')).to.equal('g\n');
  });

  it('applies whiteouts to lower layers only, never to entries of their own layer (merged overlayfs view)', async () => {
    const image = await buildImage({
      layers: [
        { files: [raw('keep/a', 'file', 'a of layer 1'), raw('dir/old', 'file', 'old'), raw('gone/x', 'file', 'x')] },
        {
          files: [
            raw('keep/a', 'file', 'a of layer 2'),
            raw('keep/.wh.a', 'file'),
            raw('dir/', 'directory'),
            raw('dir/new', 'file', 'new'),
            raw('.wh.dir', 'file'),
            raw('.wh.gone', 'file'),
          ],
        },
      ],
    });
    const { lowers } = await pullInto('whiteouts', 'test/whiteouts', image);
    await merged(lowers, (m) => {
      expect(fs.readFileSync(path.join(m, 'keep', 'a'), 'utf8')).to.equal('a of layer 2');
      expect(fs.readdirSync(path.join(m, 'dir'))).to.deep.equal(['new']);
      expect(fs.existsSync(path.join(m, 'gone'))).to.equal(false);
    });
  });

  it('makes a layer durable (syncfs) before it is moved into place, and a blob (fsync) before it is', async () => {
    const image = await buildImage({ layers: [{ files: busyboxFiles() }, { files: randomFiles(1 << 20, 'durable') }] });
    await pushImage(registry.url, 'test/durable', 'v1', image);
    const root = path.join(tmp, 'durable');
    const trace = path.join(tmp, 'durable.strace');
    await run('strace', ['-f', '-qq', '-y', '-s', '4096', '-e', 'trace=syncfs,fsync,rename,execve', '-o', trace, process.execPath, PULL_PROCESS, root, `${registry.host}/test/durable:v1`]);
    // Completed calls in order: "<pid> name(args) = 0", or an unfinished line completed by "<... name resumed>".
    const started = new Map<string, string>();
    const calls: { pid: string; call: string }[] = [];
    for (const line of fs.readFileSync(trace, 'utf8').split('\n')) {
      const m = /^(\d+) +(.*)$/.exec(line); // strace pads short pids
      if (!m) continue;
      const pid = m[1];
      const rest = m[2].replace(/\)\s+= /, ') = '); // strace pads results to a column
      if (rest.endsWith(' <unfinished ...>')) started.set(pid, rest.slice(0, -' <unfinished ...>'.length));
      else if (rest.startsWith('<... ')) calls.push({ pid, call: (started.get(pid) ?? '') + rest.replace(/^<\.\.\. \w+ resumed>/, '') });
      else calls.push({ pid, call: rest });
    }
    const syncPids = new Map<string, string>(); // pid of `sync -f DIR` → DIR
    const argv = fs.readFileSync(trace, 'utf8').matchAll(/^(\d+) +execve\("[^"]*sync", \["sync", "-f", "([^"]+)"\]/gm);
    for (const [, pid, dir] of argv) syncPids.set(pid, dir);
    const layerRenames = calls.map((c, i) => ({ i, m: /^rename\("([^"]+)\/layer", "[^"]+\/overlay\/[0-9a-f]{64}"\) = 0/.exec(c.call) })).filter((x) => x.m);
    expect(layerRenames).to.have.length(2);
    for (const { i, m } of layerRenames) {
      const job = m![1];
      // syncfs by the addon in the worker thread (`-y` names its fd's directory), or by a `sync -f` child without the addon.
      const synced = calls.slice(0, i).some((c) => /^syncfs\(.*\) = 0/.test(c.call) && (c.call.includes(`<${job}/layer/diff>`) || syncPids.get(c.pid) === `${job}/layer/diff`));
      expect(synced, `syncfs of ${job} before its rename`).to.equal(true);
    }
    const blobRenames = calls.map((c, i) => ({ i, m: /^rename\("([^"]+\/blob)", "[^"]+\/blobs\/sha256\/[0-9a-f]{64}"\) = 0/.exec(c.call) })).filter((x) => x.m);
    expect(blobRenames.length).to.be.at.least(3); // manifest, config, layers
    for (const { i, m } of blobRenames) {
      expect(calls.slice(0, i).some((c) => c.call.startsWith(`fsync(`) && c.call.includes(`<${m![1]}>`) && c.call.endsWith('= 0')), `fsync of ${m![1]}`).to.equal(true);
    }
  });

  it('never records a layer whose content ends half-way, and leaves nothing behind', async () => {
    const full = await layerTar(randomFiles(2 << 20, 'half'));
    const cut = zlib.gzipSync(full.subarray(0, 1 << 20), { level: 0 });
    const good = await buildImage({ layers: [{ files: busyboxFiles() }] });
    // A layer blob that is a valid gzip of half a tar: its digest is right, its content is cut.
    const config = JSON.parse(good.config.toString()) as { rootfs: { diff_ids: string[] } };
    config.rootfs.diff_ids.push(sha256(full.subarray(0, 1 << 20)));
    const configBuf = Buffer.from(JSON.stringify(config));
    const layers = [...good.layers, { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(cut), size: cut.length }];
    const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: good.manifestMediaType, config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(configBuf), size: configBuf.length }, layers }));
    const blobs = new Map(good.blobs);
    blobs.set(sha256(configBuf), configBuf);
    blobs.set(sha256(cut), cut);
    await pushImage(registry.url, 'test/half', 'v1', { ...good, manifest, manifestDigest: sha256(manifest), config: configBuf, configDigest: sha256(configBuf), layers, blobs });
    const store = openStore('half');
    const err = await new ImagePuller(store, { registries: NO_REGISTRIES }).pull(`${registry.host}/test/half:v1`).catch((e: Error) => e);
    expect(err).to.be.instanceOf(PullError);
    expect((err as Error).message).to.contain(sha256(cut)).and.match(/truncated/);
    await store.settled();
    expect(store.db.prepare('SELECT COUNT(*) AS n FROM layers').get()).to.deep.equal({ n: 0 });
    expect(fs.readdirSync(path.join(store.root, 'overlay'))).to.deep.equal(['l']);
    expect(fs.readdirSync(path.join(store.root, 'tmp')).flatMap((d) => fs.readdirSync(path.join(store.root, 'tmp', d)))).to.deep.equal([]);
  });

  it('never records a layer whose pull process was killed while unpacking it', async () => {
    const image = await buildImage({ layers: [{ files: randomFiles(8 << 20, 'killed-unpack'), gzipLevel: 0 }] });
    await pushImage(registry.url, 'test/killed-unpack', 'v1', image);
    const proxy = await startRegistryProxy(registry.url);
    const root = path.join(tmp, 'killed-unpack');
    try {
      proxy.stall.add(image.layers[0].digest); // half the blob, then nothing
      const child = spawn(process.execPath, [PULL_PROCESS, root, `${proxy.host}/test/killed-unpack:v1`], { stdio: 'ignore' });
      // Wait until files of the layer are being written in its temp dir.
      const deadline = Date.now() + 30_000;
      const unpacked = (): boolean => {
        const t = path.join(root, 'tmp');
        return fs.existsSync(t) && fs.readdirSync(t, { recursive: true }).map(String).some((f) => /\/layer\/diff\/data\/.+\.bin$/.test(f));
      };
      while (!unpacked()) {
        if (Date.now() > deadline) throw new Error('the pull never started unpacking');
        await new Promise((r) => setTimeout(r, 50));
      }
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      const store = openStore('killed-unpack');
      await store.settled();
      expect(store.list()).to.deep.equal([]);
      expect(store.db.prepare('SELECT COUNT(*) AS n FROM layers').get()).to.deep.equal({ n: 0 });
      expect(fs.readdirSync(path.join(store.root, 'overlay'))).to.deep.equal(['l']);
      expect(fs.readdirSync(path.join(store.root, 'tmp'))).to.deep.equal([]);
    } finally {
      await proxy.stop();
    }
  });
});
