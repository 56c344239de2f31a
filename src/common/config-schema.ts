/**
 * The schema of peapod's configuration file (TOML), one entry per key: the
 * keys every front end reads (the core: where state lives, the runtime, the
 * images, the pods' networking). The keys only the CRI server reads (socket,
 * shutdown_timeout, [streaming]) are in src/server/config-schema.ts; both
 * front ends read the same file, so the core loader skips those by name
 * (FRONT_END_KEYS) without knowing their shape.
 *
 * The schemas are the single source of truth for the keys, their types,
 * their defaults and their documentation: config.ts validates against them
 * and docs/config.md documents exactly these keys (a unit test checks that
 * the two agree).
 */

/** The TOML value types a key can take. */
export type KeyType = 'string' | 'integer' | 'boolean' | 'string array';

/** One configuration key. */
export interface KeySpec {
  kind: 'key';
  type: KeyType;
  /** The value when no file sets it. */
  default: string | number | boolean | string[];
  /** For string keys with a fixed set of values. */
  allowed?: readonly string[];
  /** For integers: the smallest value allowed. */
  min?: number;
  /** For integers: the largest value allowed. */
  max?: number;
  /** One sentence for docs/config.md. */
  doc: string;
}

/** A TOML table with a fixed set of keys. */
export interface TableSpec {
  kind: 'table';
  doc: string;
  fields: Record<string, KeySpec | TableSpec | MapSpec>;
}

/** A TOML table whose keys are names chosen by the user, each a table of `entry`. */
export interface MapSpec {
  kind: 'map';
  doc: string;
  entry: TableSpec;
  /** The entries present when no file names any. */
  default: Record<string, Record<string, string | number | boolean | string[]>>;
}

export type SchemaNode = KeySpec | TableSpec | MapSpec;

/**
 * The largest number of seconds a duration key takes: Node's timers wait at
 * most 2^31-1 ms (24.8 days) and fire after 1 ms for anything longer, so a
 * longer value would act as no wait at all.
 */
export const MAX_DURATION_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;
export const CGROUP_DRIVERS = ['cgroupfs', 'systemd'] as const;

/**
 * Top-level keys and tables of the file that belong to a front end, not to
 * the core: the core loader skips them (their front end validates them).
 */
export const FRONT_END_KEYS: readonly string[] = ['socket', 'shutdown_timeout', 'streaming', 'metrics'];

/** The core's part of the file: its top level is this table. */
export const CORE_SCHEMA: TableSpec = {
  kind: 'table',
  doc: 'Top level: where peapod keeps its state and serves the CRI.',
  fields: {
    root: { kind: 'key', type: 'string', default: '/var/lib/peapod', doc: 'Directory of persistent state: images, layers, container records.' },
    runroot: { kind: 'key', type: 'string', default: '/run/peapod', doc: 'Directory of state that lives until reboot: namespaces, bundles, sockets of monitors.' },
    log_level: { kind: 'key', type: 'string', default: 'info', allowed: LOG_LEVELS, doc: 'Least severe level logged to stderr; `debug` logs every RPC.' },
    runtime: {
      kind: 'table',
      doc: 'The OCI runtime and its monitor.',
      fields: {
        default_runtime: { kind: 'key', type: 'string', default: 'runc', doc: 'Runtime handler used when a pod names none; must be a key of `[runtime.runtimes]`.' },
        cgroup_driver: { kind: 'key', type: 'string', default: 'cgroupfs', allowed: CGROUP_DRIVERS, doc: 'How cgroups are managed; reported to the kubelet by the RuntimeConfig RPC.' },
        conmon_path: { kind: 'key', type: 'string', default: '/usr/bin/conmon', doc: 'Path of the conmon binary that supervises each container.' },
        runtimes: {
          kind: 'map',
          doc: 'Runtime handlers by name (the CRI `runtime_handler`).',
          default: { runc: { runtime_path: '/usr/sbin/runc', runtime_root: '' } },
          entry: {
            kind: 'table',
            doc: 'One runtime handler.',
            fields: {
              runtime_path: { kind: 'key', type: 'string', default: '/usr/sbin/runc', doc: 'Path of the OCI runtime binary; it must answer `--version`.' },
              runtime_root: { kind: 'key', type: 'string', default: '', doc: 'State directory passed to the runtime as `--root`; empty means `<runroot>/<handler name>`, so servers with different runroots never share runtime state.' },
            },
          },
        },
      },
    },
    image: {
      kind: 'table',
      doc: 'Image pulls and the image store (kept under `<root>/storage`).',
      fields: {
        registries_conf: { kind: 'key', type: 'string', default: '/etc/containers/registries.conf', doc: 'containers-registries.conf(5) v2 file: unqualified-search-registries, [[registry]] prefix/location, insecure, blocked, mirrors; read at each pull; a missing file means none.' },
        registries_conf_dir: { kind: 'key', type: 'string', default: '/etc/containers/registries.conf.d', doc: 'Drop-in directory of registries.conf files (`*.conf`, lexical order, applied after the main file).' },
        max_concurrent_downloads: { kind: 'key', type: 'integer', default: 3, min: 1, doc: 'Layers of one pull downloaded at the same time.' },
        connect_timeout: { kind: 'key', type: 'integer', default: 15, min: 1, max: MAX_DURATION_SECONDS, doc: 'Seconds to establish a connection to a registry.' },
        idle_timeout: { kind: 'key', type: 'integer', default: 60, min: 1, max: MAX_DURATION_SECONDS, doc: 'Seconds a registry response may stay without data before the request fails (and is retried).' },
        pinned_images: { kind: 'key', type: 'string array', default: [], doc: 'Images reported as pinned to the kubelet (its image garbage collection keeps them): exact references or IDs, or a prefix ending in `*` (e.g. `registry.k8s.io/pause*`).' },
      },
    },
    sandbox: {
      kind: 'table',
      doc: 'Pod sandboxes: pinned namespaces, /dev/shm. (A pod sharing a PID namespace gets peapod\'s own pause program as PID 1, `dist/native/peapod-pause`: no pause image.)',
      fields: {
        shm_size: { kind: 'key', type: 'integer', default: 67108864, min: 4096, doc: 'Size limit in bytes of the tmpfs mounted as each pod\'s /dev/shm (64 MiB by default).' },
      },
    },
    network: {
      kind: 'table',
      doc: 'CNI networking of pod sandboxes.',
      fields: {
        cni_conf_dir: { kind: 'key', type: 'string', default: '/etc/cni/net.d', doc: 'Directory searched for the network configuration (the first `.conflist`, `.conf` or `.json` by name).' },
        cni_bin_dirs: { kind: 'key', type: 'string array', default: ['/opt/cni/bin', '/usr/lib/cni'], doc: 'Directories searched for CNI plugin binaries, in order.' },
        cli_conf_dir: { kind: 'key', type: 'string', default: '/etc/peapod/cni/net.d', doc: 'CNI configuration directory of the `peapod` CLI\'s bridge networks (peapod-cri never reads it): the first configuration by name is used; when there is none the CLI writes its default network `peapod-cli` there (bridge `peapodcli0`, 198.19.0.0/24; see docs/cli.md). Set it to `cni_conf_dir` to put the CLI\'s containers on peapod-cri\'s network.' },
      },
    },
  },
};
