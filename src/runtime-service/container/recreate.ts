import * as fs from 'node:fs';
import * as path from 'node:path';
import { internal, notFound, PeapodError, wrongState } from '../../common/errors';
import { isMountPoint } from '../../common/host/mounts';
import { ctlFifoPath, exitFilePath, oomFilePath, persistExitFilePath } from '../../conmon/driver';
import { conmonOptions } from './create';
import { ContainerDeps, runtimeFor } from './deps';
import { containerPaths } from './paths';
import { allowHostRootfs, restrictHostRootfs } from './rootfs';
import type { ContainerRecord } from './record';
import { nextRecord } from './state';

/**
 * Makes an exited container runnable again, as a front end's restart does
 * (the CLI's `start` of an exited container, Podman's): the runtime's old
 * container is deleted, the exit and oom files of the last run removed, and
 * a new monitor runs `runtime create` on the same bundle, rootfs (still
 * mounted, writable layer kept) and log file (appended to); the record
 * becomes created (the `recreated` edge of state.ts), ready for start.
 *
 * @param options.exitCommand what conmon runs after this run exits (see CreateOptions)
 * @returns the record, created.
 * @throws NotFoundError for an unknown container; WrongStateError when it is
 *   not exited, or its bundle or rootfs mount is gone (after a reboot: the
 *   container can only be removed); InternalError when conmon or the
 *   runtime fail (the container stays exited).
 */
export function recreateContainer(deps: ContainerDeps, id: string, options: { exitCommand?: string[] } = {}): Promise<ContainerRecord> {
  return deps.locks.run(id, async () => {
    const rec = deps.store.find(id);
    if (!rec) throw notFound(`container "${id}" not found`);
    nextRecord(rec, { type: 'recreated', pid: 0 }); // refuses early: nothing is touched for a container in the wrong state
    const p = containerPaths(deps.dirs, rec.id);
    if (!fs.existsSync(p.configJson) || !isMountPoint(rec.rootfs)) {
      throw wrongState(`container ${rec.id} lost its bundle or rootfs (the host rebooted?): it can only be removed`);
    }
    const runtime = runtimeFor(deps, rec.runtimeHandler);
    try {
      await runtime.delete(rec.id);
      for (const f of [exitFilePath(deps.dirs.exits, rec.id), persistExitFilePath(rec.persistDir), oomFilePath(rec.persistDir), ctlFifoPath(rec.bundle), p.pidFile, p.conmonPidFile, path.join(rec.bundle, 'attach')]) {
        fs.rmSync(f, { force: true });
      }
      // As at creation (create.ts): the runtime binds the rootfs with the host's flags, which are then restricted again.
      await allowHostRootfs(rec.rootfs);
      const created = await deps.opts.conmon.create(conmonOptions(deps, rec, runtime, options.exitCommand));
      await restrictHostRootfs(rec.rootfs);
      return deps.store.transition(rec.id, { type: 'recreated', pid: created.pid });
    } catch (err) {
      await runtime.delete(rec.id).catch(() => undefined);
      await restrictHostRootfs(rec.rootfs).catch(() => undefined);
      if (err instanceof PeapodError && err.code !== 'INTERNAL') throw err;
      throw internal(`creating container ${rec.id} again: ${(err as Error).message}`, { cause: err });
    }
  });
}
