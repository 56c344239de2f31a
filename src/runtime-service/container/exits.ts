import * as fs from 'node:fs';
import { exitFilePath, oomFilePath, persistExitFilePath, readExitFile } from '../../conmon/driver';
import { nowNs, setLongTimeout } from '../../common/time';
import type { ContainerDeps } from './deps';
import { closePartialLogLines } from './logs';

/**
 * Applies the exit conmon recorded for a container, if there is one: the
 * `exited` transition with exit code, finish time (the exit file's mtime,
 * never before the start) and reason (OOMKilled when conmon saw the OOM
 * killer, Completed for 0, else Error); a partial last log line is closed.
 * Idempotent, under the container's lock; any process may run it (a CLI
 * container's exit may be noticed by the next command, not by a watcher).
 *
 * @returns whether the container is now exited (false: still created or
 *   running, or unknown).
 */
export function applyExit(deps: ContainerDeps, id: string): Promise<boolean> {
  return deps.locks.run(id, async () => {
    const rec = deps.store.getAny(id);
    if (!rec || rec.state === 'creating') return false;
    if (rec.state === 'exited') return true;
    const persistDir = rec.persistDir;
    const ex = readExitFile(exitFilePath(deps.dirs.exits, id)) ?? readExitFile(persistExitFilePath(persistDir));
    if (!ex) return false;
    const oom = fs.existsSync(oomFilePath(persistDir));
    const next = deps.store.transition(id, {
      type: 'exited',
      exitCode: ex.exitCode,
      finishedAt: ex.finishedAtNs,
      reason: oom ? 'OOMKilled' : ex.exitCode === 0 ? 'Completed' : 'Error',
    });
    if (next.logPath) closePartialLogLines(next.logPath, nowNs());
    wakeExitWaiters(deps, id);
    return true;
  });
}

/**
 * Whether conmon has written an exit file for the container, in the exit
 * directory or its persist directory: two access(2) calls, no lock, no
 * database write. A status read calls applyExit only then, so the status of
 * a running container costs no lock row (an IMMEDIATE transaction taken and
 * released) per call. A file that appears just after this look is applied by
 * the exit watcher or the next read, as if the read had come a moment earlier.
 */
export function exitRecorded(deps: { dirs: Pick<ContainerDeps['dirs'], 'exits'> }, rec: { id: string; persistDir: string }): boolean {
  return fs.existsSync(exitFilePath(deps.dirs.exits, rec.id)) || fs.existsSync(persistExitFilePath(rec.persistDir));
}

/**
 * Wakes everyone waiting for container `id` to end (waitExit): it exited, or
 * its record was deleted (a removal, a rollback).
 */
export function wakeExitWaiters(deps: ContainerDeps, id: string): void {
  const waiters = deps.exitWaiters.get(id);
  deps.exitWaiters.delete(id);
  for (const w of waiters ?? []) w();
}

/** Whether the container is exited (applying its exit file) or gone (removed, rolled back). */
async function ended(deps: ContainerDeps, id: string): Promise<boolean> {
  return (await applyExit(deps, id)) || deps.store.getAny(id) === undefined;
}

/**
 * Waits up to `ms` for the container to end: exited, or removed by a call
 * racing this one (a removed container has ended too). Woken by the exit
 * watcher and by removals, with a last look at the end. `ms` may be any
 * length (a client's stop grace period: setLongTimeout).
 * @returns whether it ended within `ms`.
 */
export async function waitExit(deps: ContainerDeps, id: string, ms: number): Promise<boolean> {
  if (await ended(deps, id)) return true;
  return new Promise<boolean>((resolve) => {
    let set = deps.exitWaiters.get(id);
    if (!set) deps.exitWaiters.set(id, (set = new Set()));
    const waiter = (): void => {
      timer.clear();
      resolve(true);
    };
    const timer = setLongTimeout(() => {
      set?.delete(waiter);
      // One last look, in case the watch event was lost.
      void ended(deps, id).then(resolve, () => resolve(false));
    }, ms);
    set.add(waiter);
  });
}

/**
 * Watches conmon's exit directory and applies each exit as its file
 * appears. Close the returned watcher to stop.
 */
export function watchExits(deps: ContainerDeps): fs.FSWatcher {
  const watcher = fs.watch(deps.dirs.exits, (_event, filename) => {
    if (!filename) return;
    const id = filename.toString();
    if (deps.store.getAny(id)) void applyExit(deps, id).catch((err) => deps.opts.log.error({ id, err }, 'handling container exit failed'));
  });
  watcher.on('error', (err) => deps.opts.log.error({ err }, 'exit directory watch failed'));
  return watcher;
}
