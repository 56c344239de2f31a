import { expect } from 'chai';
import * as grpc from '@grpc/grpc-js';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { joinLogLines } from '../../src/runtime-service/container/logs';
import { buildImage, busyboxFiles, pushImage } from '../fixtures/image-builder';
import { removeAllPods } from './harness/client';
import { startRegistry, TestRegistry } from './harness/registry';
import { startServer, TestServer } from './harness/server';
import { rpcError, until } from './helpers/wait';

/** The unprivileged host user the checks run as. */
const NOBODY = 65534;

/** Runs a command as `nobody`: its exit status and output (a spawn refused by the kernel gives status null and its errno). */
function asNobody(file: string, args: string[] = []): { status: number | null; out: string; error?: string } {
  const r = spawnSync(file, args, { uid: NOBODY, gid: NOBODY, encoding: 'utf8', timeout: 10_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}`.trim(), error: (r.error as NodeJS.ErrnoException | undefined)?.code };
}

const modeOf = (p: string): string => (fs.statSync(p).mode & 0o7777).toString(8).padStart(4, '0');

/** The mount options (the per-mount part of /proc/self/mountinfo) of the mount at `target`. */
function mountOptions(target: string): string[] | undefined {
  const line = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[4] === target);
  return line?.split(' ')[5].split(',');
}

describe('who can reach container state on the host (root, runroot, bundles, databases, rootfs)', function () {
  this.timeout(120_000);
  let registry: TestRegistry;
  let server: TestServer;
  let dir: string;
  let logRoot: string;
  let image: string;

  before(async () => {
    // Everything above peapod's own directories is open to every user, and
    // its directories exist already with the modes an older peapod or
    // scripts/start-cri.sh left (0755, files 0644): only what peapod
    // enforces at its start stands between a host user and the state.
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-perm-'));
    fs.chmodSync(dir, 0o755);
    for (const d of ['root', 'root/containers', 'root/sandboxes', 'root/storage', 'runroot', 'runroot/containers', 'runroot/sandboxes', 'runroot/containers-exits']) {
      fs.mkdirSync(path.join(dir, d), { mode: 0o755 });
      fs.chmodSync(path.join(dir, d), 0o755);
    }
    fs.writeFileSync(path.join(dir, 'root', 'state.db'), '', { mode: 0o644 });
    logRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-perm-logs-'));
    registry = await startRegistry();
    // The image carries a setuid-root copy of the host's id(1) (CVE-2021-41091: image files
    // reachable on the host) and a plain copy for the container to make setuid itself.
    const hostId = fs.readFileSync('/usr/bin/id');
    const built = await buildImage({
      layers: [{ files: [...busyboxFiles(), { type: 'file', path: 'img-suid-id', content: hostId, mode: 0o4755 }, { type: 'file', path: 'plain-id', content: hostId, mode: 0o755 }] }],
      config: { Cmd: ['sh'] },
    });
    await pushImage(registry.url, 'test/perm', 'v1', built);
    image = `${registry.host}/test/perm:v1`;
    server = await startServer({ dir });
    await server.client.image.PullImage({ image: { image } });
  });

  after(async () => {
    if (server) {
      await removeAllPods(server.client);
      await server.cleanup();
    }
    await registry?.stop();
    if (logRoot) fs.rmSync(logRoot, { recursive: true, force: true });
  });

  it('keeps bundles, config.json, the databases, the rootfs and container-made setuid files and device nodes from other users', async () => {
    const podConfig = {
      metadata: { name: 'perm', namespace: 'peapod-test', uid: randomBytes(8).toString('hex'), attempt: 0 },
      log_directory: path.join(logRoot, 'perm'),
      linux: { security_context: { namespace_options: { network: 'NODE' as const, pid: 'CONTAINER' as const, ipc: 'POD' as const } } },
    };
    const pod = (await server.client.runtime.RunPodSandbox({ config: podConfig })).pod_sandbox_id;
    const script = 'cp /plain-id /suid-id && chmod 4755 /suid-id && mknod /null-dev c 1 3 && chmod 666 /null-dev && echo ready; grep " / / " /proc/self/mountinfo; while true; do sleep 1; done';
    const { container_id: id } = await server.client.runtime.CreateContainer({
      pod_sandbox_id: pod,
      config: {
        metadata: { name: 'writer', attempt: 0 },
        image: { image },
        command: ['/bin/sh', '-c', script],
        envs: [{ key: 'SECRET_TOKEN', value: Buffer.from('hunter2') }],
        log_path: 'writer/0.log',
      },
      sandbox_config: podConfig,
    });
    await server.client.runtime.StartContainer({ container_id: id });
    const logFile = path.join(logRoot, 'perm', 'writer', '0.log');
    expect(await until(() => fs.existsSync(logFile) && joinLogLines(fs.readFileSync(logFile, 'utf8')).some((l) => l.line === 'ready'), 20_000), 'the container wrote its files').to.equal(true);

    const bundle = path.join(server.runroot, 'containers', id);
    const upper = path.join(server.root, 'containers', id, 'upper');
    const rootfs = path.join(bundle, 'rootfs');
    // The files exist (as root sees them), the secret is in config.json.
    expect(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')).to.contain('SECRET_TOKEN=hunter2');
    expect(modeOf(path.join(upper, 'suid-id'))).to.equal('4755');
    expect(fs.statSync(path.join(upper, 'null-dev')).isCharacterDevice()).to.equal(true);

    // As nobody: nothing listed, read, executed or opened.
    for (const d of [server.root, server.runroot, path.join(server.runroot, 'containers'), bundle, rootfs, path.join(server.root, 'storage')]) {
      const r = asNobody('/bin/ls', [d]);
      expect(r.status, `ls ${d}: ${r.out}`).to.not.equal(0);
      expect(r.out, d).to.match(/Permission denied/);
    }
    for (const f of [path.join(bundle, 'config.json'), path.join(server.root, 'state.db'), path.join(server.root, 'storage', 'images.db'), path.join(rootfs, 'etc/passwd')]) {
      const r = asNobody('/bin/cat', [f]);
      expect(r.status, `cat ${f}: ${r.out}`).to.not.equal(0);
      expect(r.out).to.not.contain('hunter2');
    }
    for (const exe of [path.join(rootfs, 'suid-id'), path.join(upper, 'suid-id'), path.join(rootfs, 'img-suid-id')]) {
      const r = asNobody(exe, ['-u']);
      expect(r.out, exe).to.not.equal('0');
      expect(r.error, exe).to.equal('EACCES');
    }
    for (const dev of [path.join(rootfs, 'null-dev'), path.join(upper, 'null-dev')]) {
      const r = asNobody('/bin/cat', [dev]);
      expect(r.status, `cat ${dev}: ${r.out}`).to.not.equal(0);
      expect(r.out, dev).to.match(/Permission denied/);
    }

    // The modes, enforced on the directories that existed with 0755 and on the files.
    expect(modeOf(server.root)).to.equal('0700');
    expect(modeOf(server.runroot)).to.equal('0710');
    for (const d of ['containers', 'sandboxes', 'storage']) expect(modeOf(path.join(server.root, d)), d).to.equal('0700');
    for (const d of ['containers', 'sandboxes', 'containers-exits', 'containers-sockets']) expect(modeOf(path.join(server.runroot, d)), d).to.equal('0700');
    expect(modeOf(bundle)).to.equal('0700');
    expect(modeOf(path.join(server.root, 'containers', id))).to.equal('0700');
    expect(modeOf(path.join(server.runroot, 'sandboxes', pod))).to.equal('0700');
    expect(modeOf(path.join(server.root, 'sandboxes', pod))).to.equal('0700');
    expect(modeOf(path.join(bundle, 'config.json'))).to.equal('0600');
    for (const f of ['state.db', 'storage/images.db']) expect(modeOf(path.join(server.root, f)), f).to.equal('0600');
    // The files bound into containers stay readable by a container's non-root user.
    expect(modeOf(path.join(server.root, 'sandboxes', pod, 'resolv.conf'))).to.equal('0644');

    // The host's view of the rootfs is nosuid,nodev; the container's own view is not (its setuid programs work).
    expect(mountOptions(rootfs)).to.include.members(['nosuid', 'nodev']);
    const inside = joinLogLines(fs.readFileSync(logFile, 'utf8')).find((l) => / \/ \/ /.test(l.line));
    expect(inside?.line.split(' ')[5].split(','), inside?.line).to.not.include('nosuid');
    const r = await server.client.runtime.ExecSync({ container_id: id, cmd: ['/bin/sh', '-c', 'stat -c %a /suid-id; cat /null-dev && echo opened'], timeout: 10 });
    expect(r.stdout.toString()).to.equal('4755\nopened\n');
  });

  it('refuses a log directory another user could swap (a symbolic link there would have root write into any file): INVALID_ARGUMENT, nothing left', async () => {
    // A directory a host user made in the world-writable /tmp, with a link to a file of root's where the log will be.
    const hostile = path.join(logRoot, 'eve');
    fs.mkdirSync(hostile);
    fs.chownSync(hostile, NOBODY, NOBODY);
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'root only\n', { mode: 0o600 });
    fs.symlinkSync(victim, path.join(hostile, '0.log'));
    const podConfig = (name: string, logDirectory: string) => ({
      metadata: { name, namespace: 'peapod-test', uid: randomBytes(8).toString('hex'), attempt: 0 },
      log_directory: logDirectory,
      linux: { security_context: { namespace_options: { network: 'NODE' as const, pid: 'CONTAINER' as const, ipc: 'POD' as const } } },
    });
    const before = (await server.client.runtime.ListPodSandbox({})).items.length;
    const err = await rpcError(server.client.runtime.RunPodSandbox({ config: podConfig('eve-pod', hostile) }));
    expect(err.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(err.details).to.contain('config.log_directory').and.to.contain(`owned by uid ${NOBODY}`);
    expect((await server.client.runtime.ListPodSandbox({})).items).to.have.length(before);

    // A pod's own log directory is root's, but the container's log_path goes through a link to the user's directory.
    const ownDir = path.join(logRoot, 'own');
    const cfg = podConfig('own-pod', ownDir);
    const pod = (await server.client.runtime.RunPodSandbox({ config: cfg })).pod_sandbox_id;
    fs.symlinkSync(hostile, path.join(ownDir, 'via-link'));
    const err2 = await rpcError(
      server.client.runtime.CreateContainer({ pod_sandbox_id: pod, config: { metadata: { name: 'c', attempt: 0 }, image: { image }, command: ['true'], log_path: 'via-link/0.log' }, sandbox_config: cfg }),
    );
    expect(err2.code).to.equal(grpc.status.INVALID_ARGUMENT);
    expect(err2.details).to.contain('config.log_path');
    expect((await server.client.runtime.ListContainers({ filter: { pod_sandbox_id: pod } })).containers).to.deep.equal([]);
    expect(fs.readFileSync(victim, 'utf8')).to.equal('root only\n');
  });
});
