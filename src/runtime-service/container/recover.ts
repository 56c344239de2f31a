import * as fs from 'node:fs';
import * as path from 'node:path';
import { nowNs } from '../../common/time';
import { attachSocketDir, exitFilePath } from '../../conmon/driver';
import { ContainerDeps, runtimeFor } from './deps';
import { applyExit } from './exits';
import { containerPaths } from './paths';
import type { ContainerRecord } from './record';
import type { ContainerRow } from './store';
import { cgroupfsPodPath, containerCgroupsPath } from '../sandbox/cgroups';
import { releaseRuntimeLeftovers } from './release';
import { unmountRootfs } from './rootfs';
import { stopMonitor, tearDownContainer } from './teardown';

/**
 * Undoes a creation that did not finish (teardown.ts, looking for its
 * processes in /proc too: the crash may have come before conmon wrote its
 * pid file). A failing step is logged and the others still run; the record
 * goes last.
 */
export async function rollBackCreation(deps: ContainerDeps, rec: ContainerRecord): Promise<void> {
  await tearDownContainer(deps, rec, { search: true, tolerant: true });
}

/** The message of a container whose record could not be read and was rebuilt. */
export const REBUILT_MESSAGE = 'the record of this container could not be read; peapod rebuilt it from its row and reports it exited';

/**
 * A record rebuilt for a row whose record cannot be read: its columns (ID,
 * pod, name, attempt, image, creation time) and the paths its ID names,
 * exited with exit code 255 and a message saying so (or still creating, so
 * that it is rolled back). Removing it then tears down whatever runs or is
 * mounted for it, as for any container.
 */
export function rebuiltContainerRecord(deps: ContainerDeps, row: ContainerRow): ContainerRecord {
  const p = containerPaths(deps.dirs, row.id);
  const driver = deps.opts.cgroupDriver;
  return {
    version: 1,
    id: row.id,
    owner: row.owner,
    sandboxId: row.pod_id,
    metadata: { name: row.name, attempt: row.attempt },
    state: row.state === 'creating' ? 'creating' : 'exited',
    createdAt: row.created_at,
    startedAt: row.created_at,
    finishedAt: nowNs().toString(),
    exitCode: 255,
    reason: 'Error',
    message: REBUILT_MESSAGE,
    image: { name: row.image_id, annotations: {}, userSpecified: '' },
    imageId: row.image_id,
    imageRef: row.image_id,
    labels: {},
    annotations: {},
    mounts: [],
    logPath: '',
    runtimeHandler: '',
    stopSignal: 'SIGTERM',
    pid: 0,
    bundle: p.bundle,
    rootfs: p.rootfs,
    upperDir: p.upperDir,
    workDir: p.workDir,
    persistDir: p.persistDir,
    // The pod's default cgroup (its record is not at hand): runc delete removes the real one when it knows the container.
    cgroupsPath: containerCgroupsPath(driver, driver === 'cgroupfs' ? cgroupfsPodPath('', row.pod_id) : '', row.id),
    resources: null,
    tty: false,
    stdin: false,
    stdinOnce: false,
  };
}

/** The entries of a directory; [] when it does not exist. */
function entries(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * Recovery at the start of a front end, over this owner's containers:
 * - files without a record (of any owner: an interrupted removal or
 *   rollback left them) are removed — bundles (unmounted first, their
 *   monitor stopped), writable layers, exit files, socket links: the
 *   directories are listed before the records are read, and a creator
 *   writes its record before its files, so a creation in flight in another
 *   process is never taken for leftovers (writable layers go to the trash;
 *   what the trash holds, trees a crash left half-deleted, is deleted in
 *   the background);
 * - this owner's rows whose record cannot be read are repaired
 *   (rebuiltContainerRecord: exited, exit code 255, with a log line), so the
 *   kubelet sees them and removes them; never skipped;
 * - this owner's creations whose creator is dead are rolled back; a
 *   creation whose creator lives (another process of the same front end)
 *   and every record of the other front end are left alone;
 * - the others are reconciled with conmon's exit files and the runtime
 *   (`runc state`): a container that ended while peapod was down gets its
 *   exit code and time; one the runtime still runs keeps running (or
 *   created); one that neither knows is `lost` (exited, code 255). Without
 *   `reconcileRuntime` only the exit files are read (no `runc state`).
 */
export async function recoverContainers(deps: ContainerDeps, options: { reconcileRuntime?: boolean } = {}): Promise<void> {
  const stateDirs = entries(deps.dirs.state);
  const bundles = entries(deps.dirs.bundles);
  // `<id>.XXXXXX` in the exits dir is conmon writing an exit file atomically (g_file_set_contents: a temp
  // file, then a rename), never a container of its own: while container <id> has a record its conmon may
  // be writing it now (left alone); without one it is what a conmon killed mid-write left (removed).
  const exitEntries = entries(deps.dirs.exits);
  const exits = exitEntries.filter((n) => !n.includes('.'));
  const socketLinks = entries(deps.dirs.sockets);
  const known = deps.store.allIds();
  // conmon may cut a socket link's name by one byte (attachSocketDir): such a link is that container's, handled with it.
  const cutLinks = new Set<string>();
  for (const id of [...known, ...stateDirs, ...bundles, ...exits]) {
    const link = path.basename(attachSocketDir(deps.dirs.sockets, id));
    if (link !== id) cutLinks.add(link);
  }
  const sockets = socketLinks.filter((n) => !cutLinks.has(n));
  for (const temp of exitEntries.filter((n) => n.includes('.'))) {
    if (!known.has(temp.slice(0, temp.indexOf('.')))) fs.rmSync(path.join(deps.dirs.exits, temp), { force: true });
  }
  deps.trash.empty();
  for (const id of new Set([...stateDirs, ...bundles, ...exits, ...sockets])) {
    if (known.has(id)) continue;
    deps.opts.log.warn({ id }, 'removing container files without a record');
    await stopMonitor(deps, id, false).catch((err) => deps.opts.log.error({ id, err }, 'stopping the monitor of a container without a record failed'));
    // A removal released in the background (release.ts) and cut short may have left the runtime's state and cgroup.
    await releaseRuntimeLeftovers(deps, id);
    await unmountRootfs(path.join(deps.dirs.bundles, id, 'rootfs')).catch(() => undefined);
    fs.rmSync(path.join(deps.dirs.bundles, id), { recursive: true, force: true });
    deps.trash.discard(path.join(deps.dirs.state, id));
    fs.rmSync(exitFilePath(deps.dirs.exits, id), { force: true });
    fs.rmSync(attachSocketDir(deps.dirs.sockets, id), { recursive: true, force: true });
  }
  for (const row of deps.store.unreadable()) {
    const rec = rebuiltContainerRecord(deps, row);
    deps.opts.log.warn({ id: row.id, state: rec.state }, 'the record of a container could not be read: rebuilt from its row, reported exited');
    deps.store.replaceUnreadable(rec);
  }
  for (const rec of deps.store.abandonedCreations()) {
    deps.opts.log.warn({ id: rec.id }, 'rolling back a container creation interrupted by a crash');
    await rollBackCreation(deps, rec);
  }
  for (const rec of deps.store.list().filter((r) => r.state === 'created' || r.state === 'running')) {
    if (await applyExit(deps, rec.id)) continue;
    if (options.reconcileRuntime === false) continue;
    let st;
    try {
      st = await runtimeFor(deps, rec.runtimeHandler).state(rec.id);
    } catch (err) {
      deps.opts.log.warn({ id: rec.id, err }, 'runtime state failed during recovery');
      continue;
    }
    if (st && (st.status === 'running' || st.status === 'created' || st.status === 'paused')) {
      deps.store.transition(rec.id, { type: 'recovered', state: st.status === 'created' ? 'created' : 'running', pid: st.pid });
      // It may have exited between the exit-file check and now.
      await applyExit(deps, rec.id);
    } else {
      deps.store.transition(rec.id, { type: 'lost', at: nowNs() });
    }
  }
}
