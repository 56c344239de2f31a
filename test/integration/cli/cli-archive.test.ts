import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { BuiltImage, layerTar, multiLayerImage, pushImage, sha256, TarHeader } from '../../fixtures/image-builder';
import { startRegistry, TestRegistry } from '../harness/registry';
import { CliEnv, makeCliEnv } from './cli-harness';

/** A tar of the given entries (files as buffers, or raw headers for hostile archives). */
async function tarOf(entries: { header: TarHeader; content?: Buffer }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve) => pack.on('data', (c: unknown) => chunks.push(c as Buffer)).on('end', () => resolve()));
  for (const e of entries) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (e.content) pack.entry({ ...e.header, size: e.content.length }, e.content, cb);
      else pack.entry(e.header, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

const file = (name: string, content: Buffer | string): { header: TarHeader; content: Buffer } => ({ header: { name, type: 'file', mode: 0o644 }, content: Buffer.from(content) });

/** A docker-archive as `docker save` (legacy layout) writes it: uncompressed layer tars, symlinked per layer dir. */
async function dockerArchive(img: BuiltImage, repoTag: string): Promise<Buffer> {
  const layers: { header: TarHeader; content?: Buffer }[] = [];
  const names: string[] = [];
  for (let i = 0; i < img.layers.length; i++) {
    const raw = zlib.gunzipSync(img.blobs.get(img.layers[i].digest)!);
    expect(sha256(raw)).to.equal(img.diffIds[i]);
    const flat = `${img.diffIds[i].slice(7)}.tar`;
    layers.push(file(flat, raw));
    layers.push({ header: { name: `layer${i}/layer.tar`, type: 'symlink', linkname: `../${flat}` } });
    names.push(`layer${i}/layer.tar`);
  }
  return tarOf([
    ...layers,
    file(`${img.configDigest.slice(7)}.json`, img.config),
    file('manifest.json', JSON.stringify([{ Config: `${img.configDigest.slice(7)}.json`, RepoTags: [repoTag], Layers: names }])),
  ]);
}

describe('peapod CLI: save and load (oci-archive, docker-archive), bounded and verified', function () {
  this.timeout(120_000);
  let registry: TestRegistry;
  let env: CliEnv;
  let multi: BuiltImage;
  let ref: string;

  before(async () => {
    registry = await startRegistry();
    multi = await multiLayerImage();
    await pushImage(registry.url, 'test/multi', 'v1', multi);
    ref = `${registry.host}/test/multi:v1`;
    env = makeCliEnv();
    expect((await env.run(['pull', '-q', ref])).code).to.equal(0);
  });
  after(async () => {
    env?.cleanup();
    await registry?.stop();
  });

  const storeIsEmpty = (): void => {
    const storage = path.join(env.root, 'storage');
    expect(fs.readdirSync(path.join(storage, 'blobs', 'sha256'))).to.deep.equal([]);
    expect(fs.readdirSync(path.join(storage, 'overlay'))).to.deep.equal(['l']);
  };

  it('save writes an OCI layout with the blobs as pulled; rmi then load restores the same image (file and stdin)', async () => {
    const out = path.join(env.dir, 'multi.tar');
    const s = await env.run(['save', '-o', out, ref]);
    expect(s.code, s.stderr).to.equal(0);
    const names: string[] = [];
    const contents = new Map<string, Buffer>();
    const ex = tar.extract();
    ex.on('entry', (h, stream, next) => {
      names.push(h.name);
      const c: Buffer[] = [];
      stream.on('data', (d: unknown) => c.push(d as Buffer));
      stream.on('end', () => (contents.set(h.name, Buffer.concat(c)), next()));
    });
    await new Promise<void>((resolve) => ex.on('finish', () => resolve()).end(fs.readFileSync(out)));
    expect(names).to.include.members(['oci-layout', 'index.json', `blobs/sha256/${multi.manifestDigest.slice(7)}`, `blobs/sha256/${multi.configDigest.slice(7)}`, ...multi.layers.map((l) => `blobs/sha256/${l.digest.slice(7)}`)]);
    for (const [n, c] of contents) if (n.startsWith('blobs/')) expect(sha256(c)).to.equal(`sha256:${n.split('/')[2]}`);
    const index = JSON.parse(contents.get('index.json')!.toString());
    expect(index.manifests).to.deep.equal([{ mediaType: multi.manifestMediaType, digest: multi.manifestDigest, size: multi.manifest.length, annotations: { 'org.opencontainers.image.ref.name': ref } }]);

    expect((await env.run(['rmi', ref])).code).to.equal(0);
    storeIsEmpty();
    const l = await env.run(['load', '-i', out]);
    expect(l.code, l.stderr).to.equal(0);
    expect(l.stdout).to.equal(`Loaded image: ${ref}\n`);
    expect(l.stderr).to.contain(`Copying blob ${multi.layers[0].digest}`).and.contain(`Copying config ${multi.configDigest}`);
    const listed = JSON.parse((await env.run(['images', '--format', 'json'])).stdout);
    expect(listed.map((i: { Id: string; Digest: string; Names: string[] }) => [i.Id, i.Digest, i.Names])).to.deep.equal([[multi.configDigest.slice(7), multi.manifestDigest, [ref]]]);
    // The loaded layers are the image's (diff IDs verified): a file of the top layer is there.
    const inspect = JSON.parse((await env.run(['image', 'inspect', ref])).stdout)[0];
    expect(fs.readFileSync(path.join(inspect.GraphDriver.Data.LowerDir.split(':')[0], 'opaque', 'new.txt'), 'utf8')).to.equal('new\n');
    // From stdin, gzip-compressed as a whole: the image is already there.
    const again = await env.run(['load'], { input: zlib.gzipSync(fs.readFileSync(out)) });
    expect(again.code, again.stderr).to.equal(0);
    expect(again.stderr).to.contain('skipped: already exists');
    // Save to stdout.
    const piped = await env.run(['save', '-q', ref]);
    expect(piped.code).to.equal(0);
    expect(piped.stderr).to.equal('');
  });

  it('load takes a docker-archive (legacy layer.tar symlinks); the image ID is the config digest', async () => {
    const e = makeCliEnv();
    try {
      const archive = path.join(e.dir, 'docker.tar');
      fs.writeFileSync(archive, await dockerArchive(multi, 'example.com/team/app:2'));
      const r = await e.run(['load', '-q', '-i', archive]);
      expect(r.code, r.stderr).to.equal(0);
      expect(r.stdout).to.equal('Loaded image: example.com/team/app:2\n');
      expect(r.stderr).to.equal('');
      const j = JSON.parse((await e.run(['image', 'inspect', 'example.com/team/app:2'])).stdout)[0];
      expect(j.Id).to.equal(multi.configDigest.slice(7));
      expect(j.RootFS.Layers).to.deep.equal(multi.diffIds);
      // …and it can be saved again as an OCI archive.
      expect((await e.run(['save', '-o', path.join(e.dir, 'again.tar'), 'example.com/team/app:2'])).code).to.equal(0);
    } finally {
      e.cleanup();
    }
  });

  describe('refuses malicious or broken archives and leaves nothing behind', () => {
    let good: { header: TarHeader; content?: Buffer }[];
    before(async () => {
      const layer0 = zlib.gunzipSync(multi.blobs.get(multi.layers[0].digest)!);
      good = [file('l0.tar', layer0)];
    });
    const cases: [string, () => Promise<Buffer>, RegExp][] = [
      ['an entry that climbs out with ..', async () => tarOf([file('../../escape.txt', 'x'), file('manifest.json', '[]')]), /archive entry "\.\.\/\.\.\/escape\.txt" escapes the archive/],
      ['an absolute entry name', async () => tarOf([file('/etc/evil', 'x')]), /absolute path/],
      ['a symlink pointing out of the archive', async () => tarOf([{ header: { name: 'layer.tar', type: 'symlink', linkname: '../../../etc/passwd' } }]), /links outside the archive/],
      ['a device node', async () => tarOf([{ header: { name: 'dev', type: 'character-device', devmajor: 1, devminor: 3 } }]), /unsupported type character-device/],
      ['a blob whose bytes are not its digest', async () => {
        const cfg = multi.config;
        const fake = sha256('other');
        const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: fake, size: cfg.length }, layers: [] }));
        return tarOf([file('oci-layout', '{"imageLayoutVersion":"1.0.0"}'), file(`blobs/sha256/${fake.slice(7)}`, cfg), file(`blobs/sha256/${sha256(manifest).slice(7)}`, manifest), file('index.json', JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length }] }))]);
      }, /digest mismatch/],
      ['a docker-archive layer that is not its diff ID', async () => {
        const raw = await layerTar([{ type: 'file', path: 'x', content: 'not the layer' }]);
        return tarOf([file('bad.tar', raw), file(`${multi.configDigest.slice(7)}.json`, multi.config), file('manifest.json', JSON.stringify([{ Config: `${multi.configDigest.slice(7)}.json`, RepoTags: ['x/y:z'], Layers: ['bad.tar', 'bad.tar', 'bad.tar'] }]))]);
      }, /does not match the config's diff ID/],
      ['a layer whose entries climb out of the rootfs', async () => {
        const evil = await layerTar([{ type: 'raw', header: { name: '../../../../tmp/peapod-evil', type: 'file', size: 1 }, content: Buffer.from('x') }]);
        const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(evil)] } }));
        return tarOf([file('evil.tar', evil), file('config.json', config), file('manifest.json', JSON.stringify([{ Config: 'config.json', RepoTags: ['x/evil:1'], Layers: ['evil.tar'] }]))]);
      }, /escapes the layer with "\.\."/],
      ['a manifest.json over the 4 MiB limit', async () => tarOf([...good, file('manifest.json', Buffer.alloc(5 << 20, 0x20))]), /over the 4194304-byte limit/],
      ['something that is not a tar', async () => Buffer.from('hello, this is not an archive at all'.repeat(40)), /./],
    ];
    for (const [what, make, re] of cases) {
      it(what, async () => {
        const e = makeCliEnv();
        try {
          const r = await e.run(['load'], { input: await make() });
          expect(r.code, r.stdout + r.stderr).to.equal(125);
          expect(r.stdout).to.equal('');
          expect(r.stderr.split('\n').filter((l) => l.startsWith('Error: ')), r.stderr).to.have.length(1);
          expect(r.stderr).to.match(/(^|\n)Error: loading the archive: [^\n]+\n$/).and.match(re);
          expect(fs.existsSync('/tmp/peapod-evil')).to.equal(false);
          expect(fs.existsSync(path.join(e.dir, 'escape.txt'))).to.equal(false);
          const storage = path.join(e.root, 'storage');
          expect(fs.readdirSync(path.join(storage, 'blobs', 'sha256'))).to.deep.equal([]);
          expect(fs.readdirSync(path.join(storage, 'overlay'))).to.deep.equal(['l']);
          expect(fs.readdirSync(path.join(storage, 'tmp'))).to.deep.equal([]);
          expect((await e.run(['images', '-q'])).stdout).to.equal('');
        } finally {
          e.cleanup();
        }
      });
    }
  });

  it('save refuses a terminal stdout and unknown images; load needs a readable file', async () => {
    const unknown = await env.run(['save', '-o', path.join(env.dir, 'x.tar'), 'nosuch']);
    expect(unknown.code).to.equal(125);
    expect(unknown.stderr).to.equal('Error: nosuch: image not known\n');
    expect(fs.existsSync(path.join(env.dir, 'x.tar'))).to.equal(false);
    const noFile = await env.run(['load', '-i', path.join(env.dir, 'missing.tar')]);
    expect(noFile.code).to.equal(125);
    expect(noFile.stderr).to.contain('missing.tar: no such file');
    const badFormat = await env.run(['save', '--format', 'docker-archive', '-o', '/dev/null', ref]);
    expect(badFormat.code).to.equal(125);
  });
});
