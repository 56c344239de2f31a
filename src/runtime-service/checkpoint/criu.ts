import { HostCommandError, runHostCommand } from '../../common/host/command';
import { wrongState, WrongStateError } from '../../common/errors';

/**
 * Whether CRIU can checkpoint and restore processes on this node, as
 * `criu check` says: run once per process and kept (the kernel and the criu
 * binary do not change under a running server; concurrent callers share
 * the one run).
 *
 * Debian 12's criu 3.17.1 fails on the kernels of these machines with
 * "vdso: Unexpected rt vDSO area bounds": then every checkpoint and restore
 * answers FAILED_PRECONDITION naming what `criu check` reported.
 */

/** The verdict of `criu check`. */
export type CriuVerdict = { ok: true; version: string } | { ok: false; reason: string };

/** How long `criu check` may take, in ms. */
const CRIU_CHECK_TIMEOUT_MS = 30_000;
/** Longest reason kept from criu's output, in characters. */
const MAX_REASON_LENGTH = 500;

/**
 * The reason in criu's output: its `Error (file:line): text` lines without
 * the source position, joined with "; " (the first is the cause, the others
 * what followed from it), else its last non-empty line; at most 500
 * characters.
 */
export function criuCheckReason(output: string): string {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const errors = lines.filter((l) => l.startsWith('Error')).map((l) => l.replace(/^Error\s*(\([^)]*\))?:?\s*/, ''));
  const reason = errors.length > 0 ? errors.join('; ') : lines[lines.length - 1] ?? 'no output';
  return reason.length > MAX_REASON_LENGTH ? `${reason.slice(0, MAX_REASON_LENGTH)}…` : reason;
}

/** Runs `criu check` (and `criu --version`) at most once; see the module doc. */
export class CriuCheck {
  private verdict?: Promise<CriuVerdict>;

  /** @param binary the criu program (looked up in PATH) */
  constructor(private readonly binary = 'criu') {}

  /** The cached verdict, running `criu check` the first time. */
  check(): Promise<CriuVerdict> {
    this.verdict ??= this.run();
    return this.verdict;
  }

  private async run(): Promise<CriuVerdict> {
    try {
      await runHostCommand(this.binary, ['check'], { timeoutMs: CRIU_CHECK_TIMEOUT_MS });
    } catch (err) {
      if (err instanceof HostCommandError) {
        const notThere = err.exitCode === null && /ENOENT/.test(err.stderr);
        if (notThere) return { ok: false, reason: `${this.binary} is not installed (Debian package criu)` };
        return { ok: false, reason: criuCheckReason(`${err.stderr}\n${err.stdout}`) || err.message };
      }
      return { ok: false, reason: (err as Error).message };
    }
    let version = '';
    try {
      version = /Version:\s*(\S+)/.exec(await runHostCommand(this.binary, ['--version'], { timeoutMs: CRIU_CHECK_TIMEOUT_MS }))?.[1] ?? '';
    } catch {
      /* check passed; the version is only informative */
    }
    return { ok: true, version };
  }

  /**
   * Resolves when CRIU can run.
   * @param what the operation, for the message (e.g. `checkpointing container abc`)
   * @throws WrongStateError (FAILED_PRECONDITION over CRI) naming what `criu check` reported.
   */
  async require(what: string): Promise<void> {
    const v = await this.check();
    if (!v.ok) throw criuUnavailable(what, v.reason);
  }
}

/** The refusal of an operation that needs CRIU on a node where `criu check` fails. */
export function criuUnavailable(what: string, reason: string): WrongStateError {
  return wrongState(`${what} needs CRIU, and "criu check" fails on this node: ${reason}`);
}
