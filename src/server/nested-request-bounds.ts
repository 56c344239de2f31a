/**
 * Bounds on the nested parts of CRI requests that request-bounds.ts leaves
 * to this file: security contexts (seccomp and AppArmor profiles, SELinux
 * options, capabilities, masked and read-only paths, namespace options and
 * user namespace mappings, supplemental groups), Linux resources (cpusets,
 * hugepage limits, unified cgroup v2 keys) of pods, containers and both
 * Update*Resources RPCs, a mount's ID mappings, image and options, CDI
 * devices, the Windows strings, and the checkpoint and restore RPCs' paths,
 * IDs and options. Every bound comes from INPUT_LIMITS (src/common/input-limits.ts);
 * the table with the reasons is docs/security.md "Limits". Each check
 * throws InvalidArgumentError naming the field.
 */
import { checkBytes, checkCount, checkStringMap, INPUT_LIMITS } from '../common/input-limits';
import type { Capability__Output } from '../generated/runtime/v1/Capability';
import type { LinuxContainerResources__Output } from '../generated/runtime/v1/LinuxContainerResources';
import type { LinuxContainerSecurityContext__Output } from '../generated/runtime/v1/LinuxContainerSecurityContext';
import type { LinuxSandboxSecurityContext__Output } from '../generated/runtime/v1/LinuxSandboxSecurityContext';
import type { Mount__Output } from '../generated/runtime/v1/Mount';
import type { NamespaceOption__Output } from '../generated/runtime/v1/NamespaceOption';
import type { SELinuxOption__Output } from '../generated/runtime/v1/SELinuxOption';
import type { SecurityProfile__Output } from '../generated/runtime/v1/SecurityProfile';
import { MAX_REFERENCE_LENGTH } from '../image-service/reference';

/** A list of strings: at most `maxCount` entries of at most `maxBytes` each. */
function checkStrings(field: string, list: readonly string[] | null | undefined, maxCount: number, maxBytes: number): void {
  if (!list) return;
  checkCount(field, list, maxCount);
  list.forEach((s, i) => checkBytes(`${field}[${i}]`, s, maxBytes));
}

/** A seccomp or AppArmor profile: `localhost_ref` is a path (seccomp) or a profile name (AppArmor), both at most PATH_MAX. */
export function checkSecurityProfileBounds(profile: SecurityProfile__Output | null | undefined, at: string): void {
  if (profile) checkBytes(`${at}.localhost_ref`, profile.localhost_ref ?? '', INPUT_LIMITS.path);
}

/** SELinux user, role, type and level: each at most `INPUT_LIMITS.name`. */
function checkSelinuxBounds(o: SELinuxOption__Output | null | undefined, at: string): void {
  if (!o) return;
  for (const f of ['user', 'role', 'type', 'level'] as const) checkBytes(`${at}.${f}`, o[f] ?? '', INPUT_LIMITS.name);
}

/** Namespace options: `target_id` as an ID, user namespace mappings at most `INPUT_LIMITS.idMappingCount` each. */
function checkNamespaceBounds(ns: NamespaceOption__Output | null | undefined, at: string): void {
  if (!ns) return;
  checkBytes(`${at}.target_id`, ns.target_id ?? '', INPUT_LIMITS.id);
  if (ns.userns_options) {
    checkCount(`${at}.userns_options.uids`, ns.userns_options.uids ?? [], INPUT_LIMITS.idMappingCount);
    checkCount(`${at}.userns_options.gids`, ns.userns_options.gids ?? [], INPUT_LIMITS.idMappingCount);
  }
}

/**
 * Linux resources (a pod's `overhead` and `resources`, a container's, an
 * Update*Resources request's): cpusets, hugepage limits, unified keys.
 * @param at e.g. `config.linux.resources`
 */
export function checkLinuxResourcesBounds(r: LinuxContainerResources__Output | null | undefined, at: string): void {
  if (!r) return;
  checkBytes(`${at}.cpuset_cpus`, r.cpuset_cpus ?? '', INPUT_LIMITS.cpuset);
  checkBytes(`${at}.cpuset_mems`, r.cpuset_mems ?? '', INPUT_LIMITS.cpuset);
  const huge = r.hugepage_limits ?? [];
  checkCount(`${at}.hugepage_limits`, huge, INPUT_LIMITS.hugepageCount);
  huge.forEach((h, i) => checkBytes(`${at}.hugepage_limits[${i}].page_size`, h.page_size ?? '', INPUT_LIMITS.name));
  checkStringMap(`${at}.unified`, r.unified, INPUT_LIMITS.string, INPUT_LIMITS.labelsTotal);
}

/** The security context of a pod (`config.linux.security_context`). */
export function checkSandboxSecurityBounds(sc: LinuxSandboxSecurityContext__Output | null | undefined, at: string): void {
  if (!sc) return;
  checkNamespaceBounds(sc.namespace_options, `${at}.namespace_options`);
  checkSelinuxBounds(sc.selinux_options, `${at}.selinux_options`);
  checkCount(`${at}.supplemental_groups`, sc.supplemental_groups ?? [], INPUT_LIMITS.groupCount);
  checkSecurityProfileBounds(sc.seccomp, `${at}.seccomp`);
  checkSecurityProfileBounds(sc.apparmor, `${at}.apparmor`);
  checkBytes(`${at}.seccomp_profile_path`, sc.seccomp_profile_path ?? '', INPUT_LIMITS.path);
}

function checkCapabilityBounds(c: Capability__Output | null | undefined, at: string): void {
  if (!c) return;
  for (const f of ['add_capabilities', 'drop_capabilities', 'add_ambient_capabilities'] as const) checkStrings(`${at}.${f}`, c[f], INPUT_LIMITS.capabilityCount, INPUT_LIMITS.name);
}

/** The security context of a container (`config.linux.security_context`). */
export function checkContainerSecurityBounds(sc: LinuxContainerSecurityContext__Output | null | undefined, at: string): void {
  if (!sc) return;
  checkCapabilityBounds(sc.capabilities, `${at}.capabilities`);
  checkNamespaceBounds(sc.namespace_options, `${at}.namespace_options`);
  checkSelinuxBounds(sc.selinux_options, `${at}.selinux_options`);
  checkBytes(`${at}.run_as_username`, sc.run_as_username ?? '', INPUT_LIMITS.name);
  checkCount(`${at}.supplemental_groups`, sc.supplemental_groups ?? [], INPUT_LIMITS.groupCount);
  checkStrings(`${at}.masked_paths`, sc.masked_paths, INPUT_LIMITS.mountCount, INPUT_LIMITS.path);
  checkStrings(`${at}.readonly_paths`, sc.readonly_paths, INPUT_LIMITS.mountCount, INPUT_LIMITS.path);
  checkSecurityProfileBounds(sc.seccomp, `${at}.seccomp`);
  checkSecurityProfileBounds(sc.apparmor, `${at}.apparmor`);
  checkBytes(`${at}.apparmor_profile`, sc.apparmor_profile ?? '', INPUT_LIMITS.path);
  checkBytes(`${at}.seccomp_profile_path`, sc.seccomp_profile_path ?? '', INPUT_LIMITS.path);
}

/** A mount's ID mappings, image volume and options (its paths: request-bounds.ts). */
export function checkMountExtrasBounds(m: Mount__Output, at: string): void {
  checkCount(`${at}.uidMappings`, m.uidMappings ?? [], INPUT_LIMITS.idMappingCount);
  checkCount(`${at}.gidMappings`, m.gidMappings ?? [], INPUT_LIMITS.idMappingCount);
  if (m.image) checkBytes(`${at}.image.image`, m.image.image ?? '', MAX_REFERENCE_LENGTH);
  checkBytes(`${at}.image_sub_path`, m.image_sub_path ?? '', INPUT_LIMITS.path);
  checkStrings(`${at}.mount_options`, m.mount_options, INPUT_LIMITS.mountCount, INPUT_LIMITS.string);
}

/** The Windows security context strings of a pod or container (`…windows.security_context`). */
export function checkWindowsSecurityBounds(sc: { run_as_username?: string; credential_spec?: string } | null | undefined, at: string): void {
  if (!sc) return;
  checkBytes(`${at}.run_as_username`, sc.run_as_username ?? '', INPUT_LIMITS.name);
  checkBytes(`${at}.credential_spec`, sc.credential_spec ?? '', INPUT_LIMITS.string);
}

/** CDI devices of a container: at most `mountCount`, names at most `string`. */
export function checkCdiDevicesBounds(devices: readonly { name?: string }[] | null | undefined, at: string): void {
  checkStrings(at, (devices ?? []).map((d) => d.name ?? ''), INPUT_LIMITS.mountCount, INPUT_LIMITS.string);
}

/** Options maps of CheckpointPod and RestorePod: as unified keys. */
export function checkOptionsBounds(options: Readonly<Record<string, string>> | null | undefined, at: string): void {
  checkStringMap(at, options, INPUT_LIMITS.string, INPUT_LIMITS.labelsTotal);
}

/** IDs of a list (CheckpointPod `container_ids`): at most `mountCount`, each an ID. */
export function checkIdListBounds(ids: readonly string[] | null | undefined, at: string): void {
  checkStrings(at, ids, INPUT_LIMITS.mountCount, INPUT_LIMITS.id);
}
