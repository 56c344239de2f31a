/**
 * Bounds on what a client may send, checked before any work, in the spirit
 * of Kubernetes' own validation (k8s.io/apimachinery validation: a DNS-1123
 * subdomain is at most 253 characters, a label 63; a qualified name's prefix
 * 253 and name 63; annotations 256 KiB in all) and of the kernel's execve
 * limits (MAX_ARG_STRLEN: one argument or environment string at most 128
 * KiB). Where the kubelet itself sends more than a Kubernetes object may hold
 * (a pod name of 253 characters as a label value, its own annotations added
 * to the pod's), the bound leaves it room. Each check throws
 * InvalidArgumentError naming the field and quoting the value bounded
 * (`quoteInput`). The table with the reasons: docs/security.md "Limits".
 */
import { quoteInput } from './bounded-text';
import { invalidArgument } from './errors';

/** The bounds, in UTF-8 bytes unless named a count. */
export const INPUT_LIMITS = {
  /** A sandbox or container ID, or an ID prefix (IDs are 64 hex digits). */
  id: 128,
  /** A pod or container name, a namespace (a DNS-1123 subdomain). */
  name: 253,
  /** A pod UID (Kubernetes sends a UUID, 36). */
  uid: 128,
  /** A label or annotation key: prefix (253) "/" name (63). */
  labelKey: 317,
  /** A label value: 63 in Kubernetes, but the kubelet puts pod names (253) in CRI labels. */
  labelValue: 1024,
  /** Labels of one object, keys and values together. */
  labelsTotal: 64 * 1024,
  /** Annotations of one object, keys and values together: Kubernetes' 256 KiB, twice, for what the kubelet adds to a pod's own. */
  annotationsTotal: 512 * 1024,
  /** A path: log directory, log path, mount and device paths, working directory (PATH_MAX). */
  path: 4096,
  /** One command, argument or environment string (the kernel's MAX_ARG_STRLEN). */
  argument: 128 * 1024,
  /** Entries of command + args, or of env. */
  argumentCount: 65536,
  /** Command, args and env together. */
  argumentsTotal: 4 * 1024 * 1024,
  /** Mounts, or devices, of one container. */
  mountCount: 1024,
  /** A pod hostname: the kernel's nodename holds 64 bytes (sandbox/etc-files.ts). */
  hostname: 64,
  /** A runtime handler's name (a config key; Kubernetes' RuntimeClass handler is a DNS label, 63). */
  runtimeHandler: 253,
  /** A host IP of a port mapping, a pod CIDR list (an IPv6 address with a zone is under 64). */
  address: 256,
  /** A registry credential (password, token): JWTs of a few KiB, with room. */
  credential: 64 * 1024,
  /** A cpuset list (`cpuset_cpus`, `cpuset_mems`), as the domain's MAX_CPUSET_LENGTH. */
  cpuset: 4096,
  /** Lines of a user namespace's uid_map or gid_map (the kernel's limit since Linux 4.15). */
  idMappingCount: 340,
  /** Supplemental groups of a process (the kernel's NGROUPS_MAX). */
  groupCount: 65536,
  /** Capability names in one list (Linux has 41; "ALL" and repeats leave room). */
  capabilityCount: 128,
  /** Hugepage limits of one resources message (one per page size; x86 has 2). */
  hugepageCount: 64,
  /** Ports of one PortForward request. */
  portCount: 1024,
  /** Any other single string field (an image reference has its own bound, 520: reference.ts). */
  string: 4096,
} as const;

/**
 * Throws INVALID_ARGUMENT when `value` is longer than `max` UTF-8 bytes.
 * @param field the field path to name, e.g. `config.metadata.name`
 * @param value the value as sent
 * @param max the bound in bytes
 * @throws InvalidArgumentError `<field>: <quoted value> is longer than <max> bytes`
 */
export function checkBytes(field: string, value: string, max: number): void {
  // A UTF-16 unit is at most 3 bytes: most values pass without counting.
  if (value.length * 3 <= max) return;
  if (Buffer.byteLength(value) > max) throw invalidArgument(`${field}: ${quoteInput(value)} is longer than ${max} bytes`);
}

/**
 * Throws INVALID_ARGUMENT when `items` holds more than `max` entries.
 * @throws InvalidArgumentError `<field>: <n> entries, more than <max>`
 */
export function checkCount(field: string, items: { length: number }, max: number): void {
  if (items.length > max) throw invalidArgument(`${field}: ${items.length} entries, more than ${max}`);
}

/**
 * Checks a string map (labels, annotations): each key at most
 * `INPUT_LIMITS.labelKey` bytes, each value at most `maxValue`, keys and
 * values together at most `maxTotal`.
 * @param field e.g. `config.labels`; a bad entry is named `config.labels["key"]`
 * @throws InvalidArgumentError naming the field and the entry
 */
export function checkStringMap(field: string, map: Readonly<Record<string, string>> | null | undefined, maxValue: number, maxTotal: number): void {
  if (!map) return;
  let total = 0;
  for (const [k, v] of Object.entries(map)) {
    checkBytes(`${field} key`, k, INPUT_LIMITS.labelKey);
    checkBytes(`${field}[${quoteInput(k)}]`, v, maxValue);
    total += Buffer.byteLength(k) + Buffer.byteLength(v);
    if (total > maxTotal) throw invalidArgument(`${field}: keys and values longer than ${maxTotal} bytes in all`);
  }
}

/** Labels: see checkStringMap and INPUT_LIMITS. */
export function checkLabels(field: string, labels: Readonly<Record<string, string>> | null | undefined): void {
  checkStringMap(field, labels, INPUT_LIMITS.labelValue, INPUT_LIMITS.labelsTotal);
}

/** Annotations: see checkStringMap and INPUT_LIMITS (a value may take the whole total). */
export function checkAnnotations(field: string, annotations: Readonly<Record<string, string>> | null | undefined): void {
  checkStringMap(field, annotations, INPUT_LIMITS.annotationsTotal, INPUT_LIMITS.annotationsTotal);
}

/**
 * Checks the strings a process is started with: each at most
 * `INPUT_LIMITS.argument` bytes, each list at most `argumentCount` entries,
 * all together at most `argumentsTotal` bytes.
 * @param lists the named lists, e.g. `{ 'config.command': [...], 'config.args': [...] }`
 * @throws InvalidArgumentError naming the list and the entry
 */
export function checkArguments(lists: Readonly<Record<string, readonly string[]>>): void {
  let total = 0;
  for (const [field, list] of Object.entries(lists)) {
    checkCount(field, list, INPUT_LIMITS.argumentCount);
    list.forEach((s, i) => {
      checkBytes(`${field}[${i}]`, s, INPUT_LIMITS.argument);
      total += Buffer.byteLength(s);
    });
  }
  if (total > INPUT_LIMITS.argumentsTotal) throw invalidArgument(`${Object.keys(lists).join(', ')}: longer than ${INPUT_LIMITS.argumentsTotal} bytes in all`);
}
