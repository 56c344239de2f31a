import * as path from 'node:path';
import { invalidArgument } from '../../common/errors';
import type { ContainerConfig__Output } from '../../generated/runtime/v1/ContainerConfig';
import type { LinuxContainerSecurityContext__Output } from '../../generated/runtime/v1/LinuxContainerSecurityContext';
import type { ContainerPidMode, ContainerSecurity, ContainerSpec, ContainerUser, MountPropagation, SeccompSetting } from '../container/spec';
import type { CriFieldPaths } from './fields';
import { resourcesOf } from './resources';

/** A CreateContainer config translated: peapod's spec and where each of its fields came from. */
export interface ContainerTranslation {
  spec: ContainerSpec;
  /** The CRI field path of a spec field, for error messages. */
  criPath: CriFieldPaths;
}

/** CRI mount propagation → OCI propagation. */
const PROPAGATION: Record<string, MountPropagation> = {
  PROPAGATION_PRIVATE: 'private',
  PROPAGATION_HOST_TO_CONTAINER: 'slave',
  PROPAGATION_BIDIRECTIONAL: 'shared',
};

/** OCI propagation → CRI mount propagation (ContainerStatus). */
export const CRI_PROPAGATION: Record<MountPropagation, 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL'> = {
  private: 'PROPAGATION_PRIVATE',
  slave: 'PROPAGATION_HOST_TO_CONTAINER',
  shared: 'PROPAGATION_BIDIRECTIONAL',
};

const SC = 'config.linux.security_context';

/**
 * Reads the deprecated `seccomp_profile_path` field: "" and "unconfined" are
 * unconfined, "runtime/default" and "docker/default" peapod's default
 * profile, "localhost/<path>" a profile file; anything else is refused, as
 * the kubelet's own values never take another form.
 * @throws InvalidArgumentError naming the field.
 */
export function legacySeccomp(value: string): SeccompSetting {
  if (value === '' || value === 'unconfined') return { type: 'unconfined' };
  if (value === 'runtime/default' || value === 'docker/default') return { type: 'runtime-default' };
  if (value.startsWith('localhost/')) return { type: 'localhost', profilePath: value.slice('localhost/'.length) };
  throw invalidArgument(`${SC}.seccomp_profile_path "${value}" must be "", "unconfined", "runtime/default", "docker/default" or "localhost/<path>"`);
}

/**
 * The seccomp setting of a CRI security context: `seccomp` when given
 * (Unconfined, RuntimeDefault, Localhost with its file), else the deprecated
 * `seccomp_profile_path`. A privileged container has none (neither is read).
 * @throws InvalidArgumentError for a bad seccomp_profile_path.
 */
export function seccompOf(sc: LinuxContainerSecurityContext__Output | null): SeccompSetting | undefined {
  if (!sc || sc.privileged) return undefined;
  const p = sc.seccomp;
  if (p) {
    if (p.profile_type === 'RuntimeDefault') return { type: 'runtime-default' };
    if (p.profile_type === 'Localhost') return { type: 'localhost', profilePath: p.localhost_ref };
    return { type: 'unconfined' };
  }
  return legacySeccomp(sc.seccomp_profile_path);
}

/** The AppArmor profile named by a CRI security context (`apparmor` Localhost, or the deprecated `localhost/<name>`), if any. */
export function apparmorProfileOf(sc: LinuxContainerSecurityContext__Output | null): string | undefined {
  const aa = sc?.apparmor ?? null;
  if (aa?.profile_type === 'Localhost' && aa.localhost_ref) return aa.localhost_ref;
  if (aa?.profile_type !== 'Unconfined' && sc?.apparmor_profile?.startsWith('localhost/')) return sc.apparmor_profile.slice('localhost/'.length);
  return undefined;
}

/** The user of a CRI security context: run_as_username or run_as_user, run_as_group, supplemental_groups. */
export function userOf(sc: LinuxContainerSecurityContext__Output | null): ContainerUser | undefined {
  if (!sc) return undefined;
  const user: ContainerUser = {};
  if (sc.run_as_username) user.name = sc.run_as_username;
  else if (sc.run_as_user) user.uid = Number(sc.run_as_user.value);
  if (sc.run_as_group) user.gid = Number(sc.run_as_group.value);
  if (sc.supplemental_groups.length > 0) user.supplementalGroups = sc.supplemental_groups.map(Number);
  return Object.keys(user).length > 0 ? user : undefined;
}

/** The security settings of a CRI security context. */
export function securityOf(sc: LinuxContainerSecurityContext__Output | null): ContainerSecurity {
  return {
    privileged: sc?.privileged ?? false,
    capabilities: {
      add: [...(sc?.capabilities?.add_capabilities ?? [])],
      drop: [...(sc?.capabilities?.drop_capabilities ?? [])],
      ambient: [...(sc?.capabilities?.add_ambient_capabilities ?? [])],
    },
    noNewPrivileges: sc?.no_new_privs ?? false,
    readonlyRootfs: sc?.readonly_rootfs ?? false,
    seccomp: seccompOf(sc),
    apparmorProfile: apparmorProfileOf(sc),
    maskedPaths: [...(sc?.masked_paths ?? [])],
    readonlyPaths: [...(sc?.readonly_paths ?? [])],
  };
}

/**
 * Translates a CRI ContainerConfig into peapod's ContainerSpec: command and
 * args become entrypoint and cmd, the log file is `log_directory/log_path`
 * of the pod (none when either is empty), the stop signal's `SIGNAL_` prefix
 * goes, the security context becomes user and security settings, an absent
 * namespace_options reads as the proto default (pid POD, as containerd and
 * CRI-O read it), and resources lose their "0 = not set" values.
 *
 * @param config the decoded request field
 * @param pod the pod's log directory ('' when the kubelet gave none)
 * @throws InvalidArgumentError for a bad seccomp_profile_path.
 */
export function containerSpecOf(config: ContainerConfig__Output, pod: { logDirectory: string }): ContainerTranslation {
  const sc = config.linux?.security_context ?? null;
  const ns = sc?.namespace_options;
  const pidMode: ContainerPidMode = ns?.pid ?? 'POD';
  const spec: ContainerSpec = {
    name: config.metadata?.name ?? '',
    attempt: config.metadata?.attempt ?? 0,
    image: { name: config.image?.image ?? '', annotations: { ...(config.image?.annotations ?? {}) }, userSpecified: config.image?.user_specified_image ?? '' },
    entrypoint: [...config.command],
    cmd: [...config.args],
    env: config.envs.map((kv) => ({ name: kv.key, value: typeof kv.value === 'string' ? kv.value : Buffer.from(kv.value as Uint8Array).toString('utf8') })),
    workingDir: config.working_dir,
    tty: config.tty,
    stdin: config.stdin,
    stdinOnce: config.stdin_once,
    labels: { ...config.labels },
    annotations: { ...config.annotations },
    mounts: config.mounts.map((m) => ({ containerPath: m.container_path, hostPath: m.host_path, readonly: m.readonly, propagation: PROPAGATION[m.propagation] ?? 'private', ...(m.recursive_read_only ? { recursiveReadOnly: true } : {}) })),
    devices: config.devices.map((d) => ({ hostPath: d.host_path, containerPath: d.container_path, permissions: d.permissions })),
    user: userOf(sc),
    stopSignal: config.stop_signal && config.stop_signal !== 'SIGNAL_RUNTIME_DEFAULT' ? config.stop_signal.replace(/^SIGNAL_/, '') : undefined,
    security: securityOf(sc),
    pidMode,
    ...(pidMode === 'TARGET' ? { pidTargetId: ns?.target_id ?? '' } : {}),
    resources: resourcesOf(config.linux?.resources),
  };
  if (pod.logDirectory && config.log_path) spec.logPath = path.join(pod.logDirectory, config.log_path);
  const legacySeccompField = !sc?.seccomp && sc?.seccomp_profile_path ? `${SC}.seccomp_profile_path` : `${SC}.seccomp.localhost_ref`;
  return { spec, criPath: (field) => containerFieldPath(field, legacySeccompField) };
}

/** The CRI path of a ContainerSpec field (see ContainerTranslation). */
function containerFieldPath(field: string, seccompField: string): string | undefined {
  const fixed: Record<string, string> = {
    name: 'config.metadata.name',
    image: 'config.image.image',
    cmd: 'config.command',
    'user.name': `${SC}.run_as_username`,
    'user.uid': `${SC}.run_as_user`,
    'user.gid': `${SC}.run_as_group`,
    'security.seccomp.profilePath': seccompField,
    pidTargetId: `${SC}.namespace_options.target_id`,
    logPath: 'config.log_path',
  };
  if (fixed[field]) return fixed[field];
  const m = /^(mounts|devices)\[(\d+)\]\.(containerPath|hostPath|recursiveReadOnly)$/.exec(field);
  if (m) return `config.${m[1]}[${m[2]}].${m[3] === 'hostPath' ? 'host_path' : m[3] === 'recursiveReadOnly' ? 'recursive_read_only' : 'container_path'}`;
  return undefined;
}
