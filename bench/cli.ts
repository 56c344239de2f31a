/**
 * The CLI section of `npm run bench`: the `peapod` CLI next to Debian's
 * podman 4.3.1 in the same run, on the same local registry and image:
 * `version`, `images` (one image stored), `pull` of the busybox image
 * into a store it was just removed from, `run --rm` (network none, and the
 * bridge), `exec` and `ps` with one container running, `pod create` +
 * `pod rm` (network none: podman's pod create makes its infra container,
 * peapod's pins the namespaces), `pod ps` with one pod, and `system df`. podman runs with a temporary
 * --root/--runroot (never the system store) and `--tls-verify=false` for the
 * loopback registry; a bare `node -e 0` start is measured as the floor the
 * CLI's own start adds to. Wall time of each process, spawn to exit.
 *
 * Rootless: `run --rm IMAGE true` as the unprivileged user `pprootless`
 * (docs/rootless.md) by peapod's launcher (bin/peapod) and by rootless
 * podman (`--storage-driver overlay`), each with its own temporary HOME and
 * XDG_RUNTIME_DIR, the image pulled before, both on their default rootless
 * network (slirp4netns), so the namespace holder and the pull are not in the
 * times; skipped, with the reason, when the user does not exist.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Path of the built CLI. */
const CLI = path.resolve(__dirname, '..', 'src', 'cli', 'main.js');
const PODMAN = '/usr/bin/podman';
/** The launcher of rootless commands (the package's `peapod` bin). */
const LAUNCHER = path.resolve(__dirname, '..', '..', 'bin', 'peapod');
/** The rootless user of the rootless rows (uid 1001, subuid 100000:65536 on the peapod machines). */
const ROOTLESS_USER = 'pprootless';

/** Samples of the CLI workloads, in milliseconds, by key, per tool. */
export interface CliBenchResults {
  peapod: Record<string, number[]>;
  podman: Record<string, number[]>;
  nodeStart: number[];
  /** `node -e 0` without NODE_EXTRA_CA_CERTS, when the environment sets it. */
  nodeStartNoExtraCa?: number[];
  podmanVersion?: string;
  /** Why podman was not measured, when it was not. */
  podmanSkipped?: string;
  /** Why the rootless rows were not measured, when they were not. */
  rootlessSkipped?: string;
  /** Why rootless podman was not measured, when it was not. */
  rootlessPodmanSkipped?: string;
}

/** Runs a command to completion; resolves with wall milliseconds from spawn to its exit, rejects on a non-zero exit. */
function timed(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], env: env ?? process.env });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()).length > 4096 && (err = err.slice(-4096)));
    child.on('error', reject);
    // The process's exit, not the close of its stderr: what a run leaves behind
    // (podman's conmon runs `podman container cleanup` after `run --rm` exits)
    // may hold the pipe for seconds.
    child.on('exit', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      // What it wrote before it exited is in; a pipe held by what it left is let go.
      setImmediate(() => child.stderr!.destroy());
      if (code === 0) resolve(ms);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim()}`));
    });
  });
}

function quiet(cmd: string, args: string[], env?: NodeJS.ProcessEnv): void {
  spawnSync(cmd, args, { stdio: 'ignore', timeout: 120_000, env: env ?? process.env });
}

/** uid and gid of a user of /etc/passwd; undefined when there is none. */
function lookupUser(name: string): { uid: number; gid: number } | undefined {
  for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f.length >= 4) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

/** A rootless user's private environment in `dir`: how to run a program as the user, and how to clean up. */
interface RootlessRunner {
  run(file: string, args: string[]): Promise<number>;
  quiet(file: string, args: string[]): void;
}

function rootlessRunner(dir: string, user: { uid: number; gid: number }): RootlessRunner {
  const home = path.join(dir, 'h');
  const runtimeDir = path.join(home, 'r');
  fs.mkdirSync(runtimeDir, { recursive: true, mode: 0o700 });
  // The user must reach its HOME: the temp dir (0700, root's) is opened for search.
  for (const d of [dir, home]) fs.chmodSync(d, 0o755);
  fs.chownSync(home, user.uid, user.gid);
  fs.chownSync(runtimeDir, user.uid, user.gid);
  const env: NodeJS.ProcessEnv = { HOME: home, USER: ROOTLESS_USER, LOGNAME: ROOTLESS_USER, XDG_RUNTIME_DIR: runtimeDir, PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
  const as = (file: string, args: string[]): string[] => [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', file, ...args];
  return {
    run: (file, args) => timed('/usr/bin/setpriv', as(file, args), env),
    quiet: (file, args) => quiet('/usr/bin/setpriv', as(file, args), env),
  };
}

/**
 * Notes the user namespaces the rootless rows made, so that what they left
 * is killed and nothing else of the user (other work on the machine may run
 * as the same test user): that of peapod's namespace holder (its pid file
 * under the rows' own XDG_RUNTIME_DIR names it) and that of podman's pause
 * process (its pid file there too).
 */
function noteRootlessNamespaces(runtimeDir: string, namespaces: Set<number>): void {
  const firstNumbers = (file: string): number[] => {
    try {
      return fs.readFileSync(file, 'utf8').trim().split(/\s+/).map(Number).filter(Number.isSafeInteger);
    } catch {
      return [];
    }
  };
  const [holder, , holderNs] = firstNumbers(path.join(runtimeDir, 'peapod', 'userns.pid'));
  if (holderNs !== undefined) namespaces.add(holderNs);
  const [pause] = firstNumbers(path.join(runtimeDir, 'libpod', 'tmp', 'pause.pid'));
  for (const pid of [holder, pause]) {
    const ns = pid === undefined ? undefined : userNamespaceOf(pid);
    if (ns !== undefined && ns !== userNamespaceOf(process.pid)) namespaces.add(ns);
  }
}

/** Kills every process in `namespaces` (user namespaces, by inode). */
function killInNamespaces(namespaces: Set<number>): void {
  for (const p of livePids()) {
    const ns = userNamespaceOf(p);
    if (ns === undefined || !namespaces.has(ns)) continue;
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** The inode of process `pid`'s user namespace; undefined when it is gone. */
function userNamespaceOf(pid: number): number | undefined {
  try {
    return fs.statSync(`/proc/${pid}/ns/user`).ino;
  } catch {
    return undefined;
  }
}

/** The pids alive now. */
function livePids(): Set<number> {
  return new Set(fs.readdirSync('/proc').filter((e) => /^\d+$/.test(e)).map(Number));
}

/**
 * Measures the CLI workloads.
 * @param image the busybox image on the local registry (`127.0.0.1:PORT/bench/busybox:v1`)
 */
export async function benchCli(image: string, runs: number, warmup: number, progress: (m: string) => void): Promise<CliBenchResults> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-bench-cli-'));
  try {
    const regConf = path.join(dir, 'registries.conf');
    fs.writeFileSync(regConf, '');
    fs.mkdirSync(path.join(dir, 'registries.conf.d'));
    fs.mkdirSync(path.join(dir, 'peapod.conf.d'));
    const conf = path.join(dir, 'peapod.conf');
    // The CLI's CNI directory private to the run (the CLI writes its default bridge network there).
    fs.writeFileSync(conf, `[image]\nregistries_conf = "${regConf}"\nregistries_conf_dir = "${path.join(dir, 'registries.conf.d')}"\n[network]\ncli_conf_dir = "${path.join(dir, 'cni')}"\n`);
    // Through the launcher, the package's `peapod` bin, as a user runs it (it defers NODE_EXTRA_CA_CERTS: src/common/extra-ca-certs.ts).
    const peapod = (...a: string[]): string[] => ['--root', path.join(dir, 'peapod-root'), '--runroot', path.join(dir, 'peapod-run'), '--config', conf, '--config-dir', path.join(dir, 'peapod.conf.d'), ...a];
    const podman = (...a: string[]): string[] => ['--root', path.join(dir, 'podman-root'), '--runroot', path.join(dir, 'podman-run'), ...a];
    const res: CliBenchResults = { peapod: {}, podman: {}, nodeStart: [] };
    const v = spawnSync(PODMAN, podman('version', '--format', '{{.Client.Version}}'), { encoding: 'utf8', timeout: 60_000 });
    if (v.status === 0) res.podmanVersion = v.stdout.trim();
    else res.podmanSkipped = v.error ? v.error.message : `podman version exited ${v.status}: ${(v.stderr ?? '').trim().split('\n')[0]}`;
    const withPodman = res.podmanSkipped === undefined;
    const series = async (key: string, tool: 'peapod' | 'podman', run: () => Promise<number>, before?: () => void): Promise<void> => {
      const out: number[] = [];
      for (let i = 0; i < warmup + runs; i++) {
        before?.();
        const ms = await run();
        if (i >= warmup) out.push(ms);
      }
      res[tool][key] = out;
    };
    progress('cli: node -e 0');
    for (let i = 0; i < warmup + runs; i++) {
      const ms = await timed(process.execPath, ['-e', '0']);
      if (i >= warmup) res.nodeStart.push(ms);
    }
    if (process.env.NODE_EXTRA_CA_CERTS) {
      // Node parses NODE_EXTRA_CA_CERTS's file at its start (~40 ms of CPU with Debian's bundle): the start without it too.
      const env = { ...process.env };
      delete env.NODE_EXTRA_CA_CERTS;
      res.nodeStartNoExtraCa = [];
      for (let i = 0; i < warmup + runs; i++) {
        const ms = await timed(process.execPath, ['-e', '0'], env);
        if (i >= warmup) res.nodeStartNoExtraCa.push(ms);
      }
    }
    const tools: ('peapod' | 'podman')[] = withPodman ? ['peapod', 'podman'] : ['peapod'];
    for (const tool of tools) {
      progress(`cli: ${tool} version`);
      await series('version', tool, () => (tool === 'peapod' ? timed(LAUNCHER, peapod('version')) : timed(PODMAN, podman('version'))));
    }
    for (const tool of tools) {
      progress(`cli: ${tool} pull`);
      await series(
        'pull',
        tool,
        () => (tool === 'peapod' ? timed(LAUNCHER, peapod('pull', '-q', image)) : timed(PODMAN, podman('pull', '-q', '--tls-verify=false', image))),
        () => (tool === 'peapod' ? quiet(LAUNCHER, peapod('rmi', '-a')) : quiet(PODMAN, podman('rmi', '-a', '-f'))),
      );
    }
    for (const tool of tools) {
      progress(`cli: ${tool} images`);
      await series('images', tool, () => (tool === 'peapod' ? timed(LAUNCHER, peapod('images')) : timed(PODMAN, podman('images'))));
    }
    // Containers and pods: the same commands through each tool (podman needs --tls-verify only to pull, done above).
    const cmd = (tool: 'peapod' | 'podman', ...a: string[]): Promise<number> => (tool === 'peapod' ? timed(LAUNCHER, peapod(...a)) : timed(PODMAN, podman(...a)));
    const off = (tool: 'peapod' | 'podman', ...a: string[]): void => (tool === 'peapod' ? quiet(LAUNCHER, peapod(...a)) : quiet(PODMAN, podman(...a)));
    for (const tool of tools) {
      progress(`cli: ${tool} run --rm --network none`);
      await series('runNone', tool, () => cmd(tool, 'run', '--rm', '--network', 'none', image, 'true'));
      progress(`cli: ${tool} run --rm (bridge)`);
      await series('runBridge', tool, () => cmd(tool, 'run', '--rm', image, 'true'));
      // One running container for exec and ps.
      off(tool, 'run', '-d', '--name', 'bench-exec', '--network', 'none', image, 'sleep', '100000');
      progress(`cli: ${tool} exec`);
      await series('exec', tool, () => cmd(tool, 'exec', 'bench-exec', 'true'));
      progress(`cli: ${tool} ps`);
      await series('ps', tool, () => cmd(tool, 'ps'));
      off(tool, 'rm', '-f', '-t', '0', 'bench-exec');
      progress(`cli: ${tool} pod create + pod rm`);
      await series('podCreateRm', tool, async () => (await cmd(tool, 'pod', 'create', '--name', 'bench-pod', '--network', 'none')) + (await cmd(tool, 'pod', 'rm', 'bench-pod')));
      // One pod for pod ps.
      off(tool, 'pod', 'create', '--name', 'bench-pod-ps', '--network', 'none');
      progress(`cli: ${tool} pod ps`);
      await series('podPs', tool, () => cmd(tool, 'pod', 'ps'));
      off(tool, 'pod', 'rm', '-f', 'bench-pod-ps');
      progress(`cli: ${tool} system df`);
      await series('systemDf', tool, () => cmd(tool, 'system', 'df'));
    }
    const user = lookupUser(ROOTLESS_USER);
    if (!user) res.rootlessSkipped = `no user ${ROOTLESS_USER}`;
    else {
      // A short path: podman's rootless sockets under a long XDG_RUNTIME_DIR make
      // its `run` wait 20 s (a socket path beyond the 108 bytes of sun_path).
      const rlDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pprl-'));
      const runtimeDir = path.join(rlDir, 'h', 'r');
      const made = new Set<number>();
      try {
        const rl = rootlessRunner(rlDir, user);
        const pull = await rl.run(LAUNCHER, ['pull', '-q', image]).catch((e: Error) => e);
        if (pull instanceof Error) res.rootlessSkipped = `rootless peapod pull failed: ${pull.message}`;
        else {
          progress('cli: rootless peapod run --rm');
          await series('rootlessRun', 'peapod', () => rl.run(LAUNCHER, ['run', '--rm', image, 'true']));
          if (withPodman) {
            const pm = (...a: string[]): string[] => ['--storage-driver', 'overlay', ...a];
            const pulled = await rl.run(PODMAN, pm('pull', '-q', '--tls-verify=false', image)).catch((e: Error) => e);
            if (pulled instanceof Error) res.rootlessPodmanSkipped = `rootless podman pull failed: ${pulled.message}`;
            else {
              progress('cli: rootless podman run --rm');
              await series('rootlessRun', 'podman', () => rl.run(PODMAN, pm('run', '--rm', image, 'true')));
            }
            noteRootlessNamespaces(runtimeDir, made);
            rl.quiet(PODMAN, pm('system', 'reset', '--force'));
          }
        }
      } finally {
        noteRootlessNamespaces(runtimeDir, made);
        killInNamespaces(made);
        fs.rmSync(rlDir, { recursive: true, force: true });
      }
    }
    return res;
  } finally {
    // What a failed run left running: the CLI's pods and containers (conmon, namespaces, the network's leases).
    if (fs.existsSync(path.join(dir, 'peapod-root'))) {
      const g = ['--root', path.join(dir, 'peapod-root'), '--runroot', path.join(dir, 'peapod-run'), '--config', path.join(dir, 'peapod.conf'), '--config-dir', path.join(dir, 'peapod.conf.d')];
      quiet(process.execPath, [CLI, ...g, 'pod', 'rm', '-a', '-f', '-t', '0']);
      quiet(process.execPath, [CLI, ...g, 'rm', '-a', '-f', '-t', '0']);
    }
    if (fs.existsSync(path.join(dir, 'podman-root'))) quiet(PODMAN, ['--root', path.join(dir, 'podman-root'), '--runroot', path.join(dir, 'podman-run'), 'system', 'reset', '--force']);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
