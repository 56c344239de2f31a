import { relayedText } from '../../common/bounded-text';
import * as fs from 'node:fs';
import { HostCommandError, runHostCommand } from '../../common/host/command';
import { startThroughExecFifo } from './exec-fifo';
import type { OciResources } from './types';
import { PeapodError } from '../../common/errors';

/** The runtime's view of a container (`runc state`). */
export interface RuntimeState {
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  pid: number;
}

/** A runtime command failed; carries its stderr. */
export class RuntimeError extends PeapodError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('INTERNAL', message, options);
    this.name = 'RuntimeError';
  }
}

/**
 * Runs an OCI runtime binary (runc 1.1 command line) against its state
 * directory `root`. Each method is one runtime verb.
 */
export class OciRuntime {
  /**
   * @param binary path of the runtime (e.g. /usr/sbin/runc)
   * @param root its state directory (`--root`)
   */
  constructor(readonly binary: string, readonly root: string) {}

  private async run(args: string[], timeoutMs = 60000): Promise<string> {
    try {
      return await runHostCommand(this.binary, ['--root', this.root, ...args], { timeoutMs });
    } catch (err) {
      const why = err instanceof HostCommandError ? err.stderr : (err as Error).message;
      // runc's reason is at the end of its text, and it quotes inputs: keep both ends, bounded.
      throw new RuntimeError(`${this.binary} ${args[0]}: ${relayedText(why)}`, { cause: err });
    }
  }

  /** `state`: undefined when the runtime does not know the container. */
  async state(id: string): Promise<RuntimeState | undefined> {
    try {
      const out = JSON.parse(await this.run(['state', id])) as { status: RuntimeState['status']; pid: number };
      return { status: out.status, pid: out.pid };
    } catch (err) {
      if (err instanceof RuntimeError && /does not exist|not exist/.test(err.message)) return undefined;
      throw err;
    }
  }

  /**
   * `start`: runs the user process of a created container. Given the
   * container's init pid, a runc container is started through its exec
   * FIFO by this process (exec-fifo.ts: what `runc start` does, without a
   * Go program's start-up); otherwise, or for another runtime, `start` is run.
   * @throws RuntimeError with the runtime's message (the init gone: `container process is already dead`).
   */
  async start(id: string, initPid?: number): Promise<void> {
    if (initPid !== undefined && initPid > 0) {
      try {
        if (await startThroughExecFifo(this.root, id, initPid)) return;
      } catch (err) {
        throw new RuntimeError(`${this.binary} start: ${relayedText((err as Error).message)}`, { cause: err });
      }
    }
    await this.run(['start', id]);
  }

  /**
   * `kill`: sends `signal` (a name like SIGTERM or a number) to the init
   * process, or with `all` to every process of the container's cgroup.
   * A container that is already stopped is not an error.
   */
  async kill(id: string, signal: string, all = false): Promise<void> {
    try {
      await this.run(['kill', ...(all ? ['--all'] : []), id, signal]);
    } catch (err) {
      if (err instanceof RuntimeError && /not running|process already finished|does not exist|container not running/.test(err.message)) return;
      throw err;
    }
  }

  /** `pause`: freezes every process of the container (cgroup freezer). */
  async pause(id: string): Promise<void> {
    await this.run(['pause', id]);
  }

  /** `resume`: thaws a paused container. */
  async resume(id: string): Promise<void> {
    await this.run(['resume', id]);
  }

  /** `delete --force`: removes the runtime's record (and kills what is left). Unknown IDs are fine. */
  async delete(id: string): Promise<void> {
    try {
      await this.run(['delete', '--force', id]);
    } catch (err) {
      if (err instanceof RuntimeError && /does not exist/.test(err.message)) return;
      throw err;
    }
  }

  /**
   * `checkpoint`: dumps the container's processes with CRIU into `imagePath`
   * (CRIU's log and stats into `workPath`), as CRI-O runs it; with
   * `leaveRunning` the processes go on afterwards.
   */
  async checkpoint(id: string, options: { imagePath: string; workPath: string; leaveRunning: boolean }): Promise<void> {
    await this.run(['checkpoint', '--image-path', options.imagePath, '--work-path', options.workPath, ...(options.leaveRunning ? ['--leave-running'] : []), id], 600_000);
  }

  /** `update --resources -`: applies new cgroup limits to a running container. */
  async update(id: string, resources: OciResources): Promise<void> {
    const file = `${this.root}/.update-${id}-${process.pid}-${Date.now()}.json`;
    fs.mkdirSync(this.root, { recursive: true, mode: 0o700 });
    fs.writeFileSync(file, JSON.stringify(resources), { mode: 0o600 });
    try {
      await this.run(['update', '--resources', file, id]);
    } finally {
      fs.rmSync(file, { force: true });
    }
  }
}

/** How long the OCI runtime may take to answer `--version`, in ms. */
const RUNTIME_PROBE_TIMEOUT_MS = 10_000;

/**
 * Runs `<runtimePath> --version`: whether the runtime can run containers.
 * @returns null when it answers with exit code 0, else a message saying why not.
 */
export async function probeRuntime(runtimePath: string): Promise<string | null> {
  try {
    await runHostCommand(runtimePath, ['--version'], { timeoutMs: RUNTIME_PROBE_TIMEOUT_MS });
    return null;
  } catch (err) {
    const why = err instanceof HostCommandError ? err.stderr : (err as Error).message;
    return `OCI runtime ${runtimePath} does not answer --version: ${why.split('\n')[0]}`;
  }
}
