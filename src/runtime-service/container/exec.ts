/**
 * An interactive exec in a container (the CRI's streaming Exec, a CLI's
 * `exec -it`): `runc exec` with the container's process settings, its stdio
 * joined to the client's streams (exec-stream.ts), once the container is
 * found running here.
 */
import { notFound } from '../../common/errors';
import { ContainerDeps, runtimeFor } from './deps';
import type { ExecOverrides } from './exec-process';
import { execWithStdio } from './exec-stream';
import { applyExit } from './exits';
import type { ContainerRecord } from './record';
import { checkExecCommand } from './spec-bounds';
import { mustBeRunning } from './state';
import type { StdioStreams } from './stdio';

/**
 * The container, refreshed from its exit file, when it is running.
 * @throws NotFoundError; WrongStateError (not running) naming `verb`.
 */
export async function runningContainer(deps: ContainerDeps, id: string, verb: string): Promise<ContainerRecord> {
  if (!deps.store.find(id)) throw notFound(`container "${id}" not found`);
  await applyExit(deps, id);
  const rec = deps.store.find(id);
  if (!rec) throw notFound(`container "${id}" not found`);
  mustBeRunning(rec, verb);
  return rec;
}

/**
 * Runs `cmd` in a running container with the client's stdio (see the
 * module doc), as its main process runs unless `overrides` change the
 * environment, user or working directory.
 * @returns its exit code (128+N when killed by signal N), once everything it printed is written.
 * @throws NotFoundError; WrongStateError when the container is not running;
 *   Error when the process cannot be run.
 */
export async function execStreaming(deps: ContainerDeps, id: string, cmd: string[], io: StdioStreams, overrides: ExecOverrides = {}): Promise<number> {
  checkExecCommand(cmd);
  const rec = await runningContainer(deps, id, 'exec');
  return execWithStdio(runtimeFor(deps, rec.runtimeHandler), rec, cmd, io, overrides);
}
