import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { SandboxRecord } from '../../src/runtime-service/sandbox/record';
import { SandboxStore } from '../../src/runtime-service/sandbox/store';
import { openStateDb, StateDb } from '../../src/runtime-service/state-db';

function record(id: string, createdAt: string, state: SandboxRecord['state'] = 'ready', name = 'p'): SandboxRecord {
  return {
    version: 2,
    id,
    owner: 'cri',
    metadata: { name, uid: 'u', namespace: 'n', attempt: 0 },
    state,
    createdAt,
    runtimeHandler: 'runc',
    labels: {},
    annotations: {},
    logDirectory: '',
    hostNetwork: false,
    namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' },
    namespaces: {},
    hostnamePath: '',
    hostsPath: '',
    resolvConfPath: '',
    cgroupParent: '/peapod/pod-x',
    sysctls: {},
    additionalIps: [],
    config: {},
  };
}

describe('SandboxStore (state.db)', () => {
  let dir: string;
  const opened: StateDb[] = [];
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-store-'))));
  afterEach(() => {
    for (const db of opened.splice(0)) db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const dirs = () => ({ root: path.join(dir, 'root'), runroot: path.join(dir, 'run') });
  const open = (owner: 'cri' | 'cli' = 'cri'): SandboxStore => {
    const db = openStateDb(dirs().root, owner);
    opened.push(db);
    return new SandboxStore(db, dirs());
  };

  it('finds by full ID or unique prefix, lists oldest first, survives a reopen', async () => {
    const a = 'ab' + '0'.repeat(62);
    const b = 'ac' + '0'.repeat(62);
    const store = open();
    store.insert(record(b, '2000000000000000000', 'ready', 'pb'));
    store.insert(record(a, '1000000000000000000', 'ready', 'pa'));
    store.insert(record('ff' + '0'.repeat(62), '3000000000000000000', 'creating', 'pc'));
    expect(store.get(a)!.id).to.equal(a);
    expect(store.get('ac')!.id).to.equal(b);
    expect(store.get('a')).to.equal(undefined); // ambiguous
    expect(store.get('')).to.equal(undefined);
    expect(store.get('ff')).to.equal(undefined); // creating: hidden
    expect(store.list().map((r) => r.id)).to.deep.equal([a, b]);

    const again = open();
    expect(again.list().map((r) => r.id)).to.deep.equal([a, b]);
    expect(again.getAny('ff' + '0'.repeat(62))?.state).to.equal('creating');
    await again.delete(a);
    expect(again.get(a)).to.equal(undefined);
    expect(fs.existsSync(path.join(dirs().root, 'sandboxes', a))).to.equal(false);
  });

  it('serialises work on one sandbox', async () => {
    const store = open();
    const order: string[] = [];
    const slow = store.withLock('x', async () => {
      await new Promise((r) => setTimeout(r, 30));
      order.push('first');
    });
    const fast = store.withLock('x', async () => void order.push('second'));
    await Promise.all([slow, fast]);
    expect(order).to.deep.equal(['first', 'second']);
  });

  it('knows the pod names in use, of sandboxes finished or being built, until deleted', async () => {
    const store = open();
    const a = 'a'.repeat(64);
    const m = { name: 'p', namespace: 'n', uid: 'u', attempt: 0 };
    store.insert(record(a, '1', 'creating'));
    expect(store.idOfName(m)).to.equal(a);
    expect(() => store.insert(record('b'.repeat(64), '2'))).to.throw(/already exists with ID a{64}/);
    const again = open();
    expect(again.idOfName(m)).to.equal(a);
    await again.delete(a);
    expect(again.idOfName(m)).to.equal(undefined);
  });

  it("lists each owner's sandboxes only; recovery sees only creations whose creator is dead", () => {
    const cri = open('cri');
    const cli = open('cli');
    cri.insert(record('c'.repeat(64), '1', 'ready', 'server-pod'));
    cli.insert({ ...record('d'.repeat(64), '2', 'ready', 'cli-pod'), owner: 'cli' });
    expect(cri.list().map((r) => r.metadata.name)).to.deep.equal(['server-pod']);
    expect(cli.list().map((r) => r.metadata.name)).to.deep.equal(['cli-pod']);
    expect(cli.get('c'.repeat(64))).to.equal(undefined);
    cri.insert(record('e'.repeat(64), '3', 'creating', 'in-flight'));
    expect(cri.abandonedCreations()).to.deep.equal([]); // its creator (this process) lives
  });
  it('lists the same frozen records while nothing changed, and sees every change: its own, another connection\'s, another process\'s', () => {
    const a = 'aa' + '0'.repeat(62);
    const b = 'bb' + '0'.repeat(62);
    const store = open();
    const other = open();
    store.insert(record(a, '1000000000000000000', 'ready', 'pa'));
    const first = store.list();
    expect(first.map((r) => r.id)).to.deep.equal([a]);
    // Unchanged: the very same records, frozen (callers share them).
    const again = store.list();
    expect(again[0]).to.equal(first[0]);
    expect(again).to.not.equal(first);
    expect(Object.isFrozen(again[0].labels)).to.equal(true);
    // Its own write.
    store.transition(a, { type: 'lost' });
    expect(store.list()[0].state).to.equal('notready');
    // Another connection's commit (as another process's: PRAGMA data_version).
    other.insert(record(b, '2000000000000000000', 'ready', 'pb'));
    expect(store.list().map((r) => r.id)).to.deep.equal([a, b]);
    // Another process's commit.
    const sqlite = require.resolve('better-sqlite3');
    const script = `const D = require(${JSON.stringify(sqlite)}); const db = new D(${JSON.stringify(path.join(dirs().root, 'state.db'))}); db.prepare("DELETE FROM pods WHERE id = ?").run(${JSON.stringify(b)}); db.close();`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.status, r.stderr).to.equal(0);
    expect(store.list().map((x) => x.id)).to.deep.equal([a]);
  });
  it("getShared answers list()'s frozen record, the same object until any connection commits, and by unique prefix", async () => {
    const a = 'aa' + '0'.repeat(62);
    const store = open();
    const other = open();
    store.insert(record(a, '1000000000000000000', 'ready', 'pa'));
    const first = store.getShared(a)!;
    expect(first.state).to.equal('ready');
    expect(Object.isFrozen(first)).to.equal(true);
    expect(store.getShared(a)).to.equal(first);
    expect(store.getShared('aa')).to.equal(first);
    expect(store.list()[0]).to.equal(first);
    expect(store.getShared('b'.repeat(64))).to.equal(undefined);
    expect(store.getShared('')).to.equal(undefined);
    // Another connection's write (as the CLI's): a new object with the change.
    other.transition(a, { type: 'lost' });
    const after = store.getShared(a)!;
    expect(after).to.not.equal(first);
    expect(after.state).to.equal('notready');
    await other.delete(a);
    expect(store.getShared(a)).to.equal(undefined);
  });
  it('keeps the same frozen object for a record the change did not touch: a change to one pod re-reads one', () => {
    const a = 'aa' + '0'.repeat(62);
    const b = 'bb' + '0'.repeat(62);
    const store = open();
    const other = open();
    store.insert(record(a, '1000000000000000000', 'ready', 'pa'));
    store.insert(record(b, '2000000000000000000', 'ready', 'pb'));
    const [ra, rb] = store.list();
    store.transition(a, { type: 'lost' });
    const [na, nb] = store.list();
    expect(na).to.not.equal(ra);
    expect(na.state).to.equal('notready');
    expect(nb).to.equal(rb);
    expect(store.getShared(b)).to.equal(rb);
    // Another connection's commit that touches neither row's record.
    other.insert(record('cc' + '0'.repeat(62), '3000000000000000000', 'ready', 'pc'));
    const third = store.list();
    expect(third.map((r) => r.id)).to.deep.equal([a, b, 'cc' + '0'.repeat(62)]);
    expect(third[0]).to.equal(na);
    expect(third[1]).to.equal(rb);
    expect(Object.isFrozen(third[2])).to.equal(true);
  });
});
