import * as fs from 'node:fs';
import * as path from 'node:path';
import { nowNs } from '../../common/time';
import { exitFilePath } from '../../conmon/driver';
import { ContainerDeps, runtimeFor } from './deps';
import { applyExit } from './exits';
import type { ContainerRecord } from './record';
import { unmountRootfs } from './rootfs';

/**
 * Undoes a creation that did not finish: runtime state, rootfs mount,
 * bundle, exit file, then the record and its directory. Failures of the
 * first steps are ignored: each is idempotent and the record goes last.
 */
export async function rollBackCreation(deps: ContainerDeps, rec: ContainerRecord): Promise<void> {
  await runtimeFor(deps, rec.runtimeHandler)
    .delete(rec.id)
    .catch(() => undefined);
  await unmountRootfs(rec.rootfs).catch(() => undefined);
  fs.rmSync(rec.bundle, { recursive: true, force: true });
  fs.rmSync(exitFilePath(deps.dirs.exits, rec.id), { force: true });
  deps.store.delete(rec.id);
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
 *   rollback left them) are removed: the directories are listed before the
 *   records are read, and a creator writes its record before its files, so
 *   a creation in flight in another process is never taken for leftovers
 *   (persistent directories go to the trash; what the trash holds, trees a
 *   crash left half-deleted, is deleted in the background);
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
  const known = deps.store.allIds();
  deps.trash.empty();
  for (const id of new Set([...stateDirs, ...bundles])) {
    if (known.has(id)) continue;
    deps.opts.log.warn({ id }, 'removing container files without a record');
    await unmountRootfs(path.join(deps.dirs.bundles, id, 'rootfs')).catch(() => undefined);
    fs.rmSync(path.join(deps.dirs.bundles, id), { recursive: true, force: true });
    deps.trash.discard(path.join(deps.dirs.state, id));
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
