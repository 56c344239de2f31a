import * as fs from 'node:fs';
import { internal, invalidArgument, notFound } from '../../common/errors';
import { ConmonError } from '../../conmon/driver';
import { ContainerDeps, runtimeFor } from './deps';
import { writeExecProcess } from './exec-process';
import { applyExit } from './exits';
import { splitLogStreams } from './logs';
import { mustBeRunning } from './state';

/** ExecSync's result. */
export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

/** Each of ExecSync's outputs is cut at 16 MiB. */
export const EXEC_SYNC_MAX_OUTPUT = 16 << 20;
/** The stderr text and exit code of an ExecSync whose timeout expired. */
export const EXEC_TIMED_OUT_MESSAGE = 'command timed out';
export const EXEC_TIMED_OUT_EXIT_CODE = -1;

/**
 * Runs `cmd` in a running container (same user, env, cwd and capabilities
 * as its main process) under conmon's exec mode and returns its output and
 * exit code. A timeout (seconds, 0 = none) kills the process and returns
 * exit code -1 with `command timed out` on stderr; each output is capped at
 * 16 MiB.
 * @throws InvalidArgumentError for an empty cmd; NotFoundError; WrongStateError
 *   when the container is not running; InternalError when conmon fails.
 */
export async function execSync(deps: ContainerDeps, id: string, cmd: string[], timeoutSec: number): Promise<ExecSyncResult> {
  if (cmd.length === 0) throw invalidArgument('an exec needs a command', { field: 'cmd' });
  if (!deps.store.find(id)) throw notFound(`container "${id}" not found`);
  await applyExit(deps, id);
  const rec = deps.store.find(id);
  if (!rec) throw notFound(`container "${id}" not found`);
  mustBeRunning(rec, 'exec');
  const work = writeExecProcess(rec, cmd, false);
  const runtime = runtimeFor(deps, rec.runtimeHandler);
  try {
    const r = await deps.opts.conmon.exec({
      containerId: rec.id,
      execId: `${rec.id.slice(0, 12)}-exec-${work.tag}`,
      bundle: rec.bundle,
      runtimePath: runtime.binary,
      runtimeRoot: runtime.root,
      processSpecFile: work.processFile,
      workDir: work.dir,
      timeoutSec,
      maxLogBytes: 4 * EXEC_SYNC_MAX_OUTPUT,
    });
    let log: Buffer = Buffer.alloc(0);
    try {
      log = fs.readFileSync(r.logFile);
    } catch {
      /* no output */
    }
    const out = splitLogStreams(log, EXEC_SYNC_MAX_OUTPUT);
    if (r.timedOut) {
      const stderr = Buffer.concat([out.stderr, Buffer.from(EXEC_TIMED_OUT_MESSAGE)]).subarray(0, EXEC_SYNC_MAX_OUTPUT);
      return { stdout: out.stdout, stderr, exitCode: EXEC_TIMED_OUT_EXIT_CODE };
    }
    return { stdout: out.stdout, stderr: out.stderr, exitCode: r.exitCode };
  } catch (err) {
    if (err instanceof ConmonError) throw internal(`exec in container ${rec.id}: ${err.message}`, { cause: err });
    throw err;
  } finally {
    fs.rmSync(work.dir, { recursive: true, force: true });
  }
}
