/**
 * The host lookups a container's spec needs before its OCI config can be
 * built (buildSpec is pure): mount sources resolved, device nodes stat'ed,
 * a localhost seccomp profile read, the PID namespace of a target container
 * (verified).
 */
import * as fs from 'node:fs';
import { invalidArgument, wrongState } from '../../common/errors';
import type { HostDevice, ResolvedMount } from '../oci/spec';
import type { OciSeccomp } from '../oci/types';
import { deviceNumbers } from './host';
import type { ContainerDevice, ContainerMount, ContainerSpec } from './spec';
import type { ContainerDeps } from './deps';
import { applyExit } from './exits';
import { quoteInput } from '../../common/bounded-text';

/**
 * The spec's mounts, host paths resolved (symlinks followed). A host path
 * that does not exist is made, as a directory of mode 0755 with its missing
 * parents, as containerd (internal/cri/opts/spec_linux_opts.go WithMounts)
 * and CRI-O (server/container_create_linux.go, with an empty
 * absent_mount_sources_to_reject, its default) do: the kubelet's hostPath
 * volumes without a type rely on it. The directory stays after the
 * container, as with both. The containers' paths are all checked before
 * any host path is made.
 * @throws InvalidArgumentError (field `mounts[i].containerPath` /
 *   `.hostPath`): a relative path; a host path that cannot be stat'ed for
 *   another reason than its absence, or cannot be made (a component is a
 *   file, a dangling symlink, a read-only file system: what containerd and
 *   CRI-O refuse too).
 */
export function resolveMounts(mounts: ContainerMount[]): ResolvedMount[] {
  mounts.forEach((m, i) => {
    if (!m.containerPath || !m.containerPath.startsWith('/')) throw invalidArgument(`mount path ${quoteInput(m.containerPath)} in the container must be absolute`, { field: `mounts[${i}].containerPath` });
    if (!m.hostPath) throw invalidArgument('a mount needs a host path', { field: `mounts[${i}].hostPath` });
    if (!m.hostPath.startsWith('/')) throw invalidArgument(`mount host path ${quoteInput(m.hostPath)} must be absolute`, { field: `mounts[${i}].hostPath` });
    // As containerd refuses them (internal/cri/opts/spec_linux_opts.go): rro on a writable or shared mount means nothing.
    if (m.recursiveReadOnly && !m.readonly) throw invalidArgument(`recursive read-only mount of ${quoteInput(m.containerPath)} must be read-only`, { field: `mounts[${i}].recursiveReadOnly` });
    if (m.recursiveReadOnly && (m.propagation ?? 'private') !== 'private') throw invalidArgument(`recursive read-only mount of ${quoteInput(m.containerPath)} must have private propagation`, { field: `mounts[${i}].recursiveReadOnly` });
  });
  return mounts.map((m, i) => {
    const field = `mounts[${i}].hostPath`;
    try {
      fs.statSync(m.hostPath);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT') throw invalidArgument(`mount host path ${quoteInput(m.hostPath)} cannot be used: ${code ?? (err as Error).message}`, { field });
      try {
        fs.mkdirSync(m.hostPath, { recursive: true, mode: 0o755 });
      } catch (mkErr) {
        throw invalidArgument(`mount host path ${quoteInput(m.hostPath)} does not exist and cannot be made as a directory: ${(mkErr as NodeJS.ErrnoException).code ?? (mkErr as Error).message}`, { field });
      }
    }
    let hostPath: string;
    try {
      hostPath = fs.realpathSync(m.hostPath);
    } catch (err) {
      throw invalidArgument(`mount host path ${quoteInput(m.hostPath)} cannot be resolved: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { field });
    }
    return { containerPath: m.containerPath, hostPath, readonly: m.readonly ?? false, propagation: m.propagation ?? 'private', ...(m.recursiveReadOnly ? { recursiveReadOnly: true } : {}) };
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
      throw invalidArgument(`device ${quoteInput(d.hostPath)} does not exist on the host`, { field: `devices[${i}].hostPath` });
    }
    if (!st.isCharacterDevice() && !st.isBlockDevice()) throw invalidArgument(`${quoteInput(d.hostPath)} is not a device`, { field: `devices[${i}].hostPath` });
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
    throw invalidArgument(`seccomp profile ${quoteInput(seccomp.profilePath)} is not a readable profile: ${(err as Error).message}`, { field: 'security.seccomp.profilePath' });
  }
}

/** Whether process `pid` belongs to container `id`: one of its cgroups is the container's (every cgroups path peapod gives names the ID). */
function inContainerCgroup(pid: number, id: string): boolean {
  try {
    return fs
      .readFileSync(`/proc/${pid}/cgroup`, 'utf8')
      .split('\n')
      .some((line) => line.slice(line.indexOf(':', line.indexOf(':') + 1) + 1).includes(id));
  } catch {
    return false;
  }
}

/**
 * The PID namespace a container of pid mode TARGET joins: that of a running
 * container of the same pod, verified now (CRI-O verifies its target's pid
 * and start time the same way before it names /proc/<pid>/ns/pid): the
 * target must be a container of this pod, still running once its exit file
 * is read, and its recorded pid must still be a process of that container
 * (in its cgroup), so a pid the kernel gave to another process since is
 * never joined. A container never joins the host's PID namespace this way.
 * @param sandboxId the pod the new container is made in
 * @returns /proc/<pid>/ns/pid of the target; undefined for every other pid mode.
 * @throws InvalidArgumentError (field `pidTargetId`) for a missing or unknown
 *   target, or one of another pod; WrongStateError (field `pidTargetId`)
 *   when it is not running or its process is gone.
 */
export async function targetPidNamespace(deps: ContainerDeps, sandboxId: string, spec: ContainerSpec): Promise<string | undefined> {
  if (spec.pidMode !== 'TARGET') return undefined;
  const field = 'pidTargetId';
  const wanted = spec.pidTargetId ?? '';
  if (!wanted) throw invalidArgument('pid mode TARGET needs the container whose PID namespace to join', { field });
  const found = deps.store.find(wanted);
  if (!found) throw invalidArgument(`the PID namespace target ${quoteInput(wanted)} is not a container`, { field });
  if (found.sandboxId !== sandboxId) throw invalidArgument(`the PID namespace target ${found.id} is a container of another pod sandbox (${found.sandboxId})`, { field });
  await applyExit(deps, found.id);
  const target = deps.store.find(found.id);
  if (!target || target.state !== 'running') throw wrongState(`the PID namespace target ${found.id} is ${target?.state ?? 'gone'}: only a running container's can be joined`, { field });
  if (!(target.pid > 0) || !inContainerCgroup(target.pid, target.id)) {
    throw wrongState(`the PID namespace target ${target.id} has no process any more (pid ${target.pid} is not in its cgroup)`, { field });
  }
  return `/proc/${target.pid}/ns/pid`;
}
