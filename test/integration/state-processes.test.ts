import { expect } from 'chai';
import { ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { ContainerEngine, ContainerEngineOptions, EngineImage } from '../../src/runtime-service/container/engine';
import { openStateDb } from '../../src/runtime-service/state-db';
import { buildBusyboxImage, createTestPod, tempDir, TestPod, testEngineOptions } from './helpers/busybox-pod';
import { waitFor } from './helpers/wait';


/** Lines a child prints, awaited one by one. */
function lines(child: ChildProcess): () => Promise<string> {
  const queue: string[] = [];
  const waiters: ((l: string) => void)[] = [];
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiters.shift();
      if (w) w(l);
      else queue.push(l);
    }
  });
  return () => (queue.length ? Promise.resolve(queue.shift()!) : new Promise((r) => waiters.push(r)));
}

/**
 * A conmon that waits for `gate` to exist before it runs (at most a minute),
 * so a creation stays in flight; it appends its pid to `pids`.
 */
function slowConmon(dir: string, name: string): { path: string; gate: string; pids: string } {
  const p = { path: path.join(dir, name), gate: path.join(dir, `${name}.gate`), pids: path.join(dir, `${name}.pids`) };
  fs.writeFileSync(p.path, `#!/bin/sh\necho $$ >> ${p.pids}\ni=0\nwhile [ ! -e ${p.gate} ]; do i=$((i+1)); [ $i -gt 1200 ] && exit 1; sleep 0.05; done\nexec /usr/bin/conmon "$@"\n`, { mode: 0o755 });
  return p;
}

/** Kills the slow conmons still waiting (their pids, one per line). */
function killWaiting(pids: string): void {
  if (!fs.existsSync(pids)) return;
  for (const pid of fs.readFileSync(pids, 'utf8').split('\n').filter(Boolean).map(Number)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone, or already exec'd into conmon and exited */
    }
  }
}

describe('two processes on one store (state.db)', function () {
  this.timeout(120_000);
  let dir: string;
  let pod: TestPod;
  let image: EngineImage;
  let opts: ContainerEngineOptions;
  const children: ChildProcess[] = [];

  before(() => {
    dir = tempDir('peapod-procs-');
    image = buildBusyboxImage(path.join(dir, 'image'));
    pod = createTestPod(path.join(dir, 'pod'), path.join(dir, 'pods', 'log'));
    opts = testEngineOptions(dir);
  });

  const waiting: string[] = [];

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    for (const pids of waiting) killWaiting(pids);
    for (const owner of ['cli', 'cri'] as const) {
      const state = openStateDb(opts.root, owner);
      const engine = await ContainerEngine.open({ ...opts, state });
      for (const c of engine.list()) await engine.remove(c.id).catch(() => undefined);
      engine.close();
      state.close();
    }
    pod?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates containers in two processes at once: each sees both, no recovery removes the other in-flight creation', async () => {
    // conmon waits for a gate file, so both creations stay in flight until the test opens it.
    const conmon = slowConmon(dir, 'slow-conmon');
    waiting.push(conmon.pids);
    const job = (name: string) => ({ root: opts.root, runroot: opts.runroot, runtimeRoot: opts.runtimes.runc.runtime_root, conmon: conmon.path, owner: 'cli', sandbox: pod.sandbox, image, name });
    const start = (name: string): { child: ChildProcess; next: () => Promise<string> } => {
      const child = spawn(process.execPath, [path.resolve(__dirname, '..', 'fixtures', 'container-process.js')], {
        env: { ...process.env, PEAPOD_TEST_JOB: JSON.stringify(job(name)) },
        stdio: ['pipe', 'pipe', 'inherit'],
      });
      children.push(child);
      return { child, next: lines(child) };
    };
    const rows = (): { name: string; state: string; creator_pid: number }[] => {
      if (!fs.existsSync(path.join(opts.root, 'state.db'))) return [];
      const db = new Database(path.join(opts.root, 'state.db'), { readonly: true });
      try {
        // The file exists a moment before the first process has made its tables.
        if (!db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'containers'").get()) return [];
        return db.prepare('SELECT name, state, creator_pid FROM containers ORDER BY name').all() as { name: string; state: string; creator_pid: number }[];
      } catch (err) {
        // The first process has made the file but not yet its tables: no rows yet.
        if (/no such table/.test((err as Error).message)) return [];
        throw err;
      } finally {
        db.close();
      }
    };

    const b = start('b');
    await waitFor(() => rows().some((r) => r.name === 'b' && r.state === 'creating'), 30_000, "b's creation to start");
    // A second process opens the store (its recovery runs) while b is being created.
    const a = start('a');
    await waitFor(() => rows().some((r) => r.name === 'a' && r.state === 'creating'), 30_000, "a's creation to start");
    expect(rows().find((r) => r.name === 'b')).to.deep.include({ state: 'creating', creator_pid: b.child.pid });
    // A third opening, of each front end, while both are in flight: the creators live, so nothing is rolled back.
    for (const owner of ['cli', 'cri'] as const) {
      const state = openStateDb(opts.root, owner);
      const engine = await ContainerEngine.open({ ...opts, state });
      engine.close();
      state.close();
    }
    expect(rows().map((r) => [r.name, r.state])).to.deep.equal([
      ['a', 'creating'],
      ['b', 'creating'],
    ]);

    fs.writeFileSync(conmon.gate, '');
    const [createdA, createdB] = await Promise.all([a.next(), b.next()]);
    expect(createdA).to.match(/^created [0-9a-f]{64}$/);
    expect(createdB).to.match(/^created [0-9a-f]{64}$/);
    const ids = [createdA.slice(8), createdB.slice(8)].sort();
    for (const p of [a, b]) {
      p.child.stdin!.write('list\n');
      expect((JSON.parse(await p.next()) as string[]).sort()).to.deep.equal(ids);
    }
    expect(rows().map((r) => r.state)).to.deep.equal(['created', 'created']);
    for (const p of [a, b]) p.child.stdin!.end('exit\n');
  });

  it('rolls back, at the next start of its front end, a creation whose process was killed with SIGKILL', async () => {
    const conmon = slowConmon(dir, 'slow-conmon2');
    waiting.push(conmon.pids);
    const child = spawn(process.execPath, [path.resolve(__dirname, '..', 'fixtures', 'container-process.js')], {
      env: { ...process.env, PEAPOD_TEST_JOB: JSON.stringify({ root: opts.root, runroot: opts.runroot, runtimeRoot: opts.runtimes.runc.runtime_root, conmon: conmon.path, owner: 'cli', sandbox: pod.sandbox, image, name: 'killed' }) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(child);
    const state = openStateDb(opts.root, 'cli');
    const find = () => state.db.prepare("SELECT id, record FROM containers WHERE name = 'killed'").get() as { id: string; record: string } | undefined;
    await waitFor(() => find() !== undefined, 30_000, 'the creation to start');
    const rec = JSON.parse(find()!.record) as { rootfs: string; bundle: string };
    await waitFor(() => fs.existsSync(path.join(rec.bundle, 'config.json')), 30_000, 'the bundle to be written');
    await waitFor(() => fs.existsSync(conmon.pids), 30_000, 'conmon to be started');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    killWaiting(conmon.pids); // the monitor that was about to start
    // The other front end's start leaves it alone; the next start of its own rolls it back.
    const cri = openStateDb(opts.root, 'cri');
    (await ContainerEngine.open({ ...opts, state: cri })).close();
    cri.close();
    expect(find()).to.not.equal(undefined);
    (await ContainerEngine.open({ ...opts, state })).close();
    expect(find()).to.equal(undefined);
    expect(fs.existsSync(rec.bundle)).to.equal(false);
    state.close();
  });
});
