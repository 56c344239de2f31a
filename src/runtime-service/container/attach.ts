/**
 * Attaching to a running container (the CRI's Attach, a CLI's `attach`),
 * as CRI-O does it: through conmon's attach socket, which carries the
 * container's output live, byte for byte, with the pipe each chunk came
 * from, and takes what the client types for the container's stdin
 * (conmon/attach-relay.ts). Not through the log: the CRI log is text lines
 * with a timestamp each, a copy made for the kubelet, rotated and reopened
 * behind an attach's back.
 */
import { writableReady } from '../../common/backpressure';
import { internal } from '../../common/errors';
import { ATTACH_PIPE, AttachPacket, openAttachRelay } from '../../conmon/attach-relay';
import { attachSocketPath } from '../../conmon/driver';
import type { ContainerDeps } from './deps';
import { runningContainer } from './exec';
import type { StdioStreams } from './stdio';

/**
 * Joins a running container's output and stdin until it exits or the client
 * leaves (`io.signal`): every byte the container writes after the attach
 * reaches `io.stdout` (or `io.stderr`, the pipe it was written to; with a
 * terminal everything is stdout) unchanged, and every byte of `io.stdin`
 * reaches the container's stdin (when it has one). The client's stdin
 * ending ends the container's stdin when it was made with stdin_once.
 * Backpressure: a slow client slows the container down (conmon waits).
 * @throws NotFoundError; WrongStateError when the container is not running;
 *   InternalError when the attach socket cannot be reached while the container runs.
 */
export async function attachContainer(deps: ContainerDeps, id: string, io: StdioStreams): Promise<void> {
  const rec = await runningContainer(deps, id, 'attach');
  const withStdin = io.stdin !== undefined && rec.stdin;
  const relay = openAttachRelay(attachSocketPath(deps.dirs.sockets, rec.id), withStdin);
  const stop = (): void => {
    relay.child.kill('SIGKILL');
  };
  io.signal.addEventListener('abort', stop);
  if (io.signal.aborted) stop();
  if (withStdin) io.stdin!.pipe(relay.child.stdin!);
  const exited = new Promise<number | null>((resolve) => {
    if (relay.child.exitCode !== null || relay.child.signalCode !== null) resolve(relay.child.exitCode);
    else relay.child.once('close', (code) => resolve(code));
  });
  try {
    for await (const packet of relay.packets as AsyncIterable<AttachPacket>) {
      const to = io.tty || packet.pipe === ATTACH_PIPE.stdout ? io.stdout : packet.pipe === ATTACH_PIPE.stderr ? io.stderr : undefined;
      if (!to || to.destroyed || to.writableEnded) continue;
      if (!to.write(packet.data)) await writableReady(to);
    }
    const code = await exited;
    if (code !== 0 && !io.signal.aborted) {
      // The container may have ended between the check and the connection: then there is nothing to attach to.
      const now = deps.store.find(rec.id);
      if (now && now.state === 'running' && relay.stderr() !== '') throw internal(`attaching to container ${rec.id}: ${relay.stderr().trim()}`);
    }
  } finally {
    io.signal.removeEventListener('abort', stop);
    if (withStdin) io.stdin!.unpipe(relay.child.stdin!);
    stop();
  }
}
