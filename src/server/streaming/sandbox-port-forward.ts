/**
 * PortForward's backend on peapod's pod sandboxes: the port is reached on
 * 127.0.0.1 inside the sandbox's network namespace (nsenter + socat, see
 * netns-port-forward.ts); a host-network pod shares the host's namespace, so
 * its port is reached on the host's 127.0.0.1 directly.
 */
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { SandboxRecord } from '../../runtime-service/sandbox/record';
import { wrongState, notFound } from '../../common/errors';
import type { PortForwardBackend } from './backend';
import { forwardOutput } from '../../common/backpressure';
import { forwardInNetns, NetnsPortForwardOptions } from './netns-port-forward';

/**
 * The PortForwardBackend of peapod's pod sandboxes (see the module doc):
 * checks the sandbox when a port-forward session opens, and relays each
 * stream to a port inside its network namespace.
 */
export class SandboxPortForwardBackend implements PortForwardBackend {
  /**
   * @param sandboxes the sandbox store (records with the namespace pins)
   * @param relay binaries of the nsenter + socat relay
   */
  constructor(
    private readonly sandboxes: { get(idOrPrefix: string): SandboxRecord | undefined },
    private readonly relay: NetnsPortForwardOptions = {},
  ) {}

  /**
   * @throws PeapodError NOT_FOUND for an unknown sandbox, WRONG_STATE
   *   when it is not ready (stopped: its network namespace is gone).
   */
  async checkSandbox(sandboxId: string): Promise<void> {
    const record = this.sandboxes.get(sandboxId);
    if (!record) throw notFound(`pod sandbox ${sandboxId} not found`);
    if (record.state !== 'ready') throw wrongState(`pod sandbox ${sandboxId} is not ready`);
  }

  /**
   * Relays `stream` to 127.0.0.1:`port` in the sandbox's network namespace
   * (the host's for a host-network pod); resolves when both directions have ended.
   * @param port a TCP port, 1-65535 (checked by the caller)
   * @throws Error for an unknown or stopped sandbox, or when the connection fails
   */
  async portForward(sandboxId: string, port: number, stream: Duplex): Promise<void> {
    const record = this.sandboxes.get(sandboxId);
    if (!record) throw new Error(`pod sandbox ${sandboxId} not found`);
    if (record.state !== 'ready') throw new Error(`pod sandbox ${sandboxId} is not ready`);
    const netns = record.namespaces.network;
    if (record.hostNetwork || !netns) return forwardOnHost(port, stream);
    return forwardInNetns(netns, port, stream, this.relay);
  }
}

/**
 * Connects `stream` to 127.0.0.1:`port` of the host (host-network pods),
 * with the same half-close behaviour as the relay: the stream's end shuts
 * down the socket's write side; the socket's end ends the stream.
 * @throws Error when the connection fails (e.g. `connect ECONNREFUSED`).
 */
export function forwardOnHost(port: number, stream: Duplex): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let connected = false;
    socket.once('connect', () => {
      connected = true;
      stream.pipe(socket);
    });
    // Backpressure both ways: pipe() above, forwardOutput here.
    void forwardOutput(socket, stream);
    socket.on('end', () => {
      if (!stream.writableEnded && !stream.destroyed) stream.end();
    });
    const gone = (): void => {
      socket.destroy();
    };
    stream.once('close', gone);
    stream.once('reset', gone);
    socket.on('error', (err) => {
      if (!connected) {
        stream.off('close', gone);
        stream.off('reset', gone);
        reject(new Error(`connection to 127.0.0.1:${port} failed: ${err.message}`));
      }
    });
    socket.on('close', () => {
      stream.off('close', gone);
      stream.off('reset', gone);
      if (connected) resolve();
    });
  });
}
