import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { syncDirs, writeFilesAtomic } from '../../common/atomic-file';
import { invalidArgument, notFound, wrongState } from '../../common/errors';
import { untrustedDirectoryProblem } from '../../common/host/private-paths';
import { nowNs } from '../../common/time';
import type { PeapodConfig } from '../../common/config';
import type { Logger } from '../../common/logger';
import { AddParams, CachedAttachment, cacheAttachment, podCniArgs, runAdd } from '../cni/attachment';
import { CniNetworkConfList, findNetworkConf } from '../cni/network-config';
import { podIpsOfResult } from '../cni/result';
import type { CniRuntimeConfig } from '../cni/runtime-config';
import { createPodCgroup, joinPodCgroup, podCgroupParent } from './cgroups';
import { readHostFile, renderHosts, renderResolvConf } from './etc-files';
import { findInfraProcesses, startInfra } from './infra';
import { killAndWait } from '../../common/host/proc';
import { createPinnedNamespaces, isNamespaceFile, removeNamespacePin } from './namespaces';
import { sandboxPaths, SandboxPaths } from './paths';
import type { SandboxRecord, SandboxSetup } from './record';
import type { SandboxStore } from './store';
import { applySysctls } from './sysctls';
import { inUserNamespace } from '../../common/userns';
import { pinsBringLoopbackUp, startRootlessPodNetwork } from './rootless-network';
import { removeSandboxResources, stopSandboxResources, TeardownDeps } from './teardown';
import { checkSandboxSpec, SandboxSpec } from './spec';
import { quoteInput } from '../../common/bounded-text';

/** What building a sandbox needs. */
export interface CreateDeps {
  config: PeapodConfig;
  log: Logger;
  store: SandboxStore;
}

/** A new sandbox ID: 32 random bytes in lowercase hex. */
export function newSandboxId(): string {
  return randomBytes(32).toString('hex');
}

/** TeardownDeps of sandbox `id`. */
export function teardownDeps(config: PeapodConfig, log: Logger, id: string): TeardownDeps {
  return { paths: sandboxPaths(config, id), binDirs: config.network.cni_bin_dirs, cgroupDriver: config.runtime.cgroup_driver, log };
}

/**
 * Builds a pod sandbox, step by step (CRI-O's model without an infra
 * container): the log directory, pinned network/IPC/UTS namespaces, hostname, loopback up,
 * /dev/shm tmpfs, pod cgroup, sysctls, CNI ADD, infra process for a shared
 * PID namespace (put in the pod cgroup), /etc/hostname, /etc/hosts, /etc/resolv.conf; the record is
 * on disk as `creating` from the start and `created` at the end.
 *
 * Any failure rolls back everything done (CNI DEL, infra killed, unmounts,
 * pins removed, cgroup removed, record deleted) and rethrows.
 * @param runtimeHandler the runtime handler of its containers ('' for the default)
 * @param rawConfig the PodSandboxConfig as received (kept in the record)
 * @returns the finished record, READY.
 * @throws NotFoundError for a runtime handler that is not configured;
 *   InvalidArgumentError (field `cgroupParent`) for a cgroup parent that
 *   does not fit the cgroup driver (before anything is made); AlreadyExistsError when a pod with the same name, namespace, uid
 *   and attempt exists or is being built; WrongStateError when a pod-network pod finds no CNI
 *   configuration; CniPluginError when a plugin fails; HostCommandError
 *   (INTERNAL) when a host tool fails.
 */
export async function createSandbox(deps: CreateDeps, wanted: SandboxSpec, runtimeHandler: string, rawConfig: unknown): Promise<SandboxRecord> {
  const { config, log, store } = deps;
  const handler = runtimeHandler || config.runtime.default_runtime;
  if (!config.runtime.runtimes[handler]) {
    throw notFound(`runtime handler ${quoteInput(handler)} is not configured (known: ${Object.keys(config.runtime.runtimes).join(', ')})`);
  }
  const spec = checkSandboxSpec(wanted);
  const hostNetwork = spec.namespaceOptions.network === 'NODE';
  // The pod's network: the spec's own, none at all, or (by default) the first of the configured directory.
  const netConf = hostNetwork || spec.cniNetwork === null ? undefined : spec.cniNetwork ? { ok: true as const, conf: spec.cniNetwork } : findNetworkConf(config.network.cni_conf_dir);
  if (netConf && !netConf.ok) throw wrongState(`network plugin not ready: ${netConf.reason}`);

  const id = newSandboxId();
  const paths = sandboxPaths(config, id);
  const podNet = !hostNetwork;
  const podIpc = spec.namespaceOptions.ipc === 'POD';
  const cgroupParent = podCgroupParent(config.runtime.cgroup_driver, spec.cgroupParent, id);
  const record: SandboxRecord = {
    version: 2,
    id,
    owner: store.owner,
    metadata: spec.metadata,
    state: 'creating',
    createdAt: nowNs().toString(),
    runtimeHandler: handler,
    labels: spec.labels,
    annotations: spec.annotations,
    logDirectory: spec.logDirectory,
    hostNetwork,
    namespaceOptions: spec.namespaceOptions,
    namespaces: {
      ...(podNet ? { network: paths.netnsPin, uts: paths.utsnsPin } : {}),
      ...(podIpc ? { ipc: paths.ipcnsPin } : {}),
    },
    hostnamePath: paths.hostnameFile,
    hostsPath: paths.hostsFile,
    resolvConfPath: paths.resolvConfFile,
    ...(podIpc ? { shmPath: paths.shmDir } : {}),
    cgroupParent,
    sysctls: spec.sysctls,
    ...(netConf?.ok ? { networkName: netConf.conf.name } : {}),
    ...(netConf?.ok && spec.portMappings.length ? { portMappings: spec.portMappings } : {}),
    additionalIps: [],
    config: rawConfig,
  };
  const hostname = spec.hostname || os.hostname();
  const setup: SandboxSetup = {
    hostname,
    ...(spec.cniNetwork !== undefined ? { cniNetwork: spec.cniNetwork } : {}),
    ...(spec.dns ? { dns: spec.dns } : {}),
    ...(spec.bandwidth ? { bandwidth: spec.bandwidth } : {}),
  };
  record.setup = setup;
  const clog = log.child({ sandbox: id, pod: `${spec.metadata.namespace}/${spec.metadata.name}` });
  // The record first: it takes the pod's name (a pod name, with namespace,
  // uid and attempt, names one pod; the kubelet never runs two), and every
  // resource made after it is found by a rollback.
  store.insert(record);
  try {
    // The kubelet makes the log directory too; CRI-O makes sure it exists. It is the kubelet's: never removed here.
    if (spec.logDirectory !== '') {
      fs.mkdirSync(spec.logDirectory, { recursive: true, mode: 0o755 });
      // conmon, as root, creates and appends the logs there: no other user may be able to swap it (docs/security.md).
      const problem = untrustedDirectoryProblem(spec.logDirectory);
      if (problem) throw invalidArgument(`the log directory is not safe for root to write logs into: ${problem}`, { field: 'logDirectory' });
    }
    fs.mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
    // The state directory is durable before the record says ready (its parent synced off the event loop, meanwhile).
    const stateDirDurable = syncDirs([path.dirname(paths.stateDir)]);
    stateDirDurable.catch(() => undefined);
    const current = await setUpSandbox(deps, record, setup, netConf?.ok ? netConf.conf : undefined, stateDirDurable);
    clog.info({ ip: current.ip }, 'pod sandbox ready');
    return current;
  } catch (err) {
    clog.warn({ err }, 'pod sandbox creation failed; rolling back');
    await rollBackSandbox(store.getAny(id) ?? record, teardownDeps(config, log, id), store);
    throw err;
  }
}

/**
 * Sets up what a sandbox's containers use, from its record (state creating,
 * or notready for a start again) and its setup: the run directory, the
 * pinned network/IPC/UTS namespaces (each made when its pin is not a live
 * namespace: always at creation, after a reboot at a start again) with the
 * hostname and loopback up (by slirp4netns in a rootless pod), the /dev/shm tmpfs, the pod cgroup, sysctls,
 * CNI ADD (in a user namespace: slirp4netns and its published ports, no pod
 * cgroup), the infra process for a shared PID namespace (put in the pod
 * cgroup; `infraStarted`),
 * /etc/hostname, /etc/hosts, /etc/resolv.conf; then the `ready` transition
 * with the pod IPs.
 *
 * What does not wait on another step runs beside it: the CNI cache is
 * written and the pod cgroup made while the namespaces are; the infra
 * process starts once the namespaces and the cgroup exist, beside the
 * sysctls and the network (which it does not need); the /etc files are
 * written while ADD's result is cached. Every step has settled before this
 * returns or throws, so a rollback finds whatever was made (the infra
 * process recorded, the CNI cache on disk).
 * @param netConf the CNI network to attach to (undefined: none, or the host's)
 * @param beforeReady awaited before the `ready` transition (creation: the state directory made durable)
 * @returns the record, ready.
 * @throws what a step throws (the first of them); undoing what was done is the caller's
 *   (rollBackSandbox at creation, stopSandboxResources at a start again).
 */
export async function setUpSandbox(deps: CreateDeps, record: SandboxRecord, setup: SandboxSetup, netConf: CniNetworkConfList | undefined, beforeReady?: Promise<void>): Promise<SandboxRecord> {
  const { config, store } = deps;
  const id = record.id;
  const paths = sandboxPaths(config, id);
  const podNet = !record.hostNetwork;
  const podIpc = record.namespaceOptions.ipc === 'POD';
  // Inside a user namespace (rootless, docs/rootless.md): no pod cgroup, slirp4netns in place of CNI.
  const rootless = inUserNamespace();
  const podCgroup = config.runtime.cgroup_driver === 'cgroupfs' && !rootless;
  await fs.promises.mkdir(paths.runDir, { recursive: true, mode: 0o700 });
  const dead = (pin: string | undefined): string | undefined => (pin !== undefined && !isNamespaceFile(pin) ? pin : undefined);
  const missing = { net: dead(record.namespaces.network), ipc: dead(record.namespaces.ipc), uts: dead(record.namespaces.uts) };
  // ADD's cache (the attachment without its result) needs only the state directory: written while the namespaces are made.
  const cni = podNet && netConf && !rootless ? cacheAttachment(paths.cniCacheFile, netConf, cniAddParams(config, record, setup, paths)) : undefined;
  // /dev/shm in the same host process as the pins (namespaces.ts), or alone when no pin is made.
  // Loopback up by the pins, unless slirp4netns brings it up (rootless-network.ts).
  const loopback = pinsBringLoopbackUp({ rootless, podNetwork: podNet && netConf !== undefined });
  const pinned = createPinnedNamespaces(missing, { hostname: setup.hostname, loopback, shm: podIpc ? { target: paths.shmDir, sizeBytes: config.sandbox.shm_size } : undefined });
  const cgroup = podCgroup ? createPodCgroup(record.cgroupParent) : Promise.resolve();
  // The infra process needs only the namespaces and the cgroup: it starts while /dev/shm, the sysctls and the network are set up.
  const infraStarted = record.namespaceOptions.pid === 'POD' ? settled([pinned, cgroup]).then(() => startPodInfra(deps, record, paths, podCgroup)) : Promise.resolve();
  const network = pinned.then(() => setUpPodNetwork(deps, record, setup, netConf, cni, paths, rootless));
  const [, , net] = await settled([pinned, cgroup, network, infraStarted, cni?.written]);
  const { ips, dns, resultCached } = net;

  await settled([
    writeFilesAtomic([
      { file: paths.hostnameFile, data: `${setup.hostname}\n`, mode: 0o644 },
      { file: paths.hostsFile, data: podNet ? renderHosts(setup.hostname, ips) : readHostFile('/etc/hosts'), mode: 0o644 },
      { file: paths.resolvConfFile, data: dns ? renderResolvConf(dns) : readHostFile('/etc/resolv.conf'), mode: 0o644 },
    ]),
    resultCached,
    beforeReady,
  ]);

  return store.transition(id, { type: 'ready', ip: ips[0], additionalIps: ips.slice(1) });
}

/**
 * Awaits every promise (undefined entries count as done) and then throws
 * the first rejection in the list's order, so no step is still running
 * when the caller rolls back.
 * @returns the values, in order.
 */
async function settled<T extends readonly unknown[]>(steps: readonly [...T]): Promise<{ -readonly [K in keyof T]: Awaited<T[K]> }> {
  const results = await Promise.allSettled(steps);
  for (const r of results) if (r.status === 'rejected') throw r.reason;
  return results.map((r) => (r as PromiseFulfilledResult<unknown>).value) as { -readonly [K in keyof T]: Awaited<T[K]> };
}

/**
 * Starts the infra process of a pod sharing a PID namespace (infra.ts),
 * records it (`infraStarted`) and puts it in the pod cgroup. A start again
 * first removes the pin of the last infra's PID namespace, which took its
 * end with it (no new process can enter it).
 */
async function startPodInfra(deps: CreateDeps, record: SandboxRecord, paths: SandboxPaths, podCgroup: boolean): Promise<void> {
  await removeNamespacePin(paths.pidnsPin);
  const infra = await startInfra(record.id, record.namespaces, paths.pidnsPin);
  deps.store.transition(record.id, { type: 'infraStarted', pid: infra.pid, startTime: infra.startTime, pidNamespace: infra.pidNamespace });
  if (podCgroup) joinPodCgroup(record.cgroupParent, infra.pid);
}

/** The CNI ADD parameters of a pod: its ID, its pinned network namespace, the kubelet's CNI_ARGS, and its runtime config (ports, DNS, bandwidth). */
function cniAddParams(config: PeapodConfig, record: SandboxRecord, setup: SandboxSetup, paths: SandboxPaths): AddParams {
  const runtimeConfig: CniRuntimeConfig = {};
  if (record.portMappings?.length) runtimeConfig.portMappings = record.portMappings;
  if (setup.dns) runtimeConfig.dns = setup.dns;
  if (setup.bandwidth) runtimeConfig.bandwidth = setup.bandwidth;
  return { containerId: record.id, netns: paths.netnsPin, args: podCniArgs(record.metadata, record.id), runtimeConfig, binDirs: config.network.cni_bin_dirs };
}

/**
 * The pod's sysctls and network (its /dev/shm is mounted with the pins): CNI ADD of the attachment
 * being cached (`cni`, made for `netConf` outside a user namespace), or in a user namespace slirp4netns and its published ports.
 * @returns the pod IPs, the DNS settings for its resolv.conf, and what resolves once ADD's result is cached.
 */
async function setUpPodNetwork(
  deps: CreateDeps,
  record: SandboxRecord,
  setup: SandboxSetup,
  netConf: CniNetworkConfList | undefined,
  cni: CachedAttachment | undefined,
  paths: SandboxPaths,
  rootless: boolean,
): Promise<{ ips: string[]; dns: SandboxSetup['dns']; resultCached?: Promise<void> }> {
  const { config, log } = deps;
  const id = record.id;
  const podNet = !record.hostNetwork;
  await applySysctls(record.sysctls, record.namespaces);

  if (podNet && netConf && rootless) {
    const net = await startRootlessPodNetwork(paths, config.runroot, id, record.portMappings ?? []);
    log.debug({ sandbox: id, ips: net.ips }, 'rootless pod network (slirp4netns) set up');
    return { ips: net.ips, dns: setup.dns ?? { servers: [net.dnsServer], searches: [], options: [] } };
  }
  if (cni) {
    const { result, resultCached } = await runAdd(cni);
    const ips = podIpsOfResult(result);
    log.debug({ sandbox: id, ips, network: cni.attachment.network.name }, 'pod network set up');
    return { ips, dns: setup.dns, resultCached };
  }
  return { ips: [], dns: setup.dns };
}

/**
 * Undoes a sandbox being built (or found half-built after a crash, or files
 * found without a record): its infra processes, found by their arguments
 * whether or not the record has their pid (infra.ts), then every teardown
 * step, then the record. Failures are logged, not thrown, so one stuck step
 * does not keep the others from running.
 */
export async function rollBackSandbox(rec: SandboxRecord, deps: TeardownDeps, store: SandboxStore): Promise<void> {
  const id = rec.id;
  try {
    const left = await killAndWait(await findInfraProcesses(id));
    if (left.length > 0) deps.log.error({ sandbox: id, pids: left.map((p) => p.pid) }, 'rollback: infra processes still alive after SIGKILL');
  } catch (err) {
    deps.log.error({ err, sandbox: id }, 'rollback: killing the infra processes failed');
  }
  try {
    // /dev/shm is unmounted below with the pins, in one host process.
    await stopSandboxResources(rec, deps, { keepShm: true });
  } catch (err) {
    deps.log.error({ err, sandbox: id }, 'rollback: stopping sandbox resources failed');
  }
  try {
    await removeSandboxResources(rec, deps);
  } catch (err) {
    deps.log.error({ err, sandbox: id }, 'rollback: removing sandbox resources failed');
  }
  await store.delete(id);
}
