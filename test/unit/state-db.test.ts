import { expect } from 'chai';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { processStartTime } from '../../src/common/host/proc';
import { ProcessLocks } from '../../src/common/process-lock';
import { importLegacyRecords } from '../../src/runtime-service/legacy-records';
import { openStateDb, StateDb } from '../../src/runtime-service/state-db';

/** Resolves with the first line a child prints. */
function firstLine(child: ReturnType<typeof spawn>): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.split('\n')[0]);
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before printing`)));
  });
}

describe('state database and cross-process locks', () => {
  let dir: string;
  let state: StateDb | undefined;
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-statedb-'))));
  afterEach(() => {
    state?.close();
    state = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('gives the lock of a process killed with SIGKILL to the next process', async function () {
    this.timeout(20_000);
    const holder = spawn(process.execPath, [path.resolve(__dirname, '..', 'fixtures', 'lock-holder.js'), dir, 'container:x'], { stdio: ['ignore', 'pipe', 'inherit'] });
    expect(await firstLine(holder)).to.equal('held');
    state = openStateDb(dir, 'cri');
    expect(state.locks.tryAcquire('container:x')).to.equal(false); // a live holder keeps it
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    const release = await state.locks.acquire('container:x', 10);
    const row = state.db.prepare('SELECT pid, start_time FROM locks WHERE key = ?').get('container:x') as { pid: number; start_time: string };
    expect(row).to.deep.equal({ pid: process.pid, start_time: processStartTime(process.pid) });
    release();
    expect(state.db.prepare('SELECT count(*) AS n FROM locks').get()).to.deep.equal({ n: 0 });
  });

  it('does not let a reused pid keep a dead lock alive: the start time must match too', () => {
    state = openStateDb(dir, 'cri');
    // pid 1 is alive, but it is not the process that took the lock (another start time).
    state.db.prepare("INSERT INTO locks (key, pid, acquired, start_time) VALUES ('pod:y', 1, 0, '1')").run();
    expect(state.locks.tryAcquire('pod:y')).to.equal(true);
    const other = new ProcessLocks(state.db, { pid: 1, startTime: processStartTime(1)! });
    expect(other.tryAcquire('pod:y')).to.equal(false); // this process holds it now, alive
  });

  it('imports the JSON records of an older peapod, converted, and deletes their files', () => {
    const root = path.join(dir, 'root');
    const podId = 'a'.repeat(64);
    const ctrId = 'b'.repeat(64);
    fs.mkdirSync(path.join(root, 'sandboxes', podId), { recursive: true });
    fs.mkdirSync(path.join(root, 'containers', ctrId), { recursive: true });
    const pod = { id: podId, metadata: { name: 'p', namespace: 'n', uid: 'u', attempt: 0 }, state: 'SANDBOX_READY', createdAt: '1', namespaces: {}, additionalIps: [] };
    fs.writeFileSync(path.join(root, 'sandboxes', podId, 'sandbox.json'), JSON.stringify({ version: 1, phase: 'created', record: pod, infraStartTime: '42' }));
    const ctr = {
      version: 1, id: ctrId, sandboxId: podId, metadata: { name: 'c', attempt: 0 }, state: 'CONTAINER_RUNNING', createdAt: '2', imageId: 'sha256:x',
      image: { image: 'busybox', annotations: {}, user_specified_image: 'busybox' },
      mounts: [{ container_path: '/d', host_path: '/h', readonly: true, propagation: 'PROPAGATION_HOST_TO_CONTAINER' }],
      resources: { cpu_shares: '512', memory_limit_in_bytes: '0', hugepage_limits: [], unified: {} },
    };
    fs.writeFileSync(path.join(root, 'containers', ctrId, 'record.json'), JSON.stringify(ctr));
    state = openStateDb(root, 'cri');
    expect(importLegacyRecords(state, root)).to.deep.equal({ pods: 1, containers: 1 });
    expect(importLegacyRecords(state, root)).to.deep.equal({ pods: 0, containers: 0 });
    const p = JSON.parse((state.db.prepare('SELECT record FROM pods').get() as { record: string }).record);
    expect(p).to.include({ version: 2, owner: 'cri', state: 'ready', infraStartTime: '42' });
    const c = JSON.parse((state.db.prepare('SELECT record FROM containers').get() as { record: string }).record);
    expect(c).to.include({ owner: 'cri', state: 'running' });
    expect(c.image).to.deep.equal({ name: 'busybox', annotations: {}, userSpecified: 'busybox' });
    expect(c.mounts).to.deep.equal([{ containerPath: '/d', hostPath: '/h', readonly: true, propagation: 'slave' }]);
    expect(c.resources).to.deep.equal({ cpuShares: 512 });
    expect(fs.existsSync(path.join(root, 'containers', ctrId, 'record.json'))).to.equal(false);
    expect(fs.existsSync(path.join(root, 'containers', ctrId))).to.equal(true); // the writable layer stays
  });

  it('refuses a database of a newer schema', () => {
    fs.mkdirSync(dir, { recursive: true });
    const db = new Database(path.join(dir, 'state.db'));
    db.pragma('user_version = 99');
    db.close();
    expect(() => openStateDb(dir, 'cri')).to.throw(/schema version 99/);
  });
});
