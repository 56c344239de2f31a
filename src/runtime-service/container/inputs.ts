/**
 * The host lookups a container's spec needs before its OCI config can be
 * built (buildSpec is pure): mount sources resolved, device nodes stat'ed,
 * a localhost seccomp profile read, the PID namespace of a target container.
 */
import * as fs from 'node:fs';
import { invalidArgument } from '../../common/errors';
import type { HostDevice, ResolvedMount } from '../oci/spec';
import type { OciSeccomp } from '../oci/types';
import { deviceNumbers } from './host';
import type { ContainerDevice, ContainerMount, ContainerSpec } from './spec';
import type { ContainerStore } from './store';

/**
 * The spec's mounts, host paths resolved.
 * @throws InvalidArgumentError (field `mounts[i].containerPath` / `.hostPath`).
 */
export function resolveMounts(mounts: ContainerMount[]): ResolvedMount[] {
  return mounts.map((m, i) => {
    if (!m.containerPath || !m.containerPath.startsWith('/')) throw invalidArgument(`mount path "${m.containerPath}" in the container must be absolute`, { field: `mounts[${i}].containerPath` });
    if (!m.hostPath) throw invalidArgument('a mount needs a host path', { field: `mounts[${i}].hostPath` });
    let hostPath: string;
    try {
      hostPath = fs.realpathSync(m.hostPath);
    } catch {
      throw invalidArgument(`mount host path "${m.hostPath}" does not exist`, { field: `mounts[${i}].hostPath` });
    }
    return { containerPath: m.containerPath, hostPath, readonly: m.readonly ?? false, propagation: m.propagation ?? 'private' };
  });
}

/**
 * The spec's devices, stat'ed on the host.
 * @throws InvalidArgumentError (field `devices[i].hostPath`) for a path that is missing or not a device.
 */
export function resolveDevices(devices: ContainerDevice[]): HostDevice[] {
  return devices.map((d, i) => {
    let st: fs.Stats;
    try {
      st = fs.statSync(d.hostPath);
    } catch {
      throw invalidArgument(`device "${d.hostPath}" does not exist on the host`, { field: `devices[${i}].hostPath` });
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice()) throw invalidArgument(`"${d.hostPath}" is not a device`, { field: `devices[${i}].hostPath` });
    const { major, minor } = deviceNumbers(st.rdev);
    return {
      containerPath: d.containerPath || d.hostPath,
      type: st.isCharacterDevice() ? 'c' : 'b',
      major,
      minor,
      fileMode: st.mode & 0o7777,
      permissions: d.permissions || 'rwm',
    };
  });
}

/**
 * The seccomp profile of a localhost setting, read from its file; undefined
 * for any other setting or a privileged container.
 * @throws InvalidArgumentError (field `security.seccomp.profilePath`) when it cannot be read or parsed.
 */
export function localhostSeccomp(spec: ContainerSpec): OciSeccomp | undefined {
  const seccomp = spec.security?.seccomp;
  if (spec.security?.privileged || seccomp?.type !== 'localhost') return undefined;
  try {
    return JSON.parse(fs.readFileSync(seccomp.profilePath, 'utf8')) as OciSeccomp;
  } catch (err) {
    throw invalidArgument(`seccomp profile "${seccomp.profilePath}" is not a readable profile: ${(err as Error).message}`, { field: 'security.seccomp.profilePath' });
  }
}

/** The PID namespace file of a TARGET container's target, when it is running; undefined otherwise (buildSpec refuses). */
export function targetPidNamespace(spec: ContainerSpec, store: ContainerStore): string | undefined {
  if (spec.pidMode !== 'TARGET' || !spec.pidTargetId) return undefined;
  const target = store.find(spec.pidTargetId);
  return target && target.pid > 0 ? `/proc/${target.pid}/ns/pid` : undefined;
}
