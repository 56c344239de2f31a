import { status as GrpcStatus } from '@grpc/grpc-js';
import { expect } from 'chai';
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ContainerEngine, ContainerEngineOptions, EngineImage } from '../../src/runtime-service/container/engine';
import { joinLogLines } from '../../src/runtime-service/container/logs';
import { isMountPoint } from '../../src/common/host/mounts';
import { processCgroups } from '../../src/runtime-service/container/stats';
import { PeapodError, TimedOutError } from '../../src/common/errors';
import { toGrpcStatus } from '../../src/server/status';
import type { TestPod } from './helpers/busybox-pod';
import { BusyboxEngine, closeBusyboxEngine, openBusyboxEngine } from './helpers/busybox-engine';
import { containerConfig, resources, securityContext } from './helpers/container-config';
import { containerSpecOf } from '../../src/runtime-service/cri/container-config';
import { resourcesOf } from '../../src/runtime-service/cri/resources';
import type { ContainerConfig__Output } from '../../src/generated/runtime/v1/ContainerConfig';
import type { ContainerSpec } from '../../src/runtime-service/container/spec';
import { until } from './helpers/wait';

async function expectCode(p: Promise<unknown>, code: GrpcStatus): Promise<PeapodError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(PeapodError);
    expect(toGrpcStatus(err).code, (err as Error).message).to.equal(code);
    return err as PeapodError;
  }
  throw new Error(`expected gRPC code ${code}`);
}

/** The ContainerSpec the CRI server would make of a config for this pod. */
function spec(config: ContainerConfig__Output, pod: { logDirectory: string }): ContainerSpec {
  return containerSpecOf(config, pod).spec;
}

describe('container engine (real runc + conmon, busybox rootfs)', function () {
  this.timeout(60000);
  let dir: string;
  let pod: TestPod;
  let image: EngineImage;
  let engine: ContainerEngine;
  let opts: ContainerEngineOptions;
  const logDir = (): string => path.join(dir, 'pods', 'log');

  let fixture: BusyboxEngine | undefined;

  before(async () => {
    fixture = await openBusyboxEngine('peapod-engine-');
    ({ dir, pod, image, opts, engine } = fixture);
  });

  // The tests open the engine again (restarts): close the current one.
  after(() => closeBusyboxEngine(fixture && { ...fixture, engine }));

  async function run(name: string, script: string, extra: Parameters<typeof containerConfig>[1] = {}): Promise<string> {
    const rec = await engine.create(pod.sandbox, spec(containerConfig(name, { command: ['/bin/sh', '-c', script], ...extra }), pod.sandbox), image);
    await engine.start(rec.id);
    return rec.id;
  }

  async function runToExit(name: string, script: string, extra: Parameters<typeof containerConfig>[1] = {}): Promise<string> {
    const id = await run(name, script, extra);
    expect(await until(() => engine.get(id).state === 'exited', 20000), `${name} exited`).to.equal(true);
    return id;
  }

  function logOf(id: string): { stream: string; line: string }[] {
    return joinLogLines(fs.readFileSync(engine.get(id).logPath, 'utf8'));
  }

  it('runs a container to its exit code with stdout and stderr apart, closing a last line without newline', async () => {
    const id = await runToExit('exit3', 'echo out1; echo err1 >&2; printf tail; exit 3');
    const rec = engine.get(id);
    expect(rec.exitCode).to.equal(3);
    expect(rec.reason).to.equal('Error');
    expect(BigInt(rec.finishedAt) >= BigInt(rec.startedAt)).to.equal(true);
    expect(BigInt(rec.startedAt) >= BigInt(rec.createdAt)).to.equal(true);
    const lines = logOf(id);
    expect(lines).to.deep.include({ stream: 'stdout', line: 'out1' });
    expect(lines).to.deep.include({ stream: 'stderr', line: 'err1' });
    expect(lines).to.deep.include({ stream: 'stdout', line: 'tail' });
  });

  it('keeps a line over 16 KiB whole when records are joined, and reports Completed for exit 0', async () => {
    const id = await runToExit('long', 'head -c 40000 /dev/zero | tr "\\0" x; echo; echo after');
    expect(engine.get(id).reason).to.equal('Completed');
    const lines = logOf(id).filter((l) => l.stream === 'stdout');
    expect(lines[0].line).to.equal('x'.repeat(40000));
    expect(lines[1].line).to.equal('after');
  });

  it('passes env (image then request), working dir and the pod files', async () => {
    const id = await runToExit('env', 'echo "$FROM_IMAGE $FROM_REQ"; pwd; cat /etc/hostname', {
      envs: [{ key: 'FROM_REQ', value: Buffer.from('2') }],
      working_dir: '/tmp',
    });
    const out = logOf(id).map((l) => l.line);
    expect(out).to.deep.equal(['1 2', '/tmp', 'testpod']);
  });

  it('stops a process that ignores SIGTERM with SIGKILL after the timeout, and at once with timeout 0', async () => {
    const id = await run('stubborn', "trap '' TERM; while true; do sleep 1; done");
    // SIGTERM must reach it after the trap is set: its init ignores signal 15 (bit 14 of SigIgn) by then.
    const pid = engine.get(id).pid;
    const ignoresTerm = (): boolean => (BigInt('0x' + (/^SigIgn:\s*([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? '0')) & (1n << 14n)) !== 0n;
    expect(await until(ignoresTerm, 20_000), 'the trap is set').to.equal(true);
    const t0 = Date.now();
    await engine.stop(id, 2);
    // The grace period was given (only a lower bound: how long the kill then takes depends on the machine's load).
    expect(Date.now() - t0).to.be.at.least(1900);
    expect(engine.get(id).state).to.equal('exited');
    expect(engine.get(id).exitCode).to.equal(137);
    await engine.stop(id, 2); // idempotent

    // Timeout 0 kills at once: a process that would exit 0 on SIGTERM is never sent one.
    const id2 = await run('polite0', "trap 'exit 0' TERM; while true; do sleep 0.1; done");
    await engine.stop(id2, 0);
    expect(engine.get(id2).exitCode).to.equal(137);
  });

  it('ExecSync returns output, stderr apart, exit code; times out promptly; is not held by a background process', async () => {
    const id = await run('execd', 'sleep 300');
    const r = await engine.execSync(id, ['/bin/sh', '-c', 'echo hello; echo oops >&2; exit 7'], 10);
    expect(r.stdout.toString()).to.equal('hello\n');
    expect(r.stderr.toString()).to.equal('oops\n');
    expect(r.exitCode).to.equal(7);

    // Promptly: long before the 31 s the process would take (a loose bound, for a loaded machine).
    const t0 = Date.now();
    const slow = await engine.execSync(id, ['sleep', '31'], 1).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(Date.now() - t0).to.be.below(20_000);
    expect(slow).to.be.instanceOf(TimedOutError);
    expect(slow?.message).to.contain('timed out');
    // The timed-out process goes, and is not left as a zombie of the container's init.
    const psClean = async (): Promise<boolean> => !/sleep 31|\[sleep\]/.test((await engine.execSync(id, ['ps', '-o', 'pid,stat,args'], 5)).stdout.toString());
    expect(await until(psClean, 20_000), 'the timed-out sleep is gone').to.equal(true);

    const t1 = Date.now();
    const bg = await engine.execSync(id, ['/bin/sh', '-c', 'sleep 30 & echo started'], 10);
    expect(Date.now() - t1).to.be.below(20_000); // not held for the 30 s of the background sleep
    expect(bg.stdout.toString()).to.equal('started\n');
    expect(bg.exitCode).to.equal(0);

    const big = await engine.execSync(id, ['/bin/sh', '-c', 'head -c 20000000 /dev/zero'], 20);
    expect(big.stdout.length).to.equal(16 << 20);
    await engine.remove(id);
  });

  it('keeps timeouts beyond 2^31 ms: a 30-day ExecSync runs to its end, a 30-day stop grace does not SIGKILL', async () => {
    const DAYS_30 = 30 * 24 * 3600; // seconds: 2.6e9 ms, which a bare setTimeout fires after 1 ms
    const id = await run('longtimeouts', 'trap "echo got-term" TERM; while true; do sleep 0.1; done');
    const r = await engine.execSync(id, ['/bin/sh', '-c', 'sleep 0.3; echo done'], DAYS_30);
    expect(r.stderr.toString()).to.equal('');
    expect([r.exitCode, r.stdout.toString()]).to.deep.equal([0, 'done\n']);
    // Past conmon's own -T range (a 32-bit int of seconds): still runs.
    const far = await engine.execSync(id, ['/bin/sh', '-c', 'echo far'], 1e12);
    expect([far.exitCode, far.stdout.toString()]).to.deep.equal([0, 'far\n']);

    let stopped = false;
    const stop = engine.stop(id, DAYS_30).then(() => (stopped = true));
    expect(await until(() => logOf(id).some((l) => l.line === 'got-term'), 20000), 'SIGTERM reached the container').to.equal(true);
    // The grace period runs: the container still answers, and the stop has not ended.
    const alive = await engine.execSync(id, ['/bin/sh', '-c', 'echo alive'], 10);
    expect(alive.stdout.toString()).to.equal('alive\n');
    expect(engine.get(id).state).to.equal('running');
    expect(stopped).to.equal(false);
    await engine.stop(id, 0);
    await stop;
    expect(engine.get(id).exitCode).to.equal(137);
    await engine.remove(id);
  });

  it('runs as a user from the image /etc/passwd with its groups, honors readonly rootfs', async () => {
    const sc = securityContext({ run_as_username: 'app', readonly_rootfs: true, supplemental_groups: ['3000'] });
    const id = await runToExit('user', 'id -u; id -G; touch /x 2>/dev/null && echo writable || echo readonly', {
      linux: { resources: resources(), security_context: sc },
    });
    const out = logOf(id).map((l) => l.line);
    expect(out[0]).to.equal('1000');
    expect(out[1].split(' ').sort()).to.deep.equal(['1000', '2000', '3000']);
    expect(out[2]).to.equal('readonly');
  });

  it('applies capabilities (drop ALL, add one) as seen in /proc/self/status', async () => {
    const sc = securityContext({ capabilities: { add_capabilities: ['NET_ADMIN'], drop_capabilities: ['ALL'], add_ambient_capabilities: [] } });
    const id = await runToExit('caps', 'grep CapEff /proc/self/status', { linux: { resources: resources(), security_context: sc } });
    const line = logOf(id)[0].line;
    expect(BigInt(`0x${line.split(/\s+/)[1]}`)).to.equal(1n << 12n); // CAP_NET_ADMIN = 12
  });

  it('runs root, a user and a privileged container with empty inheritable and ambient sets (CapInh, CapAmb)', async () => {
    const cases = [
      ['inh-root', securityContext()],
      ['inh-user', securityContext({ run_as_user: { value: '1000' } })],
      ['inh-priv', securityContext({ privileged: true })],
    ] as const;
    for (const [name, sc] of cases) {
      const id = await runToExit(name, 'grep -E "^Cap(Inh|Amb|Eff)" /proc/self/status', { linux: { resources: resources(), security_context: sc } });
      const caps = Object.fromEntries(logOf(id).map((l) => l.line.split(/:\s*/)));
      expect(caps.CapInh, name).to.equal('0000000000000000');
      expect(caps.CapAmb, name).to.equal('0000000000000000');
      if (name !== 'inh-user') expect(caps.CapEff, name).to.not.equal('0000000000000000');
    }
    // An ambient capability asked for explicitly reaches a non-root process, and only that one.
    const amb = securityContext({ run_as_user: { value: '1000' }, capabilities: { add_capabilities: [], drop_capabilities: [], add_ambient_capabilities: ['NET_BIND_SERVICE'] } });
    const id = await runToExit('inh-amb', 'grep -E "^Cap(Inh|Amb|Eff)" /proc/self/status', { linux: { resources: resources(), security_context: amb } });
    const caps = Object.fromEntries(logOf(id).map((l) => l.line.split(/:\s*/)));
    const bit = (1n << 10n).toString(16).padStart(16, '0'); // CAP_NET_BIND_SERVICE = 10
    expect([caps.CapInh, caps.CapAmb, caps.CapEff]).to.deep.equal([bit, bit, bit]);
  });

  it('blocks a listed syscall under the RuntimeDefault seccomp profile', async () => {
    const sc = securityContext({ seccomp: { profile_type: 'RuntimeDefault', localhost_ref: '' } });
    const id = await runToExit('seccomp', 'unshare -U true && echo allowed || echo blocked', { linux: { resources: resources(), security_context: sc } });
    expect(logOf(id).map((l) => l.line)).to.include('blocked');
    // The same call succeeds without the profile, so the profile is what blocked it.
    const un = securityContext({ seccomp: { profile_type: 'Unconfined', localhost_ref: '' } });
    const id2 = await runToExit('noseccomp', 'unshare -U true && echo allowed || echo blocked', { linux: { resources: resources(), security_context: un } });
    expect(logOf(id2).map((l) => l.line)).to.include('allowed');
  });

  it('passes a host device and runs a privileged container with every capability', async () => {
    const id = await runToExit('dev', 'ls -l /dev/xnull; echo hi > /dev/xnull && echo wrote', {
      devices: [{ container_path: '/dev/xnull', host_path: '/dev/null', permissions: 'rwm' }],
    });
    const out = logOf(id).map((l) => l.line);
    expect(out[0]).to.match(/^c.* 1, +3 .*\/dev\/xnull$/);
    expect(out[1]).to.equal('wrote');
    const sc = securityContext({ privileged: true });
    const pid = await runToExit('priv', 'grep CapEff /proc/self/status; grep " /sys " /proc/self/mounts', { linux: { resources: resources(), security_context: sc } });
    const lines = logOf(pid).map((l) => l.line);
    const hostEff = /CapEff:\s*(\S+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))?.[1];
    expect(lines[0].split(/\s+/)[1]).to.equal(hostEff);
    expect(lines[1]).to.match(/ rw,/);
  });

  it('mounts a host directory read-only', async () => {
    const host = path.join(dir, 'hostdir');
    fs.mkdirSync(host, { recursive: true });
    fs.writeFileSync(path.join(host, 'f'), 'content');
    const id = await runToExit('ro', 'cat /data/f; echo; touch /data/g 2>/dev/null && echo writable || echo readonly', {
      mounts: [{ container_path: '/data', host_path: host, readonly: true, propagation: 'PROPAGATION_PRIVATE' } as never],
    });
    expect(logOf(id).map((l) => l.line)).to.deep.equal(['content', 'readonly']);
  });

  it('makes a missing mount host path as a directory (as containerd and CRI-O do); refuses one that cannot be made', async () => {
    const missing = path.join(dir, 'volumes', 'made', 'nested');
    const id = await runToExit('mkvol', 'echo written > /vol/f && echo ok', {
      mounts: [{ container_path: '/vol', host_path: missing, readonly: false, propagation: 'PROPAGATION_PRIVATE' } as never],
    });
    expect(logOf(id).map((l) => l.line)).to.deep.equal(['ok']);
    expect(fs.readFileSync(path.join(missing, 'f'), 'utf8')).to.equal('written\n');
    expect(fs.statSync(missing).mode & 0o777).to.equal(0o755);
    expect(fs.statSync(path.dirname(missing)).mode & 0o777).to.equal(0o755);

    const file = path.join(dir, 'volumes', 'a-file');
    fs.writeFileSync(file, '');
    const dangling = path.join(dir, 'volumes', 'dangling');
    fs.symlinkSync(path.join(dir, 'volumes', 'nowhere'), dangling);
    for (const hostPath of [path.join(file, 'sub'), dangling, 'relative/path']) {
      const err = await expectCode(
        engine.create(pod.sandbox, spec(containerConfig('badvol', { command: ['true'], mounts: [{ container_path: '/vol', host_path: hostPath, readonly: false, propagation: 'PROPAGATION_PRIVATE' } as never] }), pod.sandbox), image),
        GrpcStatus.INVALID_ARGUMENT,
      );
      expect(err.field, hostPath).to.equal('mounts[0].hostPath');
    }
    expect(fs.existsSync(path.join(dir, 'volumes', 'nowhere'))).to.equal(false);
    expect(engine.list().filter((c) => c.metadata.name === 'badvol')).to.deep.equal([]);
  });

  it('updates resources in the cgroup and reports stats', async () => {
    const id = await run('res', 'while true; do sleep 1; done', { linux: { resources: resources({ memory_limit_in_bytes: String(64 << 20) }), security_context: securityContext() } });
    const pid = engine.get(id).pid;
    const memPath = processCgroups(pid).get('memory') as string;
    const limitFile = path.join('/sys/fs/cgroup/memory', memPath, 'memory.limit_in_bytes');
    expect(fs.readFileSync(limitFile, 'utf8').trim()).to.equal(String(64 << 20));
    await engine.updateResources(id, resourcesOf(resources({ memory_limit_in_bytes: String(96 << 20), cpu_shares: '512' }))!);
    expect(fs.readFileSync(limitFile, 'utf8').trim()).to.equal(String(96 << 20));
    const cpuPath = processCgroups(pid).get('cpu') as string;
    expect(fs.readFileSync(path.join('/sys/fs/cgroup/cpu', cpuPath, 'cpu.shares'), 'utf8').trim()).to.equal('512');
    await engine.execSync(id, ['/bin/sh', '-c', 'head -c 1000000 /dev/zero > /tmp/file'], 10);
    // The writable layer is measured in the background: the first ask starts it.
    expect(await until(() => engine.usage(id).writable.usedBytes > 900000n, 30_000), 'writable layer measured').to.equal(true);
    const u = engine.usage(id);
    expect(Number(u.cgroup.cpuUsageNs ?? 0n)).to.be.greaterThan(0);
    expect(Number(u.cgroup.memoryWorkingSetBytes ?? 0n)).to.be.greaterThan(0);
    expect(Number(u.writable.usedBytes)).to.be.greaterThan(900000);
    expect(Number(u.writable.inodesUsed)).to.be.greaterThan(0);
    await engine.remove(id);
  });

  it('reports OOMKilled for a container over its memory limit', async () => {
    const id = await runToExit('oom', 'tail /dev/zero', { linux: { resources: resources({ memory_limit_in_bytes: String(16 << 20) }), security_context: securityContext() } });
    expect(engine.get(id).reason).to.equal('OOMKilled');
    expect(engine.get(id).exitCode).to.equal(137);
  });

  it('reopens the log after the kubelet renamed it', async () => {
    const id = await run('rotate', 'i=0; while true; do echo line$i; i=$((i+1)); sleep 0.1; done');
    const log = engine.get(id).logPath;
    expect(await until(() => fs.existsSync(log) && fs.statSync(log).size > 0, 30_000)).to.equal(true);
    fs.renameSync(log, `${log}.1`);
    await engine.reopenLog(id);
    expect(fs.existsSync(log)).to.equal(true);
    expect(await until(() => fs.statSync(log).size > 0, 30_000)).to.equal(true);
    await engine.remove(id);
  });

  it('rejects a duplicate name, a stopped sandbox, a mount source that cannot be made; a failed create leaves nothing behind', async () => {
    const id = await run('dup', 'sleep 300');
    await expectCode(engine.create(pod.sandbox, spec(containerConfig('dup', { command: ['true'] }), pod.sandbox), image), GrpcStatus.ALREADY_EXISTS);
    await engine.remove(id);
    await engine.remove(id); // idempotent
    await expectCode(engine.create({ ...pod.sandbox, state: 'notready' }, spec(containerConfig('x', { command: ['true'] }), pod.sandbox), image), GrpcStatus.FAILED_PRECONDITION);
    fs.writeFileSync(path.join(dir, 'not-a-dir'), '');
    await expectCode(
      engine.create(pod.sandbox, spec(containerConfig('nomount', { command: ['true'], mounts: [{ container_path: '/d', host_path: path.join(dir, 'not-a-dir', 'peapod'), readonly: false } as never] }), pod.sandbox), image),
      GrpcStatus.INVALID_ARGUMENT,
    );
    await expectCode(engine.create(pod.sandbox, spec(containerConfig('nocmd', {}), pod.sandbox), { ...image, config: {} }), GrpcStatus.INVALID_ARGUMENT);
    const before = engine.list().length;
    const bundlesBefore = fs.readdirSync(path.join(opts.runroot, 'containers')).length;
    const err = await expectCode(engine.create(pod.sandbox, spec(containerConfig('badexec', { command: ['/nonexistent-binary'] }), pod.sandbox), image), GrpcStatus.INTERNAL);
    expect(err.message).to.match(/nonexistent-binary/);
    expect(engine.list().length).to.equal(before);
    expect(fs.readdirSync(path.join(opts.runroot, 'containers')).length).to.equal(bundlesBefore);
    // The name is free again.
    const again = await engine.create(pod.sandbox, spec(containerConfig('badexec', { command: ['true'] }), pod.sandbox), image);
    expect(isMountPoint(again.rootfs)).to.equal(true);
    await engine.remove(again.id);
    expect(isMountPoint(again.rootfs)).to.equal(false);
    expect(fs.existsSync(again.bundle)).to.equal(false);
  });

  it('answers the status of a running container without writing the state database; applies an exit conmon recorded', async () => {
    const id = await run('status-reads', 'sleep 600');
    const db = new Database(path.join(opts.root, 'state.db'), { readonly: true });
    try {
      const version = (): number => db.pragma('data_version', { simple: true }) as number;
      const before = version();
      for (let i = 0; i < 3; i++) expect((await engine.refresh(id)).state).to.equal('running');
      // Another connection's commit (a lock row taken and released) would bump data_version.
      expect(version(), 'data_version after three status reads').to.equal(before);
    } finally {
      db.close();
    }
    // An exit the watcher has not applied yet (it is stopped here) is still found by the next status read.
    engine.close();
    engine = new ContainerEngine(opts);
    await engine.recover({ watchExits: false });
    process.kill(engine.get(id).pid as number, 'SIGKILL');
    expect(await until(() => fs.existsSync(path.join(opts.runroot, 'containers-exits', id)) || engine.get(id).state === 'exited', 20000), 'exit file written').to.equal(true);
    expect((await engine.refresh(id)).state).to.equal('exited');
    expect(engine.get(id).exitCode).to.equal(137);
    engine.watch();
  });

  it('removes in the background on request: the record goes at once, the runtime state, cgroup, rootfs and bundle once released', async () => {
    const id = await run('bg-remove', 'sleep 600');
    await engine.stop(id, 0);
    const rec = engine.get(id);
    const runcRoot = opts.runtimes.runc.runtime_root as string;
    const runtimeKnows = (): boolean => {
      try {
        execFileSync('/usr/sbin/runc', ['--root', runcRoot, 'state', id], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    };
    await engine.remove(id, { background: true });
    expect(engine.find(id), 'record').to.equal(undefined);
    await engine.released(rec.sandboxId);
    expect(runtimeKnows(), 'runtime state').to.equal(false);
    expect(isMountPoint(rec.rootfs), 'rootfs mounted').to.equal(false);
    expect(fs.existsSync(rec.bundle), 'bundle').to.equal(false);
    expect(fs.existsSync(rec.persistDir), 'writable layer').to.equal(false);
    expect(fs.existsSync(path.join('/sys/fs/cgroup/memory', rec.cgroupsPath)), 'memory cgroup').to.equal(false);
  });

  it('finishes at start-up a background removal a crash cut short after the record went: runtime state, rootfs, bundle', async () => {
    const id = await run('bg-crash', 'sleep 600');
    await engine.stop(id, 0);
    const rec = engine.get(id);
    const runcRoot = opts.runtimes.runc.runtime_root as string;
    const runtimeKnows = (): boolean => {
      try {
        execFileSync('/usr/sbin/runc', ['--root', runcRoot, 'state', id], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    };
    expect(runtimeKnows()).to.equal(true);
    // The crash: the row deleted (tearDownContainerInBackground's first half), nothing released.
    engine.close();
    const db = new Database(path.join(opts.root, 'state.db'));
    db.prepare('DELETE FROM containers WHERE id = ?').run(id);
    db.close();
    engine = await ContainerEngine.open(opts);
    expect(engine.find(id)).to.equal(undefined);
    expect(runtimeKnows(), 'runtime state').to.equal(false);
    expect(isMountPoint(rec.rootfs), 'rootfs mounted').to.equal(false);
    expect(fs.existsSync(rec.bundle), 'bundle').to.equal(false);
    expect(fs.existsSync(path.join('/sys/fs/cgroup/memory', rec.cgroupsPath)), 'memory cgroup').to.equal(false);
    await engine.settled();
    expect(fs.existsSync(rec.persistDir), 'writable layer').to.equal(false);
  });

  it('refuses transitions the state machine does not allow with WRONG_STATE and a clear message', async () => {
    const id = await run('refused', 'sleep 300');
    const again = await expectCode(engine.start(id), GrpcStatus.FAILED_PRECONDITION);
    expect(again.code).to.equal('WRONG_STATE');
    expect(again.message).to.equal(`container ${id} is running: only a created container can be started`);
    await engine.stop(id, 0);
    const exec = await expectCode(engine.execSync(id, ['true'], 5), GrpcStatus.FAILED_PRECONDITION);
    expect(exec.code).to.equal('WRONG_STATE');
    expect(exec.message).to.equal(`container ${id} is exited: exec needs a running container`);
    await expectCode(engine.updateResources(id, {}), GrpcStatus.FAILED_PRECONDITION);
    await engine.remove(id);
  });

  it('rolls back at start-up a creation that a crash interrupted', async () => {
    const rec = await engine.create(pod.sandbox, spec(containerConfig('halfmade', { command: ['sleep', '300'] }), pod.sandbox), image);
    const dirOfRecord = path.join(opts.root, 'containers', rec.id);
    engine.close();
    // As a crash leaves it: the record still creating, its creator dead (a pid above pid_max).
    const db = new Database(path.join(opts.root, 'state.db'));
    db.prepare("UPDATE containers SET state = 'creating', creator_pid = 2147483647, record = json_set(record, '$.state', 'creating') WHERE id = ?").run(rec.id);
    db.close();
    engine = await ContainerEngine.open(opts);
    expect(engine.find(rec.id)).to.equal(undefined);
    expect(isMountPoint(rec.rootfs)).to.equal(false);
    expect(fs.existsSync(rec.bundle)).to.equal(false);
    expect(fs.existsSync(dirOfRecord)).to.equal(false);
    expect(execFileSync('runc', ['--root', opts.runtimes.runc.runtime_root, 'list', '-q'], { encoding: 'utf8' })).to.not.contain(rec.id);
    // The name is free again.
    const again = await engine.create(pod.sandbox, spec(containerConfig('halfmade', { command: ['true'] }), pod.sandbox), image);
    await engine.remove(again.id);
  });

  it('survives a restart: running containers stay running, those that exited meanwhile get their exit code', async () => {
    const running = await run('keep', 'while true; do echo tick; sleep 0.2; done');
    const ending = await run('ending', 'sleep 1; echo bye; exit 5');
    engine.close();
    // While the engine is closed, `ending` exits: conmon writes its exit file.
    expect(await until(() => fs.existsSync(path.join(opts.runroot, 'containers-exits', ending)), 30_000), 'the exit file of ending').to.equal(true);
    engine = await ContainerEngine.open(opts);
    expect(engine.get(running).state).to.equal('running');
    const e = engine.get(ending);
    expect(e.state).to.equal('exited');
    expect(e.exitCode).to.equal(5);
    expect(BigInt(e.finishedAt) > BigInt(e.startedAt)).to.equal(true);
    const size = fs.statSync(engine.get(running).logPath).size;
    expect(await until(() => fs.statSync(engine.get(running).logPath).size > size, 30_000)).to.equal(true);
    await engine.stop(running, 0);
    expect(engine.get(running).state).to.equal('exited');
  });
});
