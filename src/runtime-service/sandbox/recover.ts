/**
 * Recovery of the pod sandboxes at the start of a front end: what a crash
 * (SIGKILL at any point) or a damaged row left is rolled back or repaired,
 * never skipped.
 *
 * 1. Files without a record (of any owner) — a state directory under
 *    `<root>/sandboxes/` or a run directory under `<runroot>/sandboxes/`
 *    whose row is gone, e.g. a legacy `sandbox.json` that could not be read
 *    and so was not imported — are torn down as a rollback would: infra
 *    processes found by their arguments, CNI DEL from the cached attachment,
 *    pins and /dev/shm unmounted, the default pod cgroup, the directories.
 *    The directories are listed before the rows are read, and a creator
 *    writes its row before any file, so another process's creation in
 *    flight is never taken for leftovers.
 * 2. This owner's rows whose record cannot be read are repaired: a record
 *    is rebuilt from the row's columns (ID, name, namespace, uid, attempt,
 *    state, creation time) and what is findable by the ID (the paths, which
 *    pins are live, the infra process), notready (or still creating), and
 *    written over the row, with a log line. The kubelet then sees a
 *    NOTREADY pod it knows by its metadata and removes it as usual.
 * 3. This owner's creations whose creator is dead are rolled back.
 * 4. Ready sandboxes whose namespaces or infra process are gone become notready.
 */
import * as fs from 'node:fs';
import type { PeapodConfig } from '../../common/config';
import { cgroupfsPodPath, DEFAULT_CGROUP_PARENT } from './cgroups';
import { rollBackSandbox, teardownDeps } from './create';
import { findInfra } from './infra';
import { LifecycleDeps, refreshSandboxState } from './lifecycle';
import { isNamespaceFile } from './namespaces';
import { sandboxesRunDir, sandboxesStateDir, sandboxPaths } from './paths';
import { SANDBOX_ID_PATTERN, SandboxRecord } from './record';
import type { SandboxRow } from './store';

/** The entries of a directory; [] when it does not exist. */
function entries(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * A record rebuilt for sandbox `row.id` from its row's columns and what the
 * ID finds on the host (see the module doc, step 2): live pins, the infra
 * process, the default cgroup of the configured driver. `row` may name
 * only the ID (files without a row).
 */
export async function rebuiltSandboxRecord(config: PeapodConfig, row: Partial<SandboxRow> & { id: string }): Promise<SandboxRecord> {
  const id = row.id;
  const paths = sandboxPaths(config, id);
  const live = (pin: string): string | undefined => (isNamespaceFile(pin) ? pin : undefined);
  const network = live(paths.netnsPin);
  const ipc = live(paths.ipcnsPin);
  const uts = live(paths.utsnsPin);
  const infra = await findInfra(id);
  const metadata = { name: row.name ?? '', uid: row.uid ?? '', namespace: row.namespace ?? '', attempt: row.attempt ?? 0 };
  return {
    version: 2,
    id,
    owner: row.owner ?? 'cri',
    metadata,
    state: row.state === 'creating' ? 'creating' : 'notready',
    createdAt: row.created_at ?? '0',
    runtimeHandler: '',
    // The labels the kubelet finds its pods by, from the metadata kept in the row.
    labels: row.uid ? { 'io.kubernetes.pod.uid': metadata.uid, 'io.kubernetes.pod.name': metadata.name, 'io.kubernetes.pod.namespace': metadata.namespace } : {},
    annotations: {},
    logDirectory: '',
    hostNetwork: network === undefined,
    namespaceOptions: { network: network ? 'POD' : 'NODE', pid: infra ? 'POD' : 'CONTAINER', ipc: ipc ? 'POD' : 'NODE', targetId: '' },
    namespaces: { ...(network ? { network } : {}), ...(ipc ? { ipc } : {}), ...(uts ? { uts } : {}), ...(infra ? { pid: `/proc/${infra.pid}/ns/pid` } : {}) },
    ...(infra ? { infraPid: infra.pid, infraStartTime: infra.startTime } : {}),
    hostnamePath: paths.hostnameFile,
    hostsPath: paths.hostsFile,
    resolvConfPath: paths.resolvConfFile,
    shmPath: paths.shmDir,
    cgroupParent: config.runtime.cgroup_driver === 'systemd' ? DEFAULT_CGROUP_PARENT.systemd : cgroupfsPodPath('', id),
    sysctls: {},
    additionalIps: [],
    config: null,
  };
}

/** Recovery at the start of a front end (see the module doc). */
export async function recoverSandboxes(deps: LifecycleDeps): Promise<void> {
  const { config, log, sandboxes } = deps;
  const dirs = new Set([...entries(sandboxesStateDir(config.root)), ...entries(sandboxesRunDir(config.runroot))]);
  const known = sandboxes.allIds();
  let swept = 0;
  for (const id of dirs) {
    if (known.has(id) || !SANDBOX_ID_PATTERN.test(id)) continue;
    log.warn({ sandbox: id }, 'tearing down sandbox files without a record');
    await rollBackSandbox(await rebuiltSandboxRecord(config, { id }), teardownDeps(config, log, id), sandboxes);
    swept++;
  }
  for (const row of sandboxes.unreadable()) {
    const rec = await rebuiltSandboxRecord(config, row);
    log.warn({ sandbox: row.id, state: rec.state }, 'the record of a sandbox could not be read: rebuilt from its row and the host');
    sandboxes.replaceUnreadable(rec);
  }
  const creating = sandboxes.abandonedCreations();
  for (const rec of creating) {
    log.warn({ sandbox: rec.id }, 'rolling back a sandbox left half-built by a crash');
    await rollBackSandbox(rec, teardownDeps(config, log, rec.id), sandboxes);
  }
  const created = sandboxes.list();
  for (const rec of created) refreshSandboxState(deps, rec);
  log.info({ sandboxes: created.length, rolledBack: creating.length, swept }, 'sandboxes recovered');
}
