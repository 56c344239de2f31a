import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { ensurePrivateDir, ensurePrivateFile } from '../../src/common/host/private-paths';
import { ImageStore } from '../../src/image-service/store/image-store';
import { openStateDb } from '../../src/runtime-service/state-db';
import { RUNROOT_MODE, securePeapodDirs } from '../../src/runtime-service/state-dirs';

const modeOf = (p: string): number => fs.statSync(p).mode & 0o7777;

/** Makes `rel` under `dir` with `mode`, whatever the umask. */
function mkdirWide(dir: string, rel: string, mode = 0o755): string {
  const p = path.join(dir, rel);
  fs.mkdirSync(p, { recursive: true });
  fs.chmodSync(p, mode);
  return p;
}

function writeWide(p: string, mode = 0o644): void {
  fs.writeFileSync(p, '');
  fs.chmodSync(p, mode);
}

describe('private directories and files: modes enforced on what exists, not only on what is made', () => {
  let dir: string;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-private-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('chmods an existing 0755 directory, makes a missing one with its parents, and refuses one another user owns', () => {
    const wide = mkdirWide(dir, 'wide');
    ensurePrivateDir(wide);
    expect(modeOf(wide)).to.equal(0o700);
    const deep = path.join(dir, 'a', 'b');
    ensurePrivateDir(deep, 0o710);
    expect([modeOf(path.join(dir, 'a')), modeOf(deep)]).to.deep.equal([0o710, 0o710]);
    const theirs = mkdirWide(dir, 'theirs');
    fs.chownSync(theirs, 65534, 65534);
    expect(() => ensurePrivateDir(theirs)).to.throw(`${theirs} is owned by uid 65534`);
    expect(modeOf(theirs)).to.equal(0o755);
    writeWide(path.join(dir, 'file'));
    expect(() => ensurePrivateDir(path.join(dir, 'file'))).to.throw();
  });

  it('makes a file 0600 before a library opens it, and its companions when they exist', () => {
    const f = path.join(dir, 'x.db');
    ensurePrivateFile(f, [`${f}-wal`]);
    expect(modeOf(f)).to.equal(0o600);
    writeWide(`${f}-wal`);
    writeWide(f);
    ensurePrivateFile(f, [`${f}-wal`, `${f}-shm`]);
    expect([modeOf(f), modeOf(`${f}-wal`)]).to.deep.equal([0o600, 0o600]);
  });

  it('opens the state database with root 0700 and state.db, -wal, -shm 0600, also when they were 0755/0644', () => {
    const root = mkdirWide(dir, 'root');
    openStateDb(root, 'cli').close();
    fs.chmodSync(root, 0o755);
    fs.chmodSync(path.join(root, 'state.db'), 0o644);
    const other = new Database(path.join(root, 'state.db')); // keeps -wal and -shm there, made 0644 below
    other.pragma('journal_mode = WAL');
    for (const f of ['state.db-wal', 'state.db-shm']) fs.chmodSync(path.join(root, f), 0o644);
    const state = openStateDb(root, 'cli');
    try {
      state.db.prepare('SELECT count(*) FROM pods').get();
      expect(modeOf(root)).to.equal(0o700);
      for (const f of ['state.db', 'state.db-wal', 'state.db-shm']) expect(modeOf(path.join(root, f)), f).to.equal(0o600);
    } finally {
      state.close();
      other.close();
    }
  });

  it('opens the image store with its directories 0700 and images.db 0600, also when they were wider', () => {
    const storage = path.join(dir, 'storage');
    for (const d of ['', 'blobs', 'blobs/sha256', 'overlay', 'overlay/l', 'tmp']) mkdirWide(storage, d);
    const store = ImageStore.open(storage);
    try {
      for (const d of ['', 'blobs', 'blobs/sha256', 'blobs/sha512', 'overlay', 'overlay/l', 'tmp']) expect(modeOf(path.join(storage, d)), d || 'storage').to.equal(0o700);
      expect(modeOf(path.join(storage, 'images.db'))).to.equal(0o600);
    } finally {
      store.close();
    }
  });

  it('sets the modes of root, runroot, their directories and every bundle, config.json and pod directory found', () => {
    const root = path.join(dir, 'root');
    const runroot = path.join(dir, 'run');
    const id = 'c'.repeat(64);
    const pod = 'p'.repeat(64);
    for (const d of [`containers/${id}/upper`, `sandboxes/${pod}`]) mkdirWide(root, d);
    for (const d of [`containers/${id}/rootfs`, `sandboxes/${pod}`, 'runc']) mkdirWide(runroot, d);
    mkdirWide(dir, 'root');
    mkdirWide(dir, 'run');
    writeWide(path.join(runroot, 'containers', id, 'config.json'));
    writeWide(path.join(root, 'sandboxes', pod, 'cni.json'));
    writeWide(path.join(root, 'sandboxes', pod, 'resolv.conf'));
    securePeapodDirs({ root, runroot, runtime: { runtimes: { runc: { runtime_path: '/usr/sbin/runc', runtime_root: path.join(runroot, 'runc') } } } as never });
    expect(modeOf(root)).to.equal(0o700);
    expect(modeOf(runroot)).to.equal(RUNROOT_MODE);
    for (const d of ['containers', `containers/${id}`, 'sandboxes', `sandboxes/${pod}`, 'storage']) expect(modeOf(path.join(root, d)), d).to.equal(0o700);
    for (const d of ['containers', `containers/${id}`, 'containers-exits', 'containers-sockets', 'sandboxes', `sandboxes/${pod}`, 'runc']) expect(modeOf(path.join(runroot, d)), d).to.equal(0o700);
    expect(modeOf(path.join(runroot, 'containers', id, 'config.json'))).to.equal(0o600);
    expect(modeOf(path.join(root, 'sandboxes', pod, 'cni.json'))).to.equal(0o600);
    // What containers read keeps its mode: the upper dir (the container's /) and the pod's resolv.conf.
    expect(modeOf(path.join(root, 'containers', id, 'upper'))).to.equal(0o755);
    expect(modeOf(path.join(root, 'sandboxes', pod, 'resolv.conf'))).to.equal(0o644);
  });
});
