/**
 * FAKE streaming backend for protocol tests: "containers" are names in a
 * set and exec runs the command as a host process (child_process), so the
 * SPDY/WebSocket protocol layer can be tested before the container engine
 * exists. Attach runs `cat` per attach as a stand-in for a container's
 * stdio. Port forwarding is REAL: it goes through the nsenter + socat relay
 * into a network namespace the test created.
 *
 * Never use this outside tests: it runs commands on the host.
 */
import { spawn } from 'node:child_process';
import type { Duplex, Readable, Writable } from 'node:stream';
import type { PortForwardBackend, RemoteCommandBackend, StdioStreams, TerminalSize } from '../../src/server/streaming/backend';
import { forwardOutput } from '../../src/common/backpressure';
import { forwardInNetns } from '../../src/server/streaming/netns-port-forward';
import { notFound, wrongState } from '../../src/common/errors';

export class FakeHostProcessBackend implements RemoteCommandBackend, PortForwardBackend {
  /** Container IDs that count as running. */
  readonly running = new Set<string>();
  /** Container IDs that exist but are stopped. */
  readonly stopped = new Set<string>();
  /** Sandbox ID → path of its pinned network namespace. */
  readonly sandboxes = new Map<string, string>();
  /** Terminal sizes received per exec, in order. */
  readonly resizes: TerminalSize[][] = [];

  async checkContainer(containerId: string): Promise<void> {
    if (this.stopped.has(containerId)) throw wrongState(`container ${containerId} is not running`);
    if (!this.running.has(containerId)) throw notFound(`container ${containerId} not found`);
  }

  async checkSandbox(sandboxId: string): Promise<void> {
    if (!this.sandboxes.has(sandboxId)) throw notFound(`pod sandbox ${sandboxId} not found`);
  }

  async exec(_containerId: string, cmd: string[], io: StdioStreams): Promise<number> {
    const sizes: TerminalSize[] = [];
    this.resizes.push(sizes);
    if (io.tty && io.resize) {
      // Record sizes as they come. Like a terminal set up before the command
      // runs, give the client's first size (kubectl sends it at once) up to
      // a second to arrive, so tests see it deterministically.
      const resize = io.resize;
      const first = new Promise<void>((resolve) => {
        void (async () => {
          for await (const size of resize) {
            sizes.push(size);
            resolve();
          }
          resolve();
        })();
        setTimeout(resolve, 1000);
      });
      await first;
    }
    return this.run(cmd, io);
  }

  async attach(_containerId: string, io: StdioStreams): Promise<void> {
    await this.run(['cat'], io);
  }

  async portForward(sandboxId: string, port: number, stream: Duplex): Promise<void> {
    const netns = this.sandboxes.get(sandboxId);
    if (!netns) throw new Error(`pod sandbox ${sandboxId} not found`);
    await forwardInNetns(netns, port, stream);
  }

  private run(cmd: string[], io: StdioStreams): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      const child = spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
      child.on('error', reject);
      io.signal.addEventListener('abort', () => child.kill('SIGKILL'));
      if (io.stdin) io.stdin.pipe(child.stdin);
      else child.stdin.end();
      child.stdin.on('error', () => undefined);
      const outputs: Array<Promise<void>> = [];
      // With backpressure, as the real backend copies.
      const forward = (from: Readable, to: Writable | undefined): void => {
        outputs.push(forwardOutput(from, to));
      };
      forward(child.stdout, io.stdout);
      // With a tty, stderr goes to the terminal, i.e. stdout.
      forward(child.stderr, io.tty ? io.stdout : io.stderr);
      child.on('exit', (code, signal) => {
        void Promise.all(outputs).then(() => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15)));
      });
    });
  }
}
