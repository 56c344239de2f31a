import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tar from 'tar-stream';
import { PeapodError } from '../../src/common/errors';
import { checkArchiveLocation, CheckpointArchiveError, readArchiveMetadata, stageContainerCheckpoint, writeArchive } from '../../src/runtime-service/checkpoint/archive';
import { criuCheckReason, CriuCheck } from '../../src/runtime-service/checkpoint/criu';
import { rootfsChanges, writeRootfsDiffTar } from '../../src/runtime-service/checkpoint/rootfs-diff';

/** What Debian's criu 3.17.1 prints for `criu check` on these machines. */
const CRIU_3171_OUTPUT = [
  'Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds',
  'Error (criu/vdso.c:613): vdso: Failed to fill self vdso symtable',
  'Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.',
  'Error (criu/crtools.c:260): Could not initialize kernel features detection.',
].join('\n');

interface TarItem {
  name: string;
  type: string;
  linkname?: string | null;
  data: string;
}

async function readTar(file: string): Promise<TarItem[]> {
  const items: TarItem[] = [];
  const extract = tar.extract();
  await new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: unknown) => chunks.push(c as Buffer));
      stream.on('end', () => {
        items.push({ name: h.name, type: h.type ?? 'file', linkname: h.linkname, data: Buffer.concat(chunks).toString('utf8') });
        next();
      });
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
    fs.createReadStream(file).pipe(extract);
  });
  return items;
}

describe('checkpoint archives (src/runtime-service/checkpoint)', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-ckpt-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('names what criu check reports, without source positions', () => {
    expect(criuCheckReason(CRIU_3171_OUTPUT)).to.match(/^vdso: Unexpected rt vDSO area bounds; vdso: Failed to fill self vdso symtable; /);
    expect(criuCheckReason('Looks good but something odd\n')).to.equal('Looks good but something odd');
    expect(criuCheckReason(`Error (x.c:1): ${'y'.repeat(2000)}`)).to.have.length(501);
  });

  it('runs criu check once and refuses with FAILED_PRECONDITION (WRONG_STATE) naming its reason', async () => {
    const count = path.join(dir, 'count');
    const criu = path.join(dir, 'criu');
    fs.writeFileSync(criu, `#!/bin/sh\necho run >> ${count}\ncat >&2 <<'E'\n${CRIU_3171_OUTPUT}\nE\nexit 1\n`, { mode: 0o755 });
    const check = new CriuCheck(criu);
    const [a, b] = await Promise.all([check.check(), check.check()]);
    expect(a).to.deep.equal(b);
    expect(a.ok).to.equal(false);
    const err = await check.require('checkpointing container abc').then(() => null, (e: PeapodError) => e);
    expect(err?.code).to.equal('WRONG_STATE');
    expect(err?.message).to.match(/^checkpointing container abc needs CRIU, and "criu check" fails on this node: vdso: Unexpected rt vDSO area bounds/);
    expect(fs.readFileSync(count, 'utf8').trim().split('\n')).to.have.length(1);
    expect((await new CriuCheck(path.join(dir, 'no-criu')).check())).to.deep.equal({ ok: false, reason: `${path.join(dir, 'no-criu')} is not installed (Debian package criu)` });
    const good = path.join(dir, 'good-criu');
    fs.writeFileSync(good, '#!/bin/sh\n[ "$1" = --version ] && echo "Version: 3.19"\nexit 0\n', { mode: 0o755 });
    expect(await new CriuCheck(good).check()).to.deep.equal({ ok: true, version: '3.19' });
  });

  it('reads an upper dir: changes as tar entries, whiteouts and opaque directories as deleted files', async () => {
    const upper = path.join(dir, 'upper');
    const lower = path.join(dir, 'lower');
    for (const d of ['etc', 'var/cache/apt', 'data']) fs.mkdirSync(path.join(lower, d), { recursive: true });
    for (const f of ['etc/passwd', 'etc/gone.conf', 'var/cache/apt/a.bin', 'var/cache/apt/b.bin', 'data/kept']) fs.writeFileSync(path.join(lower, f), 'lower');
    fs.mkdirSync(path.join(upper, 'etc'), { recursive: true });
    fs.mkdirSync(path.join(upper, 'var/cache/apt'), { recursive: true });
    fs.writeFileSync(path.join(upper, 'etc/app.conf'), 'new config\n');
    fs.linkSync(path.join(upper, 'etc/app.conf'), path.join(upper, 'etc/app.conf.hard'));
    fs.symlinkSync('app.conf', path.join(upper, 'etc/app.link'));
    execFileSync('mknod', [path.join(upper, 'etc/gone.conf'), 'c', '0', '0']);
    execFileSync('mkfifo', [path.join(upper, 'etc/fifo')]);
    fs.writeFileSync(path.join(upper, 'var/cache/apt/b.bin'), 'new b');
    execFileSync('setfattr', ['-n', 'trusted.overlay.opaque', '-v', 'y', path.join(upper, 'var/cache/apt')]);

    const changes = await rootfsChanges(upper, [lower]);
    expect(changes.deleted).to.deep.equal(['/etc/gone.conf', '/var/cache/apt/a.bin']);
    expect(changes.entries.map((e) => e.rel)).to.deep.equal(['etc', 'etc/app.conf', 'etc/app.conf.hard', 'etc/app.link', 'etc/fifo', 'var', 'var/cache', 'var/cache/apt', 'var/cache/apt/b.bin']);

    const out = path.join(dir, 'rootfs-diff.tar');
    await writeRootfsDiffTar(upper, changes, fs.createWriteStream(out));
    const items = await readTar(out);
    const byName = Object.fromEntries(items.map((i) => [i.name, i]));
    expect(byName['etc/app.conf']).to.include({ type: 'file', data: 'new config\n' });
    expect(byName['etc/app.conf.hard']).to.include({ type: 'link', linkname: 'etc/app.conf' });
    expect(byName['etc/app.link']).to.include({ type: 'symlink', linkname: 'app.conf' });
    expect(byName['etc/fifo'].type).to.equal('fifo');
    expect(byName['var/cache/apt'].type).to.equal('directory');
    expect(byName['etc/gone.conf']).to.equal(undefined);
  });

  it('stages and writes a container archive in CRI-O\'s layout, mode 0600, atomically', async () => {
    const upper = path.join(dir, 'upper');
    fs.mkdirSync(path.join(upper, 'tmp'), { recursive: true });
    fs.writeFileSync(path.join(upper, 'tmp/state'), '42');
    execFileSync('mknod', [path.join(upper, 'motd'), 'c', '0', '0']);
    const criuImages = path.join(dir, 'images');
    fs.mkdirSync(criuImages);
    fs.writeFileSync(path.join(criuImages, 'inventory.img'), 'criu');
    const config = { id: 'c1', name: 'web', rootfsImage: 'busybox', rootfsImageRef: 'sha256:ab', rootfsImageName: 'docker.io/library/busybox:latest', runtime: 'runc', createdTime: '2026-12-01T00:00:00.000000000Z', checkpointedTime: '2026-12-01T01:00:00.000Z', restoredTime: '0001-01-01T00:00:00Z', restored: false };
    const spec = { ociVersion: '1.0.2', annotations: { 'io.kubernetes.cri-o.SandboxID': 'p1' } };
    const staging = path.join(dir, 'staging');
    await stageContainerCheckpoint(staging, { config, spec: spec as never, upperDir: upper, lowerDirs: [], criuImagesDir: criuImages });
    const location = path.join(dir, 'out', 'web.tar');
    fs.mkdirSync(path.dirname(location));
    await writeArchive(staging, location);
    expect(fs.statSync(location).mode & 0o777).to.equal(0o600);
    expect(fs.readdirSync(path.dirname(location))).to.deep.equal(['web.tar']);
    const items = await readTar(location);
    expect(items.map((i) => i.name)).to.deep.equal(['checkpoint', 'checkpoint/inventory.img', 'config.dump', 'deleted.files', 'rootfs-diff.tar', 'spec.dump']);
    expect(JSON.parse(items.find((i) => i.name === 'deleted.files')!.data)).to.deep.equal(['/motd']);
    const meta = await readArchiveMetadata(location, 'location');
    expect(meta.names).to.deep.equal(['checkpoint', 'config.dump', 'deleted.files', 'rootfs-diff.tar', 'spec.dump']);
    expect(meta.files['config.dump']).to.deep.equal(config);
    expect((meta.files['spec.dump'] as typeof spec).annotations['io.kubernetes.cri-o.SandboxID']).to.equal('p1');

    // A failed write leaves nothing at or beside the location.
    await writeArchive(path.join(dir, 'no-such-staging'), path.join(dir, 'out', 'other.tar')).then(() => expect.fail('should fail'), () => undefined);
    expect(fs.readdirSync(path.dirname(location))).to.deep.equal(['web.tar']);
  });

  it('refuses bad archive paths and archives that are not checkpoint archives', async () => {
    const field = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (err) {
        return (err as PeapodError).field;
      }
      return 'accepted';
    };
    expect(field(() => checkArchiveLocation('', 'location'))).to.equal('location');
    expect(field(() => checkArchiveLocation('rel.tar', 'location'))).to.equal('location');
    expect(field(() => checkArchiveLocation('/no/such/dir/x.tar', 'location'))).to.equal('location');
    expect(field(() => checkArchiveLocation(dir, 'location'))).to.equal('location');
    expect(checkArchiveLocation(path.join(dir, 'x.tar'), 'location')).to.equal(path.join(dir, 'x.tar'));

    const notTar = path.join(dir, 'not.tar');
    fs.writeFileSync(notTar, 'hello, not a tar at all'.repeat(40));
    const e1 = await readArchiveMetadata(notTar, 'checkpoint_path').then(() => null, (e: unknown) => e);
    expect(e1).to.be.instanceOf(CheckpointArchiveError);
    const evil = path.join(dir, 'evil.tar');
    const pack = tar.pack();
    pack.entry({ name: '../../etc/passwd' }, 'x');
    pack.finalize();
    await new Promise((r) => (pack as unknown as NodeJS.ReadableStream).pipe(fs.createWriteStream(evil)).on('finish', () => r(undefined)));
    const e2 = (await readArchiveMetadata(evil, 'checkpoint_path').then(() => null, (e: unknown) => e)) as CheckpointArchiveError;
    expect(e2.message).to.contain('leaves the archive');
    expect(e2.field).to.equal('checkpoint_path');
    const missing = (await readArchiveMetadata(path.join(dir, 'none.tar'), 'checkpoint_path').then(() => null, (e: unknown) => e)) as CheckpointArchiveError;
    expect(missing.code).to.equal('INVALID_ARGUMENT');
  });
});
