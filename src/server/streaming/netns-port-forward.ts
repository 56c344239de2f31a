/**
 * PortForward's real connection: TCP to 127.0.0.1:PORT inside a pod's
 * network namespace.
 *
 * Node cannot enter a namespace (no setns), so a relay process does it:
 * `nsenter --net=NETNS_PATH socat -d -d -t SECONDS STDIO,shut-down TCP4:127.0.0.1:PORT`.
 * nsenter (util-linux) joins the namespace pinned at the path and execs
 * socat, which connects and copies stdin to the socket and the socket to
 * stdout; we pipe the client's stream to its stdin and its stdout back.
 *
 * Why socat (Debian package `socat`): it half-closes properly (EOF on stdin
 * becomes a TCP shutdown of the write side, and it keeps reading the reply),
 * reports a refused connection on stderr with a non-zero exit, and is
 * small and ubiquitous. busybox nc does not shut down the write side on
 * stdin EOF. `-t` sets how long socat keeps the other direction open after
 * one side ended; we set it high and end the relay ourselves when the pod
 * closed its side or the client's stream is gone.
 */
import { spawnHostProcess } from '../../common/host/command';
import type { Duplex } from 'node:stream';
import { forwardOutput } from '../../common/backpressure';

/** The programs of the relay (forwardInNetns) and how long it keeps a half-closed connection. */
export interface NetnsPortForwardOptions {
  /** The nsenter binary. */
  nsenterPath?: string;
  /** The socat binary. */
  socatPath?: string;
  /** Seconds socat keeps one direction open after the other ended. */
  halfCloseTimeoutSeconds?: number;
}

/** Largest stderr text kept for the error message (bytes). */
const MAX_STDERR = 4096;

/**
 * Connects `stream` to 127.0.0.1:`port` inside the network namespace pinned
 * at `netnsPath` and copies both ways until both directions are done.
 *
 * @param netnsPath path of the pinned network namespace (e.g. a bind mount
 *   under /run/netns or the sandbox's runroot)
 * @param port TCP port, 1 to 65535
 * @param stream the client's stream; it is ended when the pod side ends
 * @throws Error when the relay cannot start or the connection fails; the
 *   message carries socat's complaint, e.g. `Connection refused`.
 */
export function forwardInNetns(netnsPath: string, port: number, stream: Duplex, opts: NetnsPortForwardOptions = {}): Promise<void> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) return Promise.reject(new Error(`invalid port ${port}`));
  const nsenter = opts.nsenterPath ?? 'nsenter';
  const socat = opts.socatPath ?? 'socat';
  const timeout = opts.halfCloseTimeoutSeconds ?? 3600;
  // -d -d: socat logs "starting data transfer loop" once connected (how we
  // tell a refused connection from a finished one). STDIO,shut-down: when
  // the pod closes its side, socat closes its stdout at once instead of at
  // exit, so the client sees the end of the reply.
  const args = [`--net=${netnsPath}`, socat, '-d', '-d', '-t', String(timeout), 'STDIO,shut-down', `TCP4:127.0.0.1:${port}`];
  return new Promise<void>((resolve, reject) => {
    const child = spawnHostProcess(nsenter, args);
    const childIn = child.stdin!;
    const childOut = child.stdout!;
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => {
      if (stderr.length < MAX_STDERR) stderr += d.toString('utf8');
    });
    const connected = (): boolean => stderr.includes('starting data transfer loop');
    const running = (): boolean => child.exitCode === null && child.signalCode === null;
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      stream.unpipe(childIn);
      stream.off('close', onGone);
      stream.off('reset', onGone);
      if (err) reject(err);
      else resolve();
    };
    // The client's stream is torn down: stop the relay.
    const onGone = (): void => {
      if (running()) child.kill('SIGTERM');
    };
    child.on('error', (err) => finish(new Error(`cannot run ${nsenter}: ${err.message}`)));
    stream.pipe(childIn); // the client's half-close becomes the relay's stdin EOF
    childIn.on('error', () => undefined);
    stream.once('close', onGone);
    stream.once('reset', onGone);
    // Backpressure: a client slow to read stops us reading the relay, which stops reading the pod's socket.
    void forwardOutput(childOut, stream);
    childOut.on('end', () => {
      if (!stream.writableEnded && !stream.destroyed) stream.end();
      // The pod closed its side: the forward is over (as in the kubelet and
      // CRI-O, the client-to-pod direction is not waited for).
      if (connected()) {
        if (running()) child.kill('SIGTERM');
        finish();
      }
    });
    child.on('close', (code, signal) => {
      if (!stream.writableEnded && !stream.destroyed) stream.end();
      if (code === 0 || connected() || signal === 'SIGTERM') finish();
      else {
        const why = stderr
          .split('\n')
          .filter((l) => / E /.test(l))
          .pop();
        finish(new Error(`connection to 127.0.0.1:${port} in ${netnsPath} failed${why ? `: ${why.replace(/^.*? E /, '')}` : ` (exit ${code ?? signal})`}`));
      }
    });
  });
}
