/**
 * The security of a CLI container: Podman's defaults and its flags
 * (`--security-opt`, `--cap-add`, `--cap-drop`, `--privileged`,
 * `--read-only`) turned into the domain's ContainerSecurity, the same knobs
 * the CRI's security context sets, so one spec builder (oci/spec.ts) and one
 * seccomp profile (oci/seccomp.ts, RuntimeDefault) serve both front ends.
 *
 * The defaults, as Podman 4.3 applies them (docs/security.md compares the
 * two config.json files): the RuntimeDefault seccomp filter, Podman's 11
 * capabilities (containerd's 14 without CAP_MKNOD, CAP_NET_RAW and
 * CAP_AUDIT_WRITE), and the masked paths of both. Bad values throw a
 * CliError (125) naming the flag.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContainerDevice, ContainerSecurity } from '../../runtime-service/container/spec';
import { CAPABILITY_NAMES } from '../../runtime-service/container/host';
import { capabilityName, DEFAULT_MASKED_PATHS } from '../../runtime-service/oci/spec';
import { quoteInput } from '../../common/bounded-text';
import { INPUT_LIMITS } from '../../common/input-limits';
import { CliError } from '../errors';

/** The security flags of `run` and `create` (camelCase keys of the command table). */
export interface SecurityFlags {
  securityOpt?: string[];
  capAdd?: string[];
  capDrop?: string[];
  privileged?: boolean;
  readOnly?: boolean;
}

/** Podman 4.3's default capabilities (containers.conf `default_capabilities`). */
export const PODMAN_DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETFCAP',
  'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
];

/** Masked paths of a CLI container: peapod's (the CRI's) and those Podman adds (/sys/dev/block names the host's disks). */
export const CLI_MASKED_PATHS: readonly string[] = [...new Set([...DEFAULT_MASKED_PATHS, '/sys/dev/block', '/sys/fs/selinux'])];

/** The sysctl that lets every group of the container open ICMP echo sockets, so ping works without CAP_NET_RAW (Podman's `default_sysctls`). */
export const PING_SYSCTL: Readonly<Record<string, string>> = { 'net.ipv4.ping_group_range': '0 0' };

/** Largest seccomp profile file `--security-opt seccomp=FILE` reads. */
const MAX_SECCOMP_PROFILE_BYTES = 1024 * 1024;

/** What `--security-opt` values set. */
interface SecurityOpts {
  seccomp?: ContainerSecurity['seccomp'];
  noNewPrivileges?: boolean;
  apparmorProfile?: string;
}

/**
 * `--security-opt` values (Podman's syntax, `=` or `:` after the key):
 * `seccomp=unconfined`, `seccomp=PROFILE.json` (an OCI seccomp profile,
 * read and checked now), `no-new-privileges[=true|false]`,
 * `apparmor=unconfined|PROFILE` (applied only where the host has AppArmor),
 * `label=…` (accepted, no effect: this host has no SELinux).
 * @throws CliError naming `--security-opt` and the value.
 */
export function parseSecurityOpts(values: readonly string[], cwd: string = process.cwd()): SecurityOpts {
  const out: SecurityOpts = {};
  for (const v of values) {
    const m = /^([a-z-]+)(?:[=:](.*))?$/s.exec(v);
    const key = m?.[1];
    const value = m?.[2];
    if (key === 'seccomp' && value) {
      if (value === 'unconfined') out.seccomp = { type: 'unconfined' };
      else out.seccomp = { type: 'localhost', profilePath: checkSeccompProfile(path.resolve(cwd, value), v) };
    } else if (key === 'no-new-privileges') {
      if (value !== undefined && value !== 'true' && value !== 'false') throw new CliError(`--security-opt ${quoteInput(v)}: no-new-privileges takes true or false`);
      out.noNewPrivileges = value !== 'false';
    } else if (key === 'apparmor' && value) {
      if (value !== 'unconfined') out.apparmorProfile = value;
    } else if (key === 'label' && value !== undefined) {
      // SELinux labels: none on this host (Podman ignores them the same way where SELinux is off).
    } else {
      throw new CliError(`--security-opt ${quoteInput(v)}: invalid option (seccomp=unconfined|PROFILE.json, no-new-privileges[=true|false], apparmor=unconfined|PROFILE, label=…)`);
    }
  }
  return out;
}

/** The absolute path of a readable OCI seccomp profile. @throws CliError when it is not one. */
function checkSeccompProfile(file: string, opt: string): string {
  let profile: unknown;
  try {
    if (fs.statSync(file).size > MAX_SECCOMP_PROFILE_BYTES) throw new Error(`larger than ${MAX_SECCOMP_PROFILE_BYTES} bytes`);
    profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`--security-opt ${quoteInput(opt)}: cannot read the seccomp profile: ${(err as Error).message}`);
  }
  if (typeof profile !== 'object' || profile === null || typeof (profile as { defaultAction?: unknown }).defaultAction !== 'string') {
    throw new CliError(`--security-opt ${quoteInput(opt)}: not an OCI seccomp profile (it has no "defaultAction")`);
  }
  return file;
}

/** `NET_ADMIN`, `cap_net_admin`, `ALL` → `CAP_NET_ADMIN`, `ALL`. @throws CliError for a name Linux does not have. */
function capabilityOf(flag: string, name: string): string {
  if (name.trim().toUpperCase() === 'ALL') return 'ALL';
  const cap = capabilityName(name);
  if (!CAPABILITY_NAMES.includes(cap)) throw new CliError(`${flag} ${quoteInput(name)}: unknown capability (the names of capabilities(7), such as NET_ADMIN, or ALL)`);
  return cap;
}

/**
 * The capability set from `--cap-add` and `--cap-drop` over Podman's
 * default set, with Podman's rules (containers/common MergeCapabilities):
 * `--cap-drop ALL` keeps only the added ones; `--cap-add ALL` grants every
 * capability of the host but the dropped ones; a capability both added and
 * dropped, or ALL in both, is an error.
 * @param hostAll every capability the host lets a container have (for ALL)
 * @throws CliError naming the flag.
 */
export function mergeCapabilities(capAdd: readonly string[], capDrop: readonly string[], hostAll: () => readonly string[]): string[] {
  if (capAdd.length > INPUT_LIMITS.capabilityCount || capDrop.length > INPUT_LIMITS.capabilityCount) throw new CliError(`--cap-add/--cap-drop: more than ${INPUT_LIMITS.capabilityCount} capabilities`);
  const add = new Set(capAdd.map((c) => capabilityOf('--cap-add', c)));
  const drop = new Set(capDrop.map((c) => capabilityOf('--cap-drop', c)));
  if (drop.has('ALL')) {
    if (add.has('ALL')) throw new CliError('--cap-add ALL and --cap-drop ALL: adding all capabilities and dropping all is not allowed');
    return [...add].sort();
  }
  let caps: Set<string>;
  if (add.has('ALL')) caps = new Set(hostAll());
  else {
    for (const c of add) if (drop.has(c)) throw new CliError(`--cap-add ${c} and --cap-drop ${c}: a capability cannot be both dropped and added`);
    caps = new Set([...PODMAN_DEFAULT_CAPABILITIES, ...add]);
  }
  for (const c of drop) caps.delete(c);
  return [...caps].sort();
}

/**
 * The ContainerSecurity of a CLI container.
 * - default: RuntimeDefault seccomp, Podman's capabilities, CLI_MASKED_PATHS;
 * - `--privileged`: every capability, no seccomp, no masked or read-only
 *   paths, /sys and cgroups writable, every device allowed (the devices
 *   themselves: privilegedDevices);
 * - `--read-only`: the root file system mounted read-only.
 * @param hostAll every capability the host lets a container have (for `--cap-add ALL`)
 * @throws CliError naming the flag at fault.
 */
export function cliSecurity(flags: SecurityFlags, hostAll: () => readonly string[]): ContainerSecurity {
  const opts = parseSecurityOpts(flags.securityOpt ?? []);
  const caps = mergeCapabilities(flags.capAdd ?? [], flags.capDrop ?? [], hostAll);
  const security: ContainerSecurity = {
    privileged: flags.privileged ?? false,
    // Dropping ALL, then adding exactly the set: containerCapabilities' terms for a set computed here.
    capabilities: { drop: ['ALL'], add: caps },
    noNewPrivileges: opts.noNewPrivileges ?? false,
    readonlyRootfs: flags.readOnly ?? false,
    seccomp: opts.seccomp ?? { type: 'runtime-default' },
    maskedPaths: [...CLI_MASKED_PATHS],
  };
  if (opts.apparmorProfile !== undefined) security.apparmorProfile = opts.apparmorProfile;
  return security;
}

/** Directories of /dev whose nodes are not the host's devices to hand on (runc's HostDevices skips the same). */
const SKIPPED_DEV_DIRS = new Set(['pts', 'shm', 'fd', 'mqueue', '.lxc', '.lxd-mounts', '.udev']);
/** Depth of /dev walked (/dev/X/Y/Z). */
const MAX_DEV_DEPTH = 3;

/**
 * The host's device nodes a `--privileged` container gets, as Podman gives
 * them: every character and block device under /dev (not in pts, shm, fd,
 * mqueue; not /dev/console, which conmon provides, nor /dev/ptmx, which runc
 * links to the container's devpts). Rootless, as Podman's, leaves out
 * /dev/tty* too (the host's virtual consoles) and the runtime binds the
 * nodes instead of making them. Bounded: at most INPUT_LIMITS.mountCount
 * nodes, three levels deep.
 * @param devDir the host's /dev (tests pass their own)
 */
export function privilegedDevices(rootless: boolean, devDir = '/dev'): ContainerDevice[] {
  const out: ContainerDevice[] = [];
  const walk = (dir: string, depth: number): void => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (out.length >= INPUT_LIMITS.mountCount) return;
      const p = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (depth < MAX_DEV_DEPTH && !(depth === 1 && SKIPPED_DEV_DIRS.has(e.name))) walk(p, depth + 1);
        continue;
      }
      if (!e.isCharacterDevice() && !e.isBlockDevice()) continue;
      const rel = path.relative(devDir, p);
      if (rel === 'console' || rel === 'ptmx') continue;
      if (rootless && /^tty/.test(rel)) continue;
      out.push({ hostPath: p, containerPath: path.posix.join('/dev', rel) });
    }
  };
  walk(devDir, 1);
  return out.sort((a, b) => (a.hostPath < b.hostPath ? -1 : a.hostPath > b.hostPath ? 1 : 0));
}
