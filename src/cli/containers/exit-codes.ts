/**
 * Podman's exit codes for a container command that could not be run:
 * 127 when the runtime did not find it, 126 when it found it but could not
 * execute it (permission, not an executable). runc reports both as text
 * (`exec: "x": executable file not found in $PATH`, `… permission
 * denied`), at create for the container's command, at `runc exec` for an
 * exec's.
 */
import { EXIT_CANNOT_INVOKE, EXIT_ENGINE, EXIT_NOT_FOUND } from '../errors';

/** The exit code for a runtime's failure to start a process, from its message: 127, 126, or 125 for anything else. */
export function invokeExitCode(message: string): number {
  if (/executable file not found|no such file or directory/i.test(message)) return EXIT_NOT_FOUND;
  if (/permission denied|exec format error|is a directory|not an executable/i.test(message)) return EXIT_CANNOT_INVOKE;
  return EXIT_ENGINE;
}

/** Podman's words after a runtime's message for 127 and 126. */
export function invokeHint(code: number): string {
  if (code === EXIT_NOT_FOUND) return ': OCI runtime attempted to invoke a command that was not found';
  if (code === EXIT_CANNOT_INVOKE) return ': OCI permission denied';
  return '';
}

/**
 * The runtime's own words in a failure message: runc logs as
 * `time="…" level=error msg="…"`; that message (unescaped) is what Podman
 * shows, after `runc: `. Other messages are returned unchanged.
 */
export function runtimeMessage(message: string): string {
  const m = /level=error msg="((?:[^"\\]|\\.)*)"/.exec(message);
  if (!m) return message;
  try {
    return `runc: ${JSON.parse(`"${m[1]}"`) as string}`;
  } catch {
    return `runc: ${m[1]}`;
  }
}
