import type { ContainerConfig__Output } from '../../../src/generated/runtime/v1/ContainerConfig';
import type { LinuxContainerResources__Output } from '../../../src/generated/runtime/v1/LinuxContainerResources';
import type { LinuxContainerSecurityContext__Output } from '../../../src/generated/runtime/v1/LinuxContainerSecurityContext';

/** An empty LinuxContainerResources as the server decodes it. */
export function resources(p: Partial<LinuxContainerResources__Output> = {}): LinuxContainerResources__Output {
  return {
    cpu_period: '0', cpu_quota: '0', cpu_shares: '0', memory_limit_in_bytes: '0', oom_score_adj: '0', cpuset_cpus: '', cpuset_mems: '',
    hugepage_limits: [], unified: {}, memory_swap_limit_in_bytes: '0', ...p,
  };
}

/** An empty security context as the server decodes it. */
export function securityContext(p: Partial<LinuxContainerSecurityContext__Output> = {}): LinuxContainerSecurityContext__Output {
  return {
    capabilities: null, privileged: false, namespace_options: null, selinux_options: null, run_as_user: null, run_as_username: '',
    readonly_rootfs: false, supplemental_groups: [], apparmor_profile: '', seccomp_profile_path: '', no_new_privs: false, run_as_group: null,
    masked_paths: [], readonly_paths: [], seccomp: null, apparmor: null, supplemental_groups_policy: 'Merge', ...p,
  } as LinuxContainerSecurityContext__Output;
}

/** A ContainerConfig as the server decodes it, with `p` filled in. */
export function containerConfig(name: string, p: Partial<ContainerConfig__Output> = {}): ContainerConfig__Output {
  return {
    metadata: { name, attempt: 0 },
    image: { image: 'busybox:test', annotations: {}, user_specified_image: 'busybox:test', runtime_handler: '' },
    command: [], args: [], working_dir: '', envs: [], mounts: [], devices: [], labels: {}, annotations: {}, log_path: `${name}/0.log`,
    stdin: false, stdin_once: false, tty: false, linux: { resources: resources(), security_context: securityContext() }, windows: null,
    CDI_devices: [], stop_signal: 'SIGNAL_RUNTIME_DEFAULT', ...p,
  } as ContainerConfig__Output;
}
