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

/**
 * Start-up recovery: loads the records; removes directories without a
 * record and rolls back creations a crash interrupted (`creating`); then
 * reconciles the others with conmon's exit files and the runtime (`runc
 * state`): a container that ended while peapod was down gets its exit code
 * and time from its exit file; one the runtime still runs keeps running (or
 * created); one that neither knows is `lost` (exited, code 255).
 */
export async function recoverContainers(deps: ContainerDeps): Promise<void> {
  const { records, orphans } = deps.store.load();
  for (const id of orphans) {
    deps.opts.log.warn({ id }, 'removing container directory without a record');
    await unmountRootfs(path.join(deps.dirs.bundles, id, 'rootfs')).catch(() => undefined);
    fs.rmSync(path.join(deps.dirs.bundles, id), { recursive: true, force: true });
    deps.store.delete(id);
  }
  for (const rec of records.filter((r) => r.state === 'creating')) {
    deps.opts.log.warn({ id: rec.id }, 'rolling back a container creation interrupted by a crash');
    await rollBackCreation(deps, rec);
  }
  for (const rec of records.filter((r) => r.state === 'created' || r.state === 'running')) {
    if (await applyExit(deps, rec.id)) continue;
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
