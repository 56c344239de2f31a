import { execFile } from 'node:child_process';
import { PeapodError } from '../../common/errors';

/** A host tool (unshare, nsenter, mount, ip, sysctl…) failed. */
export class HostCommandError extends PeapodError {
  constructor(
    readonly command: string,
    readonly stderr: string,
    readonly exitCode: number | null,
  ) {
    super('INTERNAL', `${command} failed${exitCode !== null ? ` (exit ${exitCode})` : ''}: ${stderr.trim() || 'no output'}`);
    this.name = 'HostCommandError';
  }
}

/** How long a host tool may run, in ms. */
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Runs a host binary without a shell and returns its stdout.
 * @param file the binary (looked up in PATH)
 * @param args its arguments
 * @param timeoutMs kill it after this many ms (default 30 s)
 * @throws HostCommandError carrying stderr and the exit code when it fails.
 */
export function runHostCommand(file: string, args: string[], timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (!err) return resolve(stdout);
      const code = typeof err.code === 'number' ? err.code : null;
      reject(new HostCommandError([file, ...args].join(' '), stderr || err.message, code));
    });
  });
}
