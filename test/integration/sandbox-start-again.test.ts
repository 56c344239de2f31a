import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import pino from 'pino';
import { loadConfig, PeapodConfig } from '../../src/common/config';
import { isProcessAlive } from '../../src/common/host/proc';
import { isMountPoint } from '../../src/common/host/mounts';
import { openPeapod, Peapod } from '../../src/runtime-service/peapod';
import { isNamespaceFile } from '../../src/runtime-service/sandbox/namespaces';
import { sandboxPaths } from '../../src/runtime-service/sandbox/paths';
import { makeTestCniNetwork, TestCniNetwork } from './harness/cni-net';
import { run } from './harness/netns-tools';

/** The IPv4 address of eth0 in a network namespace, or '' when it has none. */
async function eth0Address(netns: string): Promise<string> {
  const out = await run('nsenter', [`--net=${netns}`, 'ip', '-o', '-4', 'addr', 'show']);
  return /\beth0\s+inet (\S+)\//.exec(out)?.[1] ?? '';
}

describe('sandboxes: a stopped pod started again (Sandboxes.start)', function () {
  this.timeout(120_000);
  let dir: string;
  let network: TestCniNetwork;
  let config: PeapodConfig;
  let peapod: Peapod;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-restart-'));
    network = makeTestCniNetwork();
    fs.writeFileSync(path.join(dir, 'peapod.conf'), network.configToml);
    fs.mkdirSync(path.join(dir, 'conf.d'));
    config = loadConfig({ configFile: path.join(dir, 'peapod.conf'), configDir: path.join(dir, 'conf.d'), overrides: { root: path.join(dir, 'root'), runroot: path.join(dir, 'run') } });
    peapod = openPeapod(config, pino({ level: 'silent' }), { owner: 'cli' });
    await peapod.recover({ reconcileRuntime: false, watchExits: false });
  });
  after(async () => {
    for (const p of peapod?.sandboxes.list() ?? []) await peapod.sandboxes.remove(p.id);
    peapod?.close();
    network?.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sets the network, /dev/shm, a new infra process and the /etc files up again; stop and remove still clean up', async () => {
    const pod = await peapod.sandboxes.create({ metadata: { name: 'again' }, hostname: 'again-host', portMappings: [{ hostPort: 20000 + Math.floor(Math.random() * 10000), containerPort: 80, protocol: 'tcp' }] });
    const paths = sandboxPaths(config, pod.id);
    expect(pod.setup).to.include({ hostname: 'again-host' });
    const firstInfra = { pid: pod.infraPid!, startTime: pod.infraStartTime! };
    await peapod.sandboxes.stop(pod.id);
    expect(peapod.sandboxes.get(pod.id)!.state).to.equal('notready');
    expect(isProcessAlive(firstInfra)).to.equal(false);
    expect(isMountPoint(paths.shmDir)).to.equal(false);
    expect(await eth0Address(paths.netnsPin)).to.equal('');

    const again = await peapod.sandboxes.start(pod.id);
    expect(again.state).to.equal('ready');
    expect(again.ip).to.match(new RegExp(`^${network.subnet.split('.').slice(0, 3).join('\\.')}\\.`));
    expect(await eth0Address(paths.netnsPin)).to.equal(again.ip);
    expect(isMountPoint(paths.shmDir)).to.equal(true);
    expect(again.infraPid).to.not.equal(firstInfra.pid);
    expect(isProcessAlive({ pid: again.infraPid!, startTime: again.infraStartTime! })).to.equal(true);
    // The pin names the new infra's PID namespace (the old one, whose PID 1 died, takes no process).
    expect(again.namespaces.pid).to.equal(pod.namespaces.pid);
    expect(fs.statSync(again.namespaces.pid!).ino, 'the pin after the start again').to.equal(fs.statSync(`/proc/${again.infraPid}/ns/pid`).ino);
    expect(fs.readFileSync(paths.hostsFile, 'utf8')).to.contain(`${again.ip}\tagain-host`);
    expect((await run('nsenter', [`--uts=${paths.utsnsPin}`, 'hostname'])).trim()).to.equal('again-host');
    // A ready pod is left as it is.
    expect((await peapod.sandboxes.start(pod.id)).infraPid).to.equal(again.infraPid);

    await peapod.sandboxes.remove(pod.id);
    expect(isProcessAlive({ pid: again.infraPid!, startTime: again.infraStartTime! })).to.equal(false);
    expect(fs.existsSync(paths.runDir)).to.equal(false);
    expect(fs.existsSync(path.join(paths.stateDir, 'cni.json'))).to.equal(false);
  });

  it('makes the namespaces again when their pins are gone (as after a reboot), hostname and loopback included', async () => {
    const pod = await peapod.sandboxes.create({ metadata: { name: 'rebooted' }, hostname: 'rb', namespaceOptions: { pid: 'CONTAINER' } });
    const paths = sandboxPaths(config, pod.id);
    await peapod.sandboxes.stop(pod.id);
    // What a reboot leaves: the runroot empty.
    for (const pin of [paths.netnsPin, paths.ipcnsPin, paths.utsnsPin]) await run('umount', [pin]);
    fs.rmSync(paths.runDir, { recursive: true, force: true });
    const again = await peapod.sandboxes.start(pod.id);
    for (const pin of [paths.netnsPin, paths.ipcnsPin, paths.utsnsPin]) expect(isNamespaceFile(pin), pin).to.equal(true);
    expect((await run('nsenter', [`--uts=${paths.utsnsPin}`, 'hostname'])).trim()).to.equal('rb');
    expect(await run('nsenter', [`--net=${paths.netnsPin}`, 'ip', '-o', 'link', 'show', 'lo'])).to.match(/<LOOPBACK,UP/);
    expect(await eth0Address(paths.netnsPin)).to.equal(again.ip);
    await peapod.sandboxes.remove(pod.id);
  });

  it('a failing start (the network refuses) tears down what it set up and leaves the pod notready', async () => {
    const pod = await peapod.sandboxes.create({ metadata: { name: 'refused' } });
    const paths = sandboxPaths(config, pod.id);
    await peapod.sandboxes.stop(pod.id);
    // The pod was made the CRI way (the configured directory's network): make that network refuse ADD.
    const file = path.join(network.confDir, fs.readdirSync(network.confDir)[0]);
    const saved = fs.readFileSync(file, 'utf8');
    const conf = JSON.parse(saved) as { plugins: { type: string }[] };
    conf.plugins.push({ type: 'peapod-fail' });
    fs.writeFileSync(file, JSON.stringify(conf));
    try {
      const err = await peapod.sandboxes.start(pod.id).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err?.message).to.match(/invalid network config/);
    } finally {
      fs.writeFileSync(file, saved);
    }
    const rec = peapod.sandboxes.get(pod.id)!;
    expect(rec.state).to.equal('notready');
    expect(isProcessAlive({ pid: rec.infraPid!, startTime: rec.infraStartTime! })).to.equal(false);
    expect(isMountPoint(paths.shmDir)).to.equal(false);
    expect(await eth0Address(paths.netnsPin)).to.equal('');
    // …and it can be started once the network works again.
    expect((await peapod.sandboxes.start(pod.id)).state).to.equal('ready');
    await peapod.sandboxes.remove(pod.id);
  });

  it('refuses a pod recorded by an older peapod (no set-up kept) with WRONG_STATE, and an unknown ID with NOT_FOUND', async () => {
    const pod = await peapod.sandboxes.create({ metadata: { name: 'old' }, namespaceOptions: { pid: 'CONTAINER' } });
    await peapod.sandboxes.stop(pod.id);
    peapod.state.db.prepare("UPDATE pods SET record = json_remove(record, '$.setup') WHERE id = ?").run(pod.id);
    const err = await peapod.sandboxes.start(pod.id).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    expect(err).to.include({ code: 'WRONG_STATE' });
    expect(err!.message).to.match(/older peapod/);
    const unknown = await peapod.sandboxes.start('0'.repeat(64)).then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    expect(unknown).to.include({ code: 'NOT_FOUND' });
    await peapod.sandboxes.remove(pod.id);
  });
});
