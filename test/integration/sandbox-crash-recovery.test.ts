import { expect } from 'chai';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import { isProcessAlive, processesWithArgument } from '../../src/common/host/proc';
import { startInfra } from '../../src/runtime-service/sandbox/infra';
import { busyboxImage, pushImage } from '../fixtures/image-builder';
import { makeTestCniNetwork, TestCniNetwork } from './harness/cni-net';
import { removeAllPods } from './harness/client';
import { startRegistry, TestRegistry } from './harness/registry';
import { startServer, TestServer } from './harness/server';

const mountsUnder = (dir: string): string[] =>
  fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m && m.startsWith(dir + '/'));

/** A pin of new net, ipc and uts namespaces in `runDir`, as a sandbox creation makes them. */
function pinNamespaces(runDir: string): void {
  fs.mkdirSync(runDir, { recursive: true });
  for (const f of ['netns', 'ipcns', 'utsns']) fs.writeFileSync(path.join(runDir, f), '');
  execFileSync('unshare', [`--net=${runDir}/netns`, `--ipc=${runDir}/ipcns`, `--uts=${runDir}/utsns`, 'true']);
}

/**
 * What a crash of peapod-cri leaves of pods, and what the next start makes
 * of it: an infra process started but not yet recorded, rows whose record
 * cannot be read, sandbox files without any row. Nothing is skipped.
 */
describe('sandbox recovery of what a crash left (real CNI, runc, conmon)', function () {
  this.timeout(180_000);
  let network: TestCniNetwork;
  let registry: TestRegistry;
  let server: TestServer | undefined;
  let image: string;

  const podConfig = (name: string, pid: 'POD' | 'CONTAINER' = 'CONTAINER'): PodSandboxConfig => ({
    metadata: { name, namespace: 'peapod-crash', uid: randomBytes(8).toString('hex'), attempt: 0 },
    hostname: name,
    linux: { security_context: { namespace_options: { network: 'POD', pid, ipc: 'POD' } } },
  });

  before(async () => {
    network = makeTestCniNetwork();
    registry = await startRegistry();
    await pushImage(registry.url, 'test/busybox', 'v1', await busyboxImage({}));
    image = `${registry.host}/test/busybox:v1`;
  });

  afterEach(async () => {
    if (server) {
      await removeAllPods(server.client);
      await server.cleanup();
      server = undefined;
    }
  });

  after(async () => {
    await registry?.stop();
    network?.cleanup();
  });

  it('kills, at the next start, an infra process a crash left unrecorded, with its namespaces', async () => {
    server = await startServer({ config: network.configToml });
    const id = (await server.client.runtime.RunPodSandbox({ config: podConfig('recorded', 'POD') })).pod_sandbox_id;
    await server.kill();
    server.client.close();

    // A RunPodSandbox of a shared-PID pod killed right after it started the
    // infra process, before the record had its pid: row creating, pins made,
    // the infra running.
    const halfId = randomBytes(32).toString('hex');
    const halfRun = path.join(server.runroot, 'sandboxes', halfId);
    fs.mkdirSync(path.join(server.root, 'sandboxes', halfId), { recursive: true });
    pinNamespaces(halfRun);
    const db = new Database(path.join(server.root, 'state.db'));
    const row = db.prepare('SELECT * FROM pods WHERE id = ?').get(id) as { record: string; created_at: string };
    const half = JSON.parse(row.record.split(id).join(halfId)) as Record<string, unknown>;
    Object.assign(half, { state: 'creating', metadata: { name: 'half', namespace: 'peapod-crash', uid: 'u-half', attempt: 0 } });
    delete half.infraPid;
    delete half.infraStartTime;
    delete (half.namespaces as Record<string, unknown>).pid;
    db.prepare("INSERT INTO pods (id, name, namespace, uid, attempt, state, owner, creator_pid, creator_start, created_at, record) VALUES (?, 'half', 'peapod-crash', 'u-half', 0, 'creating', 'cri', 2147483647, '1', ?, ?)").run(
      halfId,
      row.created_at,
      JSON.stringify(half),
    );
    db.close();
    const infra = await startInfra(halfId, { network: `${halfRun}/netns`, ipc: `${halfRun}/ipcns`, uts: `${halfRun}/utsns` }, `${halfRun}/pidns`);
    expect(isProcessAlive(infra)).to.equal(true);

    server = await startServer({ dir: server.dir, config: network.configToml });
    expect(isProcessAlive(infra)).to.equal(false, 'the infra process');
    expect(await processesWithArgument(halfId)).to.deep.equal([]);
    expect(mountsUnder(halfRun)).to.deep.equal([]);
    expect(fs.existsSync(halfRun)).to.equal(false);
    expect(fs.existsSync(path.join(server.root, 'sandboxes', halfId))).to.equal(false);
    // The recorded pod keeps its infra process.
    const st = (await server.client.runtime.PodSandboxStatus({ pod_sandbox_id: id })).status!;
    expect(st.state).to.equal('SANDBOX_READY');
  });

  it('repairs pod and container rows whose record cannot be read: listed NOTREADY and exited, and removed cleanly', async () => {
    server = await startServer({ config: network.configToml });
    await server.client.image.PullImage({ image: { image } });
    const pc = podConfig('damaged');
    const id = (await server.client.runtime.RunPodSandbox({ config: pc })).pod_sandbox_id;
    const { container_id } = await server.client.runtime.CreateContainer({
      pod_sandbox_id: id,
      config: { metadata: { name: 'c', attempt: 0 }, image: { image }, command: ['sleep', '300'] },
      sandbox_config: pc,
    });
    await server.client.runtime.StartContainer({ container_id });
    await server.kill();
    server.client.close();
    const db = new Database(path.join(server.root, 'state.db'));
    db.prepare("UPDATE pods SET record = '{\"id\": 12' WHERE id = ?").run(id);
    db.prepare("UPDATE containers SET record = 'not json' WHERE id = ?").run(container_id);
    db.close();

    server = await startServer({ dir: server.dir, config: network.configToml });
    expect(server.stderr()).to.not.contain('Error');
    const pods = (await server.client.runtime.ListPodSandbox({})).items;
    const pod = pods.find((p) => p.id === id);
    expect(pod, 'the damaged pod is listed').to.not.equal(undefined);
    expect(pod!.state).to.equal('SANDBOX_NOTREADY');
    expect(pod!.metadata).to.deep.include({ name: pc.metadata!.name, namespace: pc.metadata!.namespace, uid: pc.metadata!.uid });
    const ctr = (await server.client.runtime.ContainerStatus({ container_id })).status!;
    expect(ctr.state).to.equal('CONTAINER_EXITED');
    expect(ctr.exit_code).to.equal(255);

    await server.client.runtime.RemovePodSandbox({ pod_sandbox_id: id });
    expect((await server.client.runtime.ListContainers({})).containers).to.deep.equal([]);
    expect(await processesWithArgument(container_id)).to.deep.equal([]);
    const runDir = path.join(server.runroot, 'sandboxes', id);
    expect(mountsUnder(runDir)).to.deep.equal([]);
    expect(fs.existsSync(runDir)).to.equal(false);
    expect(fs.readFileSync('/proc/self/mountinfo', 'utf8')).to.not.contain(container_id);
    for (const d of ['containers', 'containers-exits', 'containers-sockets']) expect(fs.readdirSync(path.join(server.runroot, d)), d).to.deep.equal([]);
  });

  it('tears down, with a log line, sandbox files that have no row (an unreadable legacy record); deletes locks of dead holders', async () => {
    server = await startServer({ config: network.configToml });
    await server.kill();
    server.client.close();
    const strayId = randomBytes(32).toString('hex');
    const stateDir = path.join(server.root, 'sandboxes', strayId);
    const runDir = path.join(server.runroot, 'sandboxes', strayId);
    fs.mkdirSync(stateDir, { recursive: true });
    fs.writeFileSync(path.join(stateDir, 'sandbox.json'), '{"version": 2, "id": "trunc');
    pinNamespaces(runDir);
    expect(mountsUnder(runDir)).to.have.length(3);
    // And a lock its holder, killed, never released.
    const db = new Database(path.join(server.root, 'state.db'));
    db.prepare("INSERT INTO locks (key, pid, acquired, start_time) VALUES ('pod:' || ?, 2147483647, 0, '1')").run(strayId);
    db.close();

    server = await startServer({ dir: server.dir, config: network.configToml });
    expect(mountsUnder(runDir)).to.deep.equal([]);
    expect(fs.existsSync(runDir)).to.equal(false);
    expect(fs.existsSync(stateDir)).to.equal(false);
    expect(server.stderr()).to.contain(strayId);
    expect(server.stderr()).to.contain('sandbox files without a record');
    const after = new Database(path.join(server.root, 'state.db'), { readonly: true });
    // The dead holder's lock is gone; the running server's own (one peapod-cri per root) stays.
    expect(after.prepare("SELECT key FROM locks WHERE key != 'peapod-cri'").all()).to.deep.equal([]);
    after.close();
  });
});
