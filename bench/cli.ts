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
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Path of the built CLI. */
const CLI = path.resolve(__dirname, '..', 'src', 'cli', 'main.js');
const PODMAN = '/usr/bin/podman';

/** Samples of the CLI workloads, in milliseconds, by key, per tool. */
export interface CliBenchResults {
  peapod: Record<string, number[]>;
  podman: Record<string, number[]>;
  nodeStart: number[];
  podmanVersion?: string;
  /** Why podman was not measured, when it was not. */
  podmanSkipped?: string;
}

/** Runs a command to completion; resolves with wall milliseconds, rejects on a non-zero exit. */
function timed(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()).length > 4096 && (err = err.slice(-4096)));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code === 0) resolve(ms);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${err.trim()}`));
    });
  });
}

function quiet(cmd: string, args: string[]): void {
  spawnSync(cmd, args, { stdio: 'ignore', timeout: 120_000 });
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
    const peapod = (...a: string[]): string[] => [CLI, '--root', path.join(dir, 'peapod-root'), '--runroot', path.join(dir, 'peapod-run'), '--config', conf, '--config-dir', path.join(dir, 'peapod.conf.d'), ...a];
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
    const tools: ('peapod' | 'podman')[] = withPodman ? ['peapod', 'podman'] : ['peapod'];
    for (const tool of tools) {
      progress(`cli: ${tool} version`);
      await series('version', tool, () => (tool === 'peapod' ? timed(process.execPath, peapod('version')) : timed(PODMAN, podman('version'))));
    }
    for (const tool of tools) {
      progress(`cli: ${tool} pull`);
      await series(
        'pull',
        tool,
        () => (tool === 'peapod' ? timed(process.execPath, peapod('pull', '-q', image)) : timed(PODMAN, podman('pull', '-q', '--tls-verify=false', image))),
        () => (tool === 'peapod' ? quiet(process.execPath, peapod('rmi', '-a')) : quiet(PODMAN, podman('rmi', '-a', '-f'))),
      );
    }
    for (const tool of tools) {
      progress(`cli: ${tool} images`);
      await series('images', tool, () => (tool === 'peapod' ? timed(process.execPath, peapod('images')) : timed(PODMAN, podman('images'))));
    }
    // Containers and pods: the same commands through each tool (podman needs --tls-verify only to pull, done above).
    const cmd = (tool: 'peapod' | 'podman', ...a: string[]): Promise<number> => (tool === 'peapod' ? timed(process.execPath, peapod(...a)) : timed(PODMAN, podman(...a)));
    const off = (tool: 'peapod' | 'podman', ...a: string[]): void => (tool === 'peapod' ? quiet(process.execPath, peapod(...a)) : quiet(PODMAN, podman(...a)));
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
