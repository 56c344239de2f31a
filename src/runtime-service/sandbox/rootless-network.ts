/**
 * The network of a rootless pod (docs/rootless.md): where a rootful pod gets
 * CNI ADD of its network (a bridge, iptables), a pod made inside a user
 * namespace gets one slirp4netns in its network namespace (slirp4netns.ts)
 * and its published ports through slirp4netns' API. Every container of the
 * pod joins that network namespace, so they share the one slirp4netns and
 * talk over localhost.
 *
 * The running slirp4netns is recorded beside the CNI cache, in the pod's
 * run directory (`slirp4netns.json`: pid, start time, API socket), written
 * atomically as soon as it is spawned (while it sets itself up, which is
 * most of its start); teardown reads it, so a record of the pod needs no
 * field of its own and a rollback finds what was started.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../common/atomic-file';
import type { CniPortMapping } from '../cni/runtime-config';
import type { SandboxPaths } from './paths';
import { isProcessAlive } from '../../common/host/proc';
import { addHostForward, SLIRP_DNS_IP, SLIRP_GUEST_IP, Slirp4netnsError, Slirp4netnsProcess, startSlirp4netns, stopSlirp4netns } from './slirp4netns';

/** The file naming a pod's slirp4netns, in its run directory. */
export function slirpStateFile(paths: SandboxPaths): string {
  return path.join(paths.runDir, 'slirp4netns.json');
}

/**
 * The API socket of a pod's slirp4netns: `<runroot>/slirp/<first 16 of ID>.sock`,
 * short enough for a unix socket's 108 bytes where the run directory is not.
 */
export function slirpApiSocket(runroot: string, sandboxId: string): string {
  return path.join(runroot, 'slirp', `${sandboxId.slice(0, 16)}.sock`);
}

/** What a rootless pod's network gives the pod. */
export interface RootlessPodNetwork {
  /** The pod's addresses (slirp4netns' guest address). */
  ips: string[];
  /** The nameserver its resolv.conf names (slirp4netns' DNS forwarder). */
  dnsServer: string;
}

/**
 * Whether the pod's namespace pins (namespaces.ts) must bring its loopback
 * interface up: not when the pod's network is slirp4netns (a pod network in
 * a user namespace), whose `--configure` sets `lo` up itself, with `tap0`,
 * from the child that joins the namespace (slirp4netns 1.x; checked with
 * 1.2.0: `lo` is UP in a namespace where only slirp4netns ran), so the pins'
 * own `ip link set lo up` would do it a second time. Its containers start
 * only once slirp4netns is ready (podNetworkReady), so `lo` is up for them.
 * @param o.rootless the pod is made inside a user namespace
 * @param o.podNetwork the pod has a network of its own to attach (not the host's, not `none`)
 */
export function pinsBringLoopbackUp(o: { rootless: boolean; podNetwork: boolean }): boolean {
  return !(o.rootless && o.podNetwork);
}

/** The readiness of the rootless pod networks this process started without waiting for it, by sandbox ID. */
const pendingReadiness = new Map<string, Promise<void>>();
/** Set (true) around a pod creation whose first container this same process starts (readinessLater). */
const readinessLaterScope = new AsyncLocalStorage<boolean>();

/**
 * Runs `create` (a pod's creation) so that a rootless pod network it starts
 * without published ports is not waited for: the pod is ready once its
 * slirp4netns is spawned and recorded, and slirp4netns sets itself up
 * (joins the namespace, configures tap0, enters its sandbox: most of its
 * start) while the container is made; `podNetworkReady`, awaited before
 * the container's process starts (startContainer), waits for it there. For a
 * process that starts the pod's first container itself (`run`); any other
 * pod creation waits for the network, as before.
 */
export function readinessLater<T>(create: () => Promise<T>): Promise<T> {
  return readinessLaterScope.run(true, create);
}

/**
 * Resolves once the network of pod `sandboxId` is up, when this process
 * started it without waiting (readinessLater); at once otherwise.
 * @throws Slirp4netnsError when its slirp4netns failed to set itself up.
 */
export async function podNetworkReady(sandboxId: string): Promise<void> {
  const pending = pendingReadiness.get(sandboxId);
  if (!pending) return;
  await pending;
  pendingReadiness.delete(sandboxId);
}

/**
 * Starts slirp4netns for a pod whose network namespace is pinned at
 * `paths.netnsPin` and publishes its ports (`hostIP` default 0.0.0.0;
 * tcp and udp). Resolves once it is ready, or, inside readinessLater and
 * with no port to publish, once it is spawned and recorded (its readiness
 * is then podNetworkReady's). On a failure the slirp4netns started is
 * stopped again.
 * @throws Slirp4netnsError naming what is missing (slirp4netns, /dev/net/tun)
 *   or the port that cannot be published.
 */
export async function startRootlessPodNetwork(paths: SandboxPaths, runroot: string, sandboxId: string, ports: CniPortMapping[]): Promise<RootlessPodNetwork> {
  const network = { ips: [SLIRP_GUEST_IP], dnsServer: SLIRP_DNS_IP };
  let onRecorded!: () => void;
  const recorded = new Promise<void>((resolve) => (onRecorded = resolve));
  const running = runPodSlirp4netns(paths, runroot, sandboxId, ports, onRecorded);
  if (ports.length > 0 || readinessLaterScope.getStore() !== true) {
    await running;
    return network;
  }
  // A failure before the record is thrown here; one after it, at podNetworkReady (the pod's container start).
  await Promise.race([recorded, running]);
  const ready = running.then(() => undefined);
  ready.catch(() => undefined);
  pendingReadiness.set(sandboxId, ready);
  return network;
}

/** startRootlessPodNetwork's work: resolves once slirp4netns is ready and the ports published; `onRecorded` once its record is written. */
async function runPodSlirp4netns(paths: SandboxPaths, runroot: string, sandboxId: string, ports: CniPortMapping[], onRecorded: () => void): Promise<void> {
  const apiSocket = slirpApiSocket(runroot, sandboxId);
  fs.mkdirSync(path.dirname(apiSocket), { recursive: true, mode: 0o700 });
  const stateFile = slirpStateFile(paths);
  // Recorded as soon as it is spawned, while it sets itself up (its readiness is most of its start).
  let record: Promise<void> | undefined;
  let proc: Slirp4netnsProcess | undefined;
  try {
    proc = await startSlirp4netns({
      netns: paths.netnsPin,
      apiSocket,
      logFile: path.join(paths.runDir, 'slirp4netns.log'),
      onSpawned: (p) => (record = writeFileAtomic(stateFile, JSON.stringify(p), 0o600).then(onRecorded)),
    });
    for (const p of ports) {
      await addHostForward(apiSocket, { proto: p.protocol === 'udp' ? 'udp' : 'tcp', hostIp: p.hostIP || '0.0.0.0', hostPort: p.hostPort, guestPort: p.containerPort });
    }
  } catch (err) {
    if (proc) await stopSlirp4netns(proc);
    await record?.catch(() => undefined);
    fs.rmSync(stateFile, { force: true });
    throw err;
  }
}

/** The slirp4netns recorded for a pod; undefined when none is (not a rootless pod network, or stopped). */
function recordedSlirp4netns(paths: SandboxPaths): Slirp4netnsProcess | undefined {
  try {
    return JSON.parse(fs.readFileSync(slirpStateFile(paths), 'utf8')) as Slirp4netnsProcess;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Whether a pod's network is a slirp4netns that was recorded and has since
 * exited (killed, crashed, or lost with its user's session): one read of
 * its record and of /proc/PID/stat. A network this process is still
 * starting (readinessLater) is not down, and nothing is read for it.
 */
export function rootlessPodNetworkDown(paths: SandboxPaths, sandboxId: string): boolean {
  if (pendingReadiness.has(sandboxId)) return false;
  const proc = recordedSlirp4netns(paths);
  return proc !== undefined && !isProcessAlive(proc);
}

/**
 * Starts a pod's slirp4netns again when the recorded one has exited
 * (rootlessPodNetworkDown), in the pod's pinned network namespace, with its
 * published ports, and waits until it is ready; one that runs is left as it
 * is. For a container start (`start`, `restart`, `pod start`): without it,
 * the container would run in a namespace whose tap0 went with the dead
 * slirp4netns, with no route out and its ports unpublished. The caller holds
 * the pod's lock, so two starts do not both start one.
 * @returns whether one was started.
 * @throws Slirp4netnsError (WRONG_STATE) naming slirp4netns and the pod when
 *   it cannot be started again (what is missing, its log); nothing is left running.
 */
export async function restartRootlessPodNetwork(paths: SandboxPaths, runroot: string, sandboxId: string, ports: CniPortMapping[]): Promise<boolean> {
  if (!rootlessPodNetworkDown(paths, sandboxId)) return false;
  const dead = recordedSlirp4netns(paths);
  fs.rmSync(slirpStateFile(paths), { force: true });
  try {
    await runPodSlirp4netns(paths, runroot, sandboxId, ports, () => undefined);
  } catch (err) {
    throw new Slirp4netnsError(
      `the network of pod ${sandboxId.slice(0, 12)} (slirp4netns${dead ? `, pid ${dead.pid}` : ''}) has exited and could not be started again: ${(err as Error).message}`,
      'WRONG_STATE',
      { cause: err },
    );
  }
  return true;
}

/** Stops a pod's slirp4netns when one was recorded (idempotent). */
export async function stopRootlessPodNetwork(paths: SandboxPaths): Promise<void> {
  const proc = recordedSlirp4netns(paths);
  if (!proc) return;
  await stopSlirp4netns(proc);
  fs.rmSync(slirpStateFile(paths), { force: true });
}
