import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConmonDriver } from '../../../src/conmon/driver';
import type { ContainerEngineOptions, EngineImage, EngineSandbox } from '../../../src/runtime-service/container/engine';

/**
 * Test fixtures for the container engine without registry or sandbox store:
 * an image layer built from busybox-static, and a "pod" made of namespaces
 * pinned on files with util-linux unshare (what pinns does for CRI-O).
 */

/** Builds a one-layer image: /bin/busybox with every applet linked, /etc/passwd and /etc/group. */
export function buildBusyboxImage(dir: string, config: EngineImage['config'] = {}): EngineImage {
  const linkDir = path.join(dir, 'l');
  const layer = path.join(linkDir, 'BB');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'home/app', 'root']) fs.mkdirSync(path.join(layer, d), { recursive: true });
  fs.chmodSync(path.join(layer, 'tmp'), 0o1777);
  fs.copyFileSync('/usr/bin/busybox', path.join(layer, 'bin/busybox'));
  fs.chmodSync(path.join(layer, 'bin/busybox'), 0o755);
  const applets = execFileSync('/usr/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter((a) => a && a !== 'busybox');
  for (const a of applets) fs.symlinkSync('busybox', path.join(layer, 'bin', a));
  fs.writeFileSync(path.join(layer, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n');
  fs.writeFileSync(path.join(layer, 'etc/group'), 'root:x:0:\napp:x:1000:\nextra:x:2000:app\n');
  fs.chownSync(path.join(layer, 'home/app'), 1000, 1000);
  return {
    id: `sha256:${'b'.repeat(64)}`,
    ref: `sha256:${'b'.repeat(64)}`,
    config: { config: { Cmd: ['/bin/sh'], Env: ['PATH=/bin', 'FROM_IMAGE=1'], ...config.config } },
    layers: { linkDir, lowers: ['BB'] },
  };
}

/** A pod-like set of namespaces and files; `cleanup` undoes everything. */
export interface TestPod {
  sandbox: EngineSandbox;
  cleanup(): void;
}

/** Creates network, ipc and uts namespaces pinned on files, plus hosts/hostname/resolv.conf files. */
export function createTestPod(dir: string, logDirectory: string): TestPod {
  const nsDir = path.join(dir, 'ns');
  fs.mkdirSync(nsDir, { recursive: true });
  execFileSync('mount', ['--bind', nsDir, nsDir]);
  execFileSync('mount', ['--make-private', nsDir]);
  const files = { network: path.join(nsDir, 'net'), ipc: path.join(nsDir, 'ipc'), uts: path.join(nsDir, 'uts') };
  for (const f of Object.values(files)) fs.writeFileSync(f, '');
  execFileSync('unshare', [`--net=${files.network}`, `--ipc=${files.ipc}`, `--uts=${files.uts}`, 'true']);
  const etc = path.join(dir, 'etc');
  fs.mkdirSync(etc, { recursive: true });
  fs.writeFileSync(path.join(etc, 'hosts'), '127.0.0.1 localhost\n');
  fs.writeFileSync(path.join(etc, 'hostname'), 'testpod\n');
  fs.writeFileSync(path.join(etc, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  const sandbox: EngineSandbox = {
    id: randomBytes(32).toString('hex'),
    state: 'ready',
    logDirectory,
    cgroupParent: `/peapod-test-${randomBytes(4).toString('hex')}`,
    runtimeHandler: '',
    namespaces: files,
    hostsPath: path.join(etc, 'hosts'),
    hostnamePath: path.join(etc, 'hostname'),
    resolvConfPath: path.join(etc, 'resolv.conf'),
    sysctls: {},
  };
  return {
    sandbox,
    cleanup(): void {
      for (const f of Object.values(files)) {
        try {
          execFileSync('umount', [f], { stdio: 'ignore' });
        } catch {
          /* not mounted */
        }
      }
      try {
        execFileSync('umount', [nsDir], { stdio: 'ignore' });
      } catch {
        /* not mounted */
      }
      for (const c of fs.readdirSync('/sys/fs/cgroup')) {
        const d = path.join('/sys/fs/cgroup', c, sandbox.cgroupParent);
        try {
          fs.rmdirSync(d);
        } catch {
          /* absent or busy */
        }
      }
    },
  };
}

/** A fresh temp directory under /tmp (overlay workdirs need a real fs, not tmpfs quirks). */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A logger that drops everything. */
const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

/**
 * Options of a ContainerEngine kept under `dir` (root, run, runc's root),
 * with Debian's conmon and runc, the cgroupfs driver and no log output.
 */
export function testEngineOptions(dir: string): ContainerEngineOptions {
  return {
    root: path.join(dir, 'root'),
    runroot: path.join(dir, 'run'),
    conmon: new ConmonDriver('/usr/bin/conmon'),
    runtimes: { runc: { runtime_path: '/usr/sbin/runc', runtime_root: path.join(dir, 'run', 'runc') } },
    defaultRuntime: 'runc',
    cgroupDriver: 'cgroupfs',
    log: silent,
  };
}
