import { expect } from 'chai';
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { processesWithArgument } from '../../src/common/host/proc';
import { ContainerEngine, ContainerEngineOptions, EngineImage } from '../../src/runtime-service/container/engine';
import { openStateDb } from '../../src/runtime-service/state-db';
import { buildBusyboxImage, createTestPod, tempDir, TestPod, testEngineOptions } from './helpers/busybox-pod';
import { waitFor } from './helpers/wait';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** The runtime's status of a container, or undefined when it does not know it. */
function runcStatus(runtimeRoot: string, id: string): string | undefined {
  try {
    return (JSON.parse(execFileSync('/usr/sbin/runc', ['--root', runtimeRoot, 'state', id], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as { status: string }).status;
  } catch {
    return undefined;
  }
}

/**
 * Creations cut short by a crash of their process after conmon had made the
 * container, rolled back by the next start of the front end: everything the
 * creation made is unmade (container/teardown.ts), conmon's socket link and
 * exit file included.
 */
describe('rolling back container creations cut short by a crash (real runc, conmon)', function () {
  this.timeout(120_000);
  let dir: string;
  let pod: TestPod;
  let image: EngineImage;
  let opts: ContainerEngineOptions;
  const children: ChildProcess[] = [];

  before(() => {
    dir = tempDir('peapod-rollback-');
    image = buildBusyboxImage(path.join(dir, 'image'));
    pod = createTestPod(path.join(dir, 'pod'), path.join(dir, 'pods', 'log'));
    opts = testEngineOptions(dir);
  });

  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    const state = openStateDb(opts.root, 'cli');
    const engine = await ContainerEngine.open({ ...opts, state });
    for (const c of engine.list()) await engine.remove(c.id).catch(() => undefined);
    engine.close();
    state.close();
    pod?.cleanup();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('leaves no conmon, runtime state, socket link, exit file, mount, bundle or layer of a creation whose process was killed after conmon made the container', async () => {
    // A conmon that makes the container but never reports to its creator
    // (its sync pipe goes nowhere, while the wrapper holds the creator's
    // open): the creation stays in flight with the container made.
    const conmon = path.join(dir, 'silent-conmon');
    const wrapperPid = path.join(dir, 'silent-conmon.pid');
    fs.writeFileSync(conmon, `#!/bin/sh\necho $$ > ${wrapperPid}\n_OCI_SYNCPIPE=5 /usr/bin/conmon "$@" 5>/dev/null\nexec sleep 600\n`, { mode: 0o755 });
    const job = { root: opts.root, runroot: opts.runroot, runtimeRoot: opts.runtimes.runc.runtime_root, conmon, owner: 'cli', sandbox: pod.sandbox, image, name: 'cut-short' };
    const child = spawn(process.execPath, [path.resolve(__dirname, '..', 'fixtures', 'container-process.js')], {
      env: { ...process.env, PEAPOD_TEST_JOB: JSON.stringify(job) },
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    children.push(child);
    const state = openStateDb(opts.root, 'cli');
    const row = () => state.db.prepare("SELECT id, state, record FROM containers WHERE name = 'cut-short'").get() as { id: string; state: string; record: string } | undefined;
    await waitFor(() => row() !== undefined, 30_000, 'the creation to start');
    const id = row()!.id;
    const rec = JSON.parse(row()!.record) as { rootfs: string; bundle: string; upperDir: string };
    await waitFor(() => runcStatus(opts.runtimes.runc.runtime_root, id) === 'created', 30_000, 'conmon to have the runtime create the container');
    const link = path.join(opts.runroot, 'containers-sockets', id);
    expect(fs.existsSync(link)).to.equal(true);
    expect((await processesWithArgument(id)).length).to.be.greaterThan(0);
    expect(row()!.state).to.equal('creating');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    process.kill(Number(fs.readFileSync(wrapperPid, 'utf8')), 'SIGKILL'); // the wrapper holding the sync pipe

    const engine = await ContainerEngine.open({ ...opts, state });
    engine.close();
    expect(row()).to.equal(undefined);
    expect(runcStatus(opts.runtimes.runc.runtime_root, id)).to.equal(undefined);
    expect(await processesWithArgument(id)).to.deep.equal([]);
    expect(fs.existsSync(link)).to.equal(false, 'conmon socket link');
    expect(fs.existsSync(path.join(opts.runroot, 'containers-exits', id))).to.equal(false, 'exit file');
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).to.not.contain(rec.rootfs);
    expect(fs.existsSync(rec.bundle)).to.equal(false, 'bundle');
    expect(fs.existsSync(path.dirname(rec.upperDir))).to.equal(false, 'writable layer');
    // No exit file or link appears later either (a monitor left running would write them at the container's end).
    await new Promise((r) => setTimeout(r, 500));
    expect(fs.readdirSync(path.join(opts.runroot, 'containers-exits'))).to.deep.equal([]);
    expect(fs.readdirSync(path.join(opts.runroot, 'containers-sockets'))).to.deep.equal([]);
    state.close();
  });

  it('leaves nothing of a creation the runtime refused: no socket link, exit file, bundle, layer or record', async () => {
    // A runtime whose `create` fails after conmon has set up its attach socket.
    const refusing = path.join(dir, 'refusing-runc');
    fs.writeFileSync(refusing, '#!/bin/sh\nfor a; do [ "$a" = create ] && { echo "create refused by the test" >&2; exit 1; }; done\nexec /usr/sbin/runc "$@"\n', { mode: 0o755 });
    const state = openStateDb(opts.root, 'cli');
    const engine = await ContainerEngine.open({ ...opts, runtimes: { runc: { runtime_path: refusing, runtime_root: opts.runtimes.runc.runtime_root } }, state });
    try {
      const err = await engine.create(pod.sandbox, { name: 'refused', image: { name: 'busybox' }, entrypoint: ['sleep', '300'] }, image).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).to.contain('create refused by the test');
      expect(state.db.prepare("SELECT id FROM containers WHERE name = 'refused'").get()).to.equal(undefined);
      for (const d of ['containers-sockets', 'containers-exits', 'containers']) expect(fs.readdirSync(path.join(opts.runroot, d)), d).to.deep.equal([]);
      expect(fs.readdirSync(path.join(opts.root, 'containers'))).to.deep.equal([]);
    } finally {
      engine.close();
      state.close();
    }
  });

  it('removes, at the next start, exit files and socket links that have no record', async () => {
    const stray = 'f'.repeat(64);
    fs.writeFileSync(path.join(opts.runroot, 'containers-exits', stray), '0');
    fs.symlinkSync(path.join(opts.runroot, 'containers', stray), path.join(opts.runroot, 'containers-sockets', stray));
    const state = openStateDb(opts.root, 'cli');
    (await ContainerEngine.open({ ...opts, state })).close();
    state.close();
    expect(fs.readdirSync(path.join(opts.runroot, 'containers-exits'))).to.deep.equal([]);
    expect(fs.readdirSync(path.join(opts.runroot, 'containers-sockets'))).to.deep.equal([]);
  });
});
