/**
 * Starts a private containerd 1.6 (Debian package `containerd`) with its
 * built-in CRI plugin and runc, for side-by-side measurements: temp root,
 * state, config and socket; cgroupfs; CNI from /usr/lib/cni with the
 * benchmark's conflist; the local registry reached through `config_path`
 * hosts.toml mirrors; a pause image from the local registry. It touches no
 * system service (shim sockets go to /run/containerd/s/<hash of our address>,
 * which cannot collide with a system containerd's).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { connectCri, waitForCri } from '../test/integration/harness/client';
import { waitExit } from '../test/integration/harness/server';
import { removeTree } from './cleanup';
import { findProcesses } from './procs';
import type { RuntimeUnderTest } from './runtime';

/** Path of containerd from Debian's package. */
export const CONTAINERD_BIN = '/usr/bin/containerd';

/** Options of a benchmarked containerd. */
export interface ContainerdOptions {
  cniConfDir: string;
  /** `127.0.0.1:PORT` of the local registry. */
  registryHost: string;
  /** Full reference of the pause image in the local registry. */
  sandboxImage: string;
  /** Directory of timing wrappers for runc and the CNI plugins (see tool-timing.ts); absent: the real binaries. */
  toolDir?: string;
  /**
   * Upstream registries (e.g. `registry.k8s.io`) whose images the local
   * registry holds under `<registryHost>/<upstream>/<path>` (critest's
   * stand-ins, scripts/critest/registries.ts): pulls of `<upstream>/…` go there.
   */
  upstreamMirrors?: readonly string[];
}

/** The version-2 config.toml for a private containerd under `dir`. */
export function containerdConfig(dir: string, o: ContainerdOptions): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]

[grpc]
  address = "${dir}/containerd.sock"

[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"

[${cri}]
  sandbox_image = "${o.sandboxImage}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  BinaryName = "${o.toolDir ? `${o.toolDir}/runc` : '/usr/sbin/runc'}"
  Root = "${dir}/runc"

[${cri}.cni]
  bin_dir = "${o.toolDir ?? '/usr/lib/cni'}"
  conf_dir = "${o.cniConfDir}"

[${cri}.registry]
  config_path = "${dir}/certs.d"
`;
}

/** hosts.toml sending pulls for `host` to plain HTTP on the same address. */
export function hostsToml(host: string): string {
  return `server = "http://${host}"

[host."http://${host}"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
`;
}

/**
 * hosts.toml sending pulls for an upstream registry to `http://<host>/v2/<upstream>/…`
 * (`override_path`: containerd then uses the path as given instead of adding `/v2`).
 */
export function upstreamMirrorToml(host: string, upstream: string): string {
  return `server = "https://${upstream}"

[host."http://${host}/v2/${upstream}"]
  capabilities = ["pull", "resolve"]
  skip_verify = true
  override_path = true
`;
}

/**
 * Writes the config, starts containerd and waits until its CRI answers Version.
 * @throws when containerd exits early or does not answer within 30 s
 */
export async function startContainerd(options: ContainerdOptions): Promise<RuntimeUnderTest> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-bench-containerd-'));
  const hostsDir = path.join(dir, 'certs.d', options.registryHost);
  fs.mkdirSync(hostsDir, { recursive: true });
  fs.writeFileSync(path.join(hostsDir, 'hosts.toml'), hostsToml(options.registryHost));
  for (const upstream of options.upstreamMirrors ?? []) {
    fs.mkdirSync(path.join(dir, 'certs.d', upstream), { recursive: true });
    fs.writeFileSync(path.join(dir, 'certs.d', upstream, 'hosts.toml'), upstreamMirrorToml(options.registryHost, upstream));
  }
  const configFile = path.join(dir, 'config.toml');
  fs.writeFileSync(configFile, containerdConfig(dir, options));
  const socket = path.join(dir, 'containerd.sock');
  const logFile = path.join(dir, 'containerd.log');
  const logFd = fs.openSync(logFile, 'a');
  const child = spawn(CONTAINERD_BIN, ['--config', configFile], { stdio: ['ignore', logFd, logFd] });
  fs.closeSync(logFd);
  const client = connectCri(socket);
  const ready = await waitForCri(client, () => child.exitCode !== null, 30_000);
  if (ready === 'exited') throw new Error(`containerd exited early:\n${fs.readFileSync(logFile, 'utf8').slice(-3000)}`);
  if (ready === 'timeout') {
    child.kill('SIGKILL');
    throw new Error(`containerd did not answer:\n${fs.readFileSync(logFile, 'utf8').slice(-3000)}`);
  }
  const shims = (): number[] =>
    findProcesses((a) => path.basename(a[0]) === 'containerd-shim-runc-v2' && a.includes(socket)).map((p) => p.pid);
  return {
    name: 'containerd',
    socket,
    client,
    serverPid: () => child.pid!,
    monitorPids: shims,
    async stop() {
      client.close();
      if (child.exitCode === null) child.kill('SIGTERM');
      await waitExit(child);
      // Shims outlive containerd by design; after a clean teardown none is left.
      for (const pid of shims()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
      // containerd leaves its snapshot and shm mounts under the temp root.
      if (!process.env.PEAPOD_BENCH_KEEP) removeTree(dir);
      // The shims made /run/containerd/s for their sockets; drop it when nothing else uses it.
      for (const d of ['/run/containerd/s', '/run/containerd']) {
        try {
          fs.rmdirSync(d);
        } catch {
          /* not empty or absent: someone else's */
        }
      }
    },
  };
}
