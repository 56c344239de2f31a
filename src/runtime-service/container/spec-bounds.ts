/**
 * Bounds on the strings of a container spec that the OCI runtime may quote
 * in its error text, checked in the domain before anything is made (both
 * front ends create through it).
 *
 * Why: conmon runs `runtime create` with the runtime's stderr on a pipe and
 * reads that pipe only once the runtime has exited (conmon.c: waitpid, then
 * read of mainfd_stderr). runc quotes the executable (`exec: "<args[0]>":
 * executable file not found in $PATH`), the working directory and mount
 * paths in its errors, in one write; an error longer than the pipe's buffer
 * (64 KiB on Linux) blocks runc in that write, conmon in waitpid, and the
 * creation until its 120 s deadline. The kernel refuses such strings anyway:
 * a path (the executable, the working directory, a mount's paths) longer
 * than PATH_MAX (4096 bytes including its NUL) is ENAMETOOLONG, and a
 * string with a NUL byte cannot be passed to execve; so refusing them here
 * loses nothing and keeps every runtime error well under a pipe buffer.
 */
import { quoteInput } from '../../common/bounded-text';
import { invalidArgument } from '../../common/errors';
import { INPUT_LIMITS } from '../../common/input-limits';
import type { OciImageConfig } from '../oci/types';
import type { ContainerSpec } from './spec';

/** Throws INVALID_ARGUMENT (with `field`) when `value` is longer than a path may be. */
function checkPath(field: string, what: string, value: string | undefined): void {
  if (value === undefined || value.length * 3 <= INPUT_LIMITS.path) return;
  const size = Buffer.byteLength(value);
  if (size > INPUT_LIMITS.path) throw invalidArgument(`${field}: ${what} ${quoteInput(value)} is longer than ${INPUT_LIMITS.path} bytes (PATH_MAX)`, { field });
}

/** Throws INVALID_ARGUMENT (with `field`) when `value` holds a NUL byte. */
function checkNoNul(field: string, value: string): void {
  if (value.includes('\0')) throw invalidArgument(`${field}: ${quoteInput(value)} holds a NUL byte, which a process cannot be given`, { field });
}

/**
 * Checks the executable (the first of the process's arguments: the spec's
 * entrypoint or cmd, else the image's), the working directory and the
 * mount and device paths against PATH_MAX, and the arguments and
 * environment for NUL bytes.
 * @param spec the container spec as a front end made it
 * @param image the image's config (its Entrypoint and Cmd when the spec gives none)
 * @throws InvalidArgumentError naming the field (`entrypoint[0]`, `cmd[0]`,
 *   `workingDir`, `mounts[i].containerPath`, `env[i]` ...) and quoting the value
 */
export function checkSpecBounds(spec: ContainerSpec, image: OciImageConfig): void {
  const entrypoint = spec.entrypoint ?? [];
  const cmd = spec.cmd ?? [];
  const first: [string, string | undefined] =
    entrypoint.length > 0 ? ['entrypoint[0]', entrypoint[0]]
    : cmd.length > 0 && (image.config?.Entrypoint ?? []).length === 0 ? ['cmd[0]', cmd[0]]
    : ['image Entrypoint/Cmd', (image.config?.Entrypoint ?? [])[0] ?? (image.config?.Cmd ?? [])[0]];
  checkPath(first[0], 'the executable', first[1]);
  checkPath('workingDir', 'the working directory', spec.workingDir);
  (spec.mounts ?? []).forEach((m, i) => {
    checkPath(`mounts[${i}].containerPath`, 'the mount path', m.containerPath);
    checkPath(`mounts[${i}].hostPath`, 'the mount host path', m.hostPath);
  });
  (spec.devices ?? []).forEach((d, i) => {
    checkPath(`devices[${i}].containerPath`, 'the device path', d.containerPath);
    checkPath(`devices[${i}].hostPath`, 'the device host path', d.hostPath);
  });
  entrypoint.forEach((a, i) => checkNoNul(`entrypoint[${i}]`, a));
  cmd.forEach((a, i) => checkNoNul(`cmd[${i}]`, a));
  (spec.env ?? []).forEach((e, i) => checkNoNul(`env[${i}]`, `${e.name}=${e.value}`));
}

/**
 * Checks an exec's command as checkSpecBounds checks a container's: its
 * executable no longer than PATH_MAX, no argument with a NUL byte.
 * @param cmd the command and its arguments
 * @throws InvalidArgumentError naming `cmd[i]` and quoting the value
 */
export function checkExecCommand(cmd: readonly string[]): void {
  checkPath('cmd[0]', 'the executable', cmd[0]);
  cmd.forEach((a, i) => checkNoNul(`cmd[${i}]`, a));
}
