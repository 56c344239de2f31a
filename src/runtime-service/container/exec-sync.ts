import { relayedText } from '../../common/bounded-text';
import { checkExecCommand } from './spec-bounds';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { internal, invalidArgument, notFound, timedOut } from '../../common/errors';
import { canRunDetached, runDetached } from '../../common/host/command';
import { killProcess, processTree } from '../../common/host/proc';
import { ConmonError } from '../../conmon/driver';
import type { OciRuntime } from '../oci/runc';
import { ContainerDeps, runtimeFor } from './deps';
import { writeExecProcess } from './exec-process';
import { ExecOutput, readLogInto } from './exec-output';
import { applyExit, exitRecorded } from './exits';
import type { ContainerRecord } from './record';
import { mustBeRunning } from './state';

/** ExecSync's result. */
export interface ExecSyncResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

/** How much of an ExecSync's output is kept. */
export interface ExecSyncOptions {
  /** Bytes of stdout and stderr together (stderr kept first); default twice EXEC_SYNC_MAX_OUTPUT. */
  maxOutputBytes?: number;
}

/** Each of ExecSync's outputs is cut at 16 MiB. */
export const EXEC_SYNC_MAX_OUTPUT = 16 << 20;
/** The exit code of a run whose timeout expired (internal: the caller gets a TimedOutError). */
const TIMED_OUT_EXIT_CODE = -1;

/**
 * Runs `cmd` in a running container (same user, env, cwd and capabilities
 * as its main process: the runtime takes them from the bundle's config.json)
 * and returns its output and exit code (128+N when killed by signal N). A
 * timeout (seconds, 0 = none) kills the process and everything it started,
 * then throws TimedOutError (`command timed out`), as containerd answers
 * (gRPC DEADLINE_EXCEEDED, which the kubelet takes for a timed-out probe).
 * The output is bounded as ExecOutput says; it is never held beyond those
 * bounds (what comes beyond them is read and dropped).
 *
 * Two ways, one result:
 * - with the spawn server (peapod-cri): `runc exec --detach`, the process
 *   reaped by the server's helper, its output read from pipes the helper
 *   ends when the process exits (runcExec), so a background process holding
 *   them does not hold the call;
 * - else: conmon in exec mode, which reaps the process and writes a bounded
 *   log, read back streaming.
 * Each exec has files of its own, so concurrent execs never share one: the
 * pid file `<bundle>/exec-<random>.pid` (runc), or a directory
 * `<bundle>/exec-<random>` (conmon: process spec, log, exit dir).
 *
 * @throws InvalidArgumentError for an empty cmd; NotFoundError; WrongStateError
 *   when the container is not running; TimedOutError when the timeout expired
 *   (the process tree is gone by then); InternalError carrying the runtime's
 *   (or conmon's) own message when the process could not be started.
 */
export async function execSync(deps: ContainerDeps, id: string, cmd: string[], timeoutSec: number, options: ExecSyncOptions = {}): Promise<ExecSyncResult> {
  if (cmd.length === 0) throw invalidArgument('an exec needs a command', { field: 'cmd' });
  checkExecCommand(cmd);
  const found = deps.store.find(id);
  if (!found) throw notFound(`container "${id}" not found`);
  // Only an exit file on disk can change the state here: without one, no lock row is taken and
  // released (two writes) and the record is not read again.
  let rec = found;
  if (found.state !== 'exited' && exitRecorded(deps, found)) {
    await applyExit(deps, id);
    const now = deps.store.find(id);
    if (!now) throw notFound(`container "${id}" not found`);
    rec = now;
  }
  mustBeRunning(rec, 'exec');
  const runtime = runtimeFor(deps, rec.runtimeHandler);
  const out = new ExecOutput(EXEC_SYNC_MAX_OUTPUT, options.maxOutputBytes ?? 2 * EXEC_SYNC_MAX_OUTPUT);
  const tag = `exec-${randomBytes(8).toString('hex')}`;
  if (canRunDetached()) {
    // One file, the pid runc writes beside the bundle's config.json, read and removed by the spawn
    // server's helper: nothing made, read or removed on this process's event loop or thread pool.
    const run = await runcExec(runtime, rec, cmd, timeoutSec, path.join(rec.bundle, `${tag}.pid`), out);
    return execResult(rec, run, timeoutSec, out);
  }
  const dir = path.join(rec.bundle, tag);
  await fs.promises.mkdir(dir, { mode: 0o700 });
  try {
    return execResult(rec, await conmonExec(deps, runtime, rec, cmd, timeoutSec, dir, out), timeoutSec, out);
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}

/** The result of a run. @throws TimedOutError when its timeout expired */
function execResult(rec: ContainerRecord, run: ExecRun, timeoutSec: number, out: ExecOutput): ExecSyncResult {
  if (run.timedOut) throw timedOut(`exec in container ${rec.id}: command timed out: timeout ${timeoutSec}s exceeded; the process and everything it started were killed`);
  return { stdout: out.stdout, stderr: out.stderr, exitCode: run.exitCode };
}

/** How one run ended. */
interface ExecRun {
  exitCode: number;
  /** The timeout killed it. */
  timedOut: boolean;
}

/**
 * `runc exec --detach --pid-file <bundle>/exec-<random>.pid <id> <cmd…>` as a
 * detached run of the spawn server, as containerd's shim runs an exec: runc
 * returns once the process runs (or fails with its own message, which
 * becomes the error); the helper then reads and removes the pid file, reaps
 * the process (it is a child subreaper, as conmon is) and ends the outputs,
 * which it has read and forwarded itself (at most EXEC_SYNC_MAX_OUTPUT of
 * each: ExecOutput keeps no more), once that process has exited, even if
 * something it left in the background still holds them. Per call this
 * process writes one request and reads the helper's events: no socket, no
 * file, no thread-pool job (each was a wake-up of another thread or process
 * that, on a loaded host, could take the CPU from the event loop).
 */
async function runcExec(runtime: OciRuntime, rec: ContainerRecord, cmd: string[], timeoutSec: number, pidFile: string, out: ExecOutput): Promise<ExecRun> {
  let expired = false;
  const run = runDetached({
    file: runtime.binary,
    args: ['--root', runtime.root, 'exec', '--detach', '--pid-file', pidFile, rec.id, ...cmd],
    pidFile,
    maxOutputBytes: EXEC_SYNC_MAX_OUTPUT,
    onOutput: (stream, data) => out.add(stream, data),
    // A deadline that came before the pid: the process and everything it started go now.
    onLeft: (pid) => {
      if (expired) for (const p of processTree(pid)) killProcess(p);
    },
  });
  // At the deadline the process and everything it started are killed (runc itself if it has not started it yet).
  const deadline =
    timeoutSec > 0
      ? setTimeout(() => {
          expired = true;
          if (run.leftPid) for (const p of processTree(run.leftPid)) killProcess(p);
          else run.killChild('SIGKILL');
        }, timeoutSec * 1000)
      : undefined;
  try {
    const end = await run.ended;
    if (expired) return { exitCode: TIMED_OUT_EXIT_CODE, timedOut: true };
    if (!end.left) {
      const why = relayedText(out.stderr.toString('utf8')) || `${runtime.binary} exec ended with ${end.child.signal ?? `exit code ${end.child.code}`}`;
      throw internal(`exec in container ${rec.id}: ${why}`);
    }
    return { exitCode: end.left.code ?? 128 + (end.left.signal ? os.constants.signals[end.left.signal] : 0), timedOut: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).syscall?.startsWith('spawn')) throw internal(`exec in container ${rec.id}: cannot run ${runtime.binary}: ${(err as Error).message}`, { cause: err });
    throw err;
  } finally {
    clearTimeout(deadline);
  }
}

/** conmon in exec mode (the way without the spawn server), its log read back streaming. */
async function conmonExec(deps: ContainerDeps, runtime: OciRuntime, rec: ContainerRecord, cmd: string[], timeoutSec: number, dir: string, out: ExecOutput): Promise<ExecRun> {
  const { processFile } = writeExecProcess(rec, cmd, false, {}, dir);
  try {
    const r = await deps.opts.conmon.exec({
      containerId: rec.id,
      execId: `${rec.id.slice(0, 12)}-${path.basename(dir)}`,
      runtimePath: runtime.binary,
      runtimeRoot: runtime.root,
      processSpecFile: processFile,
      workDir: dir,
      timeoutSec,
      maxLogBytes: 4 * EXEC_SYNC_MAX_OUTPUT,
    });
    await readLogInto(r.logFile, out);
    return { exitCode: r.exitCode, timedOut: r.timedOut };
  } catch (err) {
    if (err instanceof ConmonError) throw internal(`exec in container ${rec.id}: ${err.message}`, { cause: err });
    throw err;
  }
}
