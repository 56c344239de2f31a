import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { writeFileAtomic } from '../../common/atomic-file';
import { invalidArgument, notFound, wrongState } from '../../common/errors';
import { untrustedDirectoryProblem } from '../../common/host/private-paths';
import { nowNs } from '../../common/time';
import type { PeapodConfig } from '../../common/config';
import type { Logger } from '../../common/logger';
import { addNetwork, podCniArgs } from '../cni/attachment';
import { findNetworkConf } from '../cni/network-config';
import { podIpsOfResult } from '../cni/result';
import type { CniRuntimeConfig } from '../cni/runtime-config';
import { createPodCgroup, joinPodCgroup, podCgroupParent } from './cgroups';
import { readHostFile, renderHosts, renderResolvConf } from './etc-files';
import { ensurePauseLink, findInfraProcesses, startInfra } from './infra';
import { killAndWait } from '../../common/host/proc';
import { mountShm } from './mounts';
import { bringUpLoopback, createPinnedNamespaces, setNamespaceHostname } from './namespaces';
import { sandboxPaths } from './paths';
import type { SandboxRecord } from './record';
import type { SandboxStore } from './store';
import { applySysctls } from './sysctls';
import { inUserNamespace } from '../../common/userns';
import { startRootlessPodNetwork } from './rootless-network';
import { removeSandboxResources, stopSandboxResources, TeardownDeps } from './teardown';
import { checkSandboxSpec, SandboxSpec } from './spec';

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
    throw notFound(`runtime handler "${handler}" is not configured (known: ${Object.keys(config.runtime.runtimes).join(', ')})`);
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
  // Inside a user namespace (rootless, docs/rootless.md): no pod cgroup, slirp4netns in place of CNI.
  const rootless = inUserNamespace();
  const podCgroup = config.runtime.cgroup_driver === 'cgroupfs' && !rootless;
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
  const clog = log.child({ sandbox: id, pod: `${spec.metadata.namespace}/${spec.metadata.name}` });
  // The record first: it takes the pod's name (a pod name, with namespace,
  // uid and attempt, names one pod; the kubelet never runs two), and every
  // resource made after it is found by a rollback.
  store.insert(record);
  let current = record;
  try {
    // The kubelet makes the log directory too; CRI-O makes sure it exists. It is the kubelet's: never removed here.
    if (spec.logDirectory !== '') {
      fs.mkdirSync(spec.logDirectory, { recursive: true, mode: 0o755 });
      // conmon, as root, creates and appends the logs there: no other user may be able to swap it (docs/security.md).
      const problem = untrustedDirectoryProblem(spec.logDirectory);
      if (problem) throw invalidArgument(`the log directory is not safe for root to write logs into: ${problem}`, { field: 'logDirectory' });
    }
    fs.mkdirSync(paths.stateDir, { recursive: true, mode: 0o700 });
    fs.mkdirSync(paths.runDir, { recursive: true, mode: 0o700 });
    await createPinnedNamespaces({ net: record.namespaces.network, ipc: record.namespaces.ipc, uts: record.namespaces.uts });
    if (podNet) {
      await setNamespaceHostname(paths.utsnsPin, hostname);
      await bringUpLoopback(paths.netnsPin);
    }
    if (podIpc) await mountShm(paths.shmDir, config.sandbox.shm_size);
    if (podCgroup) createPodCgroup(cgroupParent);
    await applySysctls(spec.sysctls, record.namespaces);

    let ips: string[] = [];
    let dns = spec.dns;
    if (netConf?.ok && rootless) {
      const net = await startRootlessPodNetwork(paths, config.runroot, id, spec.portMappings);
      ips = net.ips;
      dns ??= { servers: [net.dnsServer], searches: [], options: [] };
      clog.debug({ ips }, 'rootless pod network (slirp4netns) set up');
    } else if (netConf?.ok) {
      const runtimeConfig: CniRuntimeConfig = {};
      if (spec.portMappings.length) runtimeConfig.portMappings = spec.portMappings;
      if (spec.dns) runtimeConfig.dns = spec.dns;
      if (spec.bandwidth) runtimeConfig.bandwidth = spec.bandwidth;
      const result = await addNetwork(paths.cniCacheFile, netConf.conf, {
        containerId: id,
        netns: paths.netnsPin,
        args: podCniArgs(spec.metadata, id),
        runtimeConfig,
        binDirs: config.network.cni_bin_dirs,
      });
      ips = podIpsOfResult(result);
      clog.debug({ ips, network: netConf.conf.name }, 'pod network set up');
    }

    if (spec.namespaceOptions.pid === 'POD') {
      const infra = await startInfra(id, record.namespaces, ensurePauseLink(config.runroot), paths.pidnsPin);
      current = store.transition(id, { type: 'infraStarted', pid: infra.pid, startTime: infra.startTime, pidNamespace: infra.pidNamespace });
      if (podCgroup) joinPodCgroup(cgroupParent, infra.pid);
    }

    writeFileAtomic(paths.hostnameFile, `${hostname}\n`, 0o644);
    writeFileAtomic(paths.hostsFile, hostNetwork ? readHostFile('/etc/hosts') : renderHosts(hostname, ips), 0o644);
    writeFileAtomic(paths.resolvConfFile, dns ? renderResolvConf(dns) : readHostFile('/etc/resolv.conf'), 0o644);

    current = store.transition(id, { type: 'ready', ip: ips[0], additionalIps: ips.slice(1) });
    clog.info({ ip: current.ip }, 'pod sandbox ready');
    return current;
  } catch (err) {
    clog.warn({ err }, 'pod sandbox creation failed; rolling back');
    await rollBackSandbox(store.getAny(id) ?? current, teardownDeps(config, log, id), store);
    throw err;
  }
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
    await stopSandboxResources(rec, deps);
  } catch (err) {
    deps.log.error({ err, sandbox: id }, 'rollback: stopping sandbox resources failed');
  }
  try {
    await removeSandboxResources(rec, deps);
  } catch (err) {
    deps.log.error({ err, sandbox: id }, 'rollback: removing sandbox resources failed');
  }
  store.delete(id);
}
