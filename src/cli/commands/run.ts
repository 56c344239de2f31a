/**
 * `peapod run [flags] IMAGE [COMMAND [ARG...]]`: makes a container (its own
 * sandbox, or a pod's with --pod), starts it and, unless `-d`, stays
 * attached until it exits: its output on our stdout and stderr, our stdin
 * to it with -i, our terminal with -t (raw, its size followed, the detach
 * keys), signals we receive passed on to it (without -t). The exit code is
 * the container's; 125 when peapod failed, 126/127 when the command could
 * not be invoked or found. With `--rm` the container and its sandbox are
 * removed once it exited: by this process when it is attached, else by the
 * exit command conmon runs.
 */
import type { ContainerRecord } from '../../runtime-service/container/record';
import type { CliContext } from '../context';
import { CliError, EXIT_ENGINE } from '../errors';
import { attachContainer } from '../containers/attach-io';
import { cleanupCliContainer, CliContainers, createCliContainer, openContainers, removeCliContainer, startCliContainer } from '../containers/domain';
import { invokeExitCode, invokeHint, runtimeMessage } from '../containers/exit-codes';
import { CreateFlags, parseDetachKeys } from '../containers/flags';
import { createRequest } from '../containers/request';
import { readinessLater } from '../../runtime-service/sandbox/rootless-network';

/** Flags of `run`. */
export interface RunOptions extends CreateFlags {
  detach?: boolean;
}

/** Signals passed on to the container while attached without a terminal (Podman's --sig-proxy). */
const PROXIED: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** A runtime failure to start the process, as Podman reports it (125, 126 or 127). */
export function startFailure(err: unknown): CliError {
  const msg = err instanceof Error ? err.message : String(err);
  const code = invokeExitCode(msg);
  return new CliError(`${runtimeMessage(msg)}${invokeHint(code)}`, code);
}

/** Runs `run`. */
export async function run(ctx: CliContext, args: string[], o: RunOptions): Promise<number> {
  const detachKeys = parseDetachKeys(o.detachKeys);
  const attached = !o.detach;
  const request = await createRequest(ctx, args, o, attached);
  const c = await openContainers(ctx);
  let rec: ContainerRecord;
  try {
    // This process starts the container, so a rootless pod network is waited for there, not before it is made.
    rec = await readinessLater(() => createCliContainer(ctx, c, request));
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw startFailure(err);
  }
  if (o.detach) {
    try {
      await startCliContainer(ctx, c, rec, false);
    } catch (err) {
      await removeAfterFailure(ctx, c, rec, request.autoremove);
      throw startFailure(err);
    }
    ctx.io.stdout.write(`${rec.id}\n`);
    return 0;
  }
  return runAttached(ctx, c, rec, { stdin: request.interactive, detachKeys, autoremove: request.autoremove });
}

/** Removes a container whose start failed when it was to be removed anyway (`--rm`). */
async function removeAfterFailure(ctx: CliContext, c: CliContainers, rec: ContainerRecord, autoremove: boolean): Promise<void> {
  if (autoremove) await removeCliContainer(ctx, c, rec, 0).catch((e) => ctx.log.warn({ id: rec.id, err: e }, 'removing a container that failed to start'));
}

/**
 * Starts a created (or exited) container attached to this process's stdio
 * and waits: the exit code, or 0 when the detach keys were typed.
 */
export async function runAttached(ctx: CliContext, c: CliContainers, rec: ContainerRecord, o: { stdin: boolean; detachKeys?: Buffer; autoremove: boolean }): Promise<number> {
  let session: ReturnType<typeof attachContainer> | undefined;
  const forward = (sig: NodeJS.Signals): void => {
    void c.engine.signal(rec.id, sig).catch(() => undefined);
  };
  const handlers = rec.tty ? [] : PROXIED.map((sig) => [sig, () => forward(sig)] as const);
  for (const [sig, h] of handlers) process.on(sig, h);
  try {
    try {
      // Attached before the start, so no output is missed: a new container's log is empty, an exited one's continues at its end.
      await startCliContainer(ctx, c, rec, true, async (cur) => {
        session = attachContainer({ rec: cur, dirs: c.dirs, io: ctx.io, stdin: o.stdin, logOffset: logOffsetOf(cur), detachKeys: o.detachKeys });
        await session.ready;
      });
    } catch (err) {
      session?.stop();
      await removeAfterFailure(ctx, c, rec, o.autoremove);
      throw startFailure(err);
    }
    const how = await session!.done;
    if (how === 'detached') return 0;
    const res = await cleanupCliContainer(ctx, c, rec.id);
    if (!res) throw new CliError(`container ${rec.id} was removed while running`, EXIT_ENGINE);
    if (res.rec.state !== 'exited') throw new CliError(`container ${rec.id} is ${res.rec.state} after its output ended`, EXIT_ENGINE);
    return res.rec.exitCode;
  } finally {
    for (const [sig, h] of handlers) process.off(sig, h);
  }
}

/** Where a container's new output will start in its log. */
function logOffsetOf(rec: ContainerRecord): number {
  const { logEnd } = require('../containers/log-follow') as typeof import('../containers/log-follow');
  const { logFileOf } = require('../containers/attach-io') as typeof import('../containers/attach-io');
  return logEnd(logFileOf(rec));
}
