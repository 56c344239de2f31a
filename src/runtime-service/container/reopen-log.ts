import * as fs from 'node:fs';
import { internal, notFound, wrongState } from '../../common/errors';
import { sleep } from '../../common/time';
import type { ContainerDeps } from './deps';
import { applyExit } from './exits';
import { mustBeRunning } from './state';

/** How long the monitor may take to make the new log file, in ms. */
const REOPEN_WAIT_MS = 5000;

/**
 * Has conmon reopen a running container's log file (after whoever rotates
 * logs renamed it) and returns once the new file exists.
 * @throws NotFoundError; WrongStateError when the container is not running
 *   or its monitor does not listen; InternalError when no new file appears in 5 s.
 */
export async function reopenLog(deps: ContainerDeps, id: string): Promise<void> {
  if (!deps.store.find(id)) throw notFound(`container "${id}" not found`);
  await applyExit(deps, id);
  const rec = deps.store.find(id);
  if (!rec) throw notFound(`container "${id}" not found`);
  mustBeRunning(rec, 'reopening the log');
  if (!rec.logPath) return;
  try {
    deps.opts.conmon.reopenLog(rec.bundle);
  } catch (err) {
    throw wrongState(`container ${rec.id}: ${(err as Error).message}`);
  }
  const deadline = Date.now() + REOPEN_WAIT_MS;
  while (!fs.existsSync(rec.logPath)) {
    if (Date.now() > deadline) throw internal(`container ${rec.id}: log file ${rec.logPath} was not reopened within 5s`);
    await sleep(20);
  }
}
