/**
 * The `peapod` CLI's bridge network: the CNI network its pods and
 * containers are attached to with `--network bridge` (Podman's default),
 * through the same sandbox and CNI code as peapod-cri's pods.
 *
 * The CLI reads its networks from a CNI configuration directory of its own
 * (config key `network.cli_conf_dir`, default /etc/peapod/cni/net.d), so
 * peapod-cri's directory (`network.cni_conf_dir`) is never touched unless
 * that key names it. The first configuration by name there is used, as the
 * kubelet and libcni pick one. When the directory has none, the default
 * network is written there first (once; concurrent CLI processes agree on
 * the first file written):
 *
 *   name     peapod-cli           (host-local keeps its leases under
 *                                  /var/lib/cni/networks/peapod-cli)
 *   bridge   peapodcli0           (made by the bridge plugin at the first ADD)
 *   subnet   198.19.0.0/24        gateway 198.19.0.1 on the bridge; when an
 *                                  interface of the host already has an address
 *                                  in it, the next free /24 of 198.19.0.0/16
 *   plugins  bridge (isGateway, hairpinMode), portmap (`-p`)
 *   peapod   {"masquerade": SUBNET, "portmap": "with-ports"}: peapod's own
 *            key (CNI ignores it), read by the CLI alone, see below
 *
 * Masquerade and portmap, at their cost (network-masquerade.ts): the bridge
 * plugin's `ipMasq` adds a chain and three rules for every container on ADD
 * and removes them on DEL (nine and six `iptables` processes, the largest
 * part of a bridge `run --rm`); the default network has it off and the CLI
 * installs one rule for the whole subnet instead, at the network's first use
 * since boot. The portmap plugin runs only for a pod that publishes ports
 * (`-p`): without any, the default network's pods are attached without it.
 * A configuration without the `peapod` key (the user's own, or a default
 * written by an older peapod, with `ipMasq` on) is used as written.
 *
 * The subnet is inside 198.18.0.0/15, the block reserved for benchmarking,
 * so it never shadows a real network (peapod-cri's scripts use
 * 198.18.0.0/24).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ProcessLocks } from '../common/process-lock';
import { inUserNamespace } from '../common/userns';
import { CniNetworkConfList, findNetworkConf } from '../runtime-service/cni/network-config';
import { CliError, EXIT_ENGINE } from './errors';

/** The default network's name (also its host-local lease directory's). */
export const DEFAULT_NETWORK_NAME = 'peapod-cli';
/** The default network's Linux bridge (at most 15 characters). */
export const DEFAULT_BRIDGE = 'peapodcli0';
/** The default network's subnet, when no host interface uses it. */
export const DEFAULT_SUBNET = '198.19.0.0/24';
/** The file the default network is written to in the CLI's conf dir. */
export const DEFAULT_CONFLIST_FILE = '87-peapod-cli.conflist';

/** What the sandbox code needs to attach a pod to the CLI's network (SandboxSpec.cniNetwork). */
export interface CliNetwork {
  /** The network configuration list pods are attached to. */
  conf: CniNetworkConfList;
  /** True when this call wrote the default network's file. */
  created: boolean;
}

/**
 * The default conflist: bridge + host-local + portmap (see the module doc).
 * @param subnet an IPv4 /24 in CIDR notation (e.g. `198.19.0.0/24`)
 */
export function defaultConflist(subnet: string): Record<string, unknown> {
  const base = subnet.split('/')[0].split('.').slice(0, 3).join('.');
  return {
    cniVersion: '1.0.0',
    name: DEFAULT_NETWORK_NAME,
    plugins: [
      {
        type: 'bridge',
        bridge: DEFAULT_BRIDGE,
        isGateway: true,
        ipMasq: false,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet, gateway: `${base}.1` }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
    [PEAPOD_KEY]: { masquerade: subnet, portmap: 'with-ports' },
  };
}

/** The conflist key of what the CLI does for its default network besides the plugins (see the module doc). */
export const PEAPOD_KEY = 'peapod';

/** What a conflist's `peapod` key asks of the CLI. */
export interface CliNetworkExtras {
  /** An IPv4 subnet (CIDR) whose traffic to elsewhere is masqueraded, by one rule for the subnet. */
  masquerade?: string;
  /** Attach without the portmap plugin when the pod publishes no port. */
  portmapWithPortsOnly: boolean;
}

/**
 * The `peapod` key of a configuration file (see the module doc); nothing
 * asked when the file has none, is unreadable or names no valid subnet.
 */
export function networkExtras(file: string): CliNetworkExtras {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return { portmapWithPortsOnly: false };
  }
  const key = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)[PEAPOD_KEY] : undefined;
  if (typeof key !== 'object' || key === null) return { portmapWithPortsOnly: false };
  const k = key as Record<string, unknown>;
  const masquerade = typeof k.masquerade === 'string' && IPV4_CIDR.test(k.masquerade) ? k.masquerade : undefined;
  return { ...(masquerade ? { masquerade } : {}), portmapWithPortsOnly: k.portmap === 'with-ports' };
}

/** An IPv4 subnet in CIDR notation. */
const IPV4_CIDR = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}\/(3[0-2]|[12]?\d)$/;

/**
 * The network a pod is attached with: `conf` as written, or, when its
 * `peapod` key says so and the pod publishes no port, without its portmap
 * plugins.
 */
export function attachedNetwork(conf: CniNetworkConfList, extras: CliNetworkExtras, publishesPorts: boolean): CniNetworkConfList {
  if (!extras.portmapWithPortsOnly || publishesPorts) return conf;
  const plugins = conf.plugins.filter((p) => p.type !== 'portmap');
  return plugins.length > 0 ? { ...conf, plugins } : conf;
}

/**
 * The CLI's network for a new pod (a container's own sandbox, or `pod
 * create`): the default network made if needed (ensureDefaultNetwork), as
 * attached (attachedNetwork), and the subnet's masquerade rule started
 * (network-masquerade.ts) when the network asks for one; the caller awaits
 * `masquerade` before it returns (it never rejects: a failure is a warning,
 * the pod is reachable from the host and its pods without it).
 * @param runroot the CLI's runroot (the per-boot marker of the installed rule)
 * @param locks the state database's cross-process locks (one installer at a time)
 * @throws CliError (125) as ensureDefaultNetwork.
 */
export function prepareCliNetwork(
  confDir: string,
  publishesPorts: boolean,
  o: CliNetworkRuleOptions,
): { conf: CniNetworkConfList; masquerade: Promise<void> } {
  const { conf } = ensureDefaultNetwork(confDir);
  const extras = networkExtras(conf.file);
  return { conf: attachedNetwork(conf, extras, publishesPorts), masquerade: startMasquerade(extras, o) };
}

/** What installing a network's rules needs: the runroot (the per-boot marker), the cross-process locks, where warnings go. */
export interface CliNetworkRuleOptions {
  runroot: string;
  locks: ProcessLocks;
  warn: (err: unknown, msg: string) => void;
}

/**
 * Makes sure the rules the `peapod` key of `conf`'s file asks for are in
 * place (the subnet's masquerade rule, network-masquerade.ts) for a pod
 * attached to it again: `pod start` and `pod restart` of a stopped pod run
 * CNI ADD on the network the pod was made with, and after a reboot (runroot
 * and rule gone) nothing else would install the rule before the next `run`
 * or `pod create`. The caller awaits the promise before it returns; it never
 * rejects (a failure is a warning, as in prepareCliNetwork). Nothing is done
 * for a network without the key, or in a user namespace.
 * @param conf the network the pod is attached to (its `file` is read for the key)
 */
export function ensureCliNetworkRules(conf: CniNetworkConfList, o: CliNetworkRuleOptions): Promise<void> {
  return startMasquerade(networkExtras(conf.file), o);
}

/** The masquerade rule `extras` asks for being installed (never rejects); resolved at once when none is asked for. */
function startMasquerade(extras: CliNetworkExtras, o: CliNetworkRuleOptions): Promise<void> {
  const subnet = extras.masquerade;
  if (!subnet || inUserNamespace()) return Promise.resolve();
  const { ensureMasquerade } = require('./network-masquerade') as typeof import('./network-masquerade');
  return ensureMasquerade(subnet, o.runroot, o.locks).catch((err: unknown) => o.warn(err, `masquerading ${subnet} failed: its pods reach the host and one another, not beyond`));
}

/** The /24s (`198.19.7.0/24`) holding an IPv4 address of a host interface other than `except`. */
function subnetsInUse(except: string): Set<string> {
  const used = new Set<string>();
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (name === except) continue;
    for (const a of addrs ?? []) if (a.family === 'IPv4') used.add(`${a.address.split('.').slice(0, 3).join('.')}.0/24`);
  }
  return used;
}

/**
 * The subnet for a new default network: 198.19.0.0/24, or the next /24 of
 * 198.19.0.0/16 that no host interface (but the default bridge) uses.
 * @throws CliError (125) when every /24 of 198.19.0.0/16 is in use.
 */
export function pickDefaultSubnet(inUse: Set<string> = subnetsInUse(DEFAULT_BRIDGE)): string {
  for (let third = 0; third < 256; third++) {
    const subnet = `198.19.${third}.0/24`;
    if (!inUse.has(subnet)) return subnet;
  }
  throw new CliError('no free /24 left in 198.19.0.0/16 for the default network', EXIT_ENGINE);
}

/**
 * Writes `data` to `file` unless it exists: a temp file hard-linked into
 * place, so a concurrent writer's file is never replaced and no reader sees
 * a partial one.
 * @returns whether this call wrote it.
 */
function writeIfAbsent(file: string, data: string): boolean {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  fs.writeFileSync(tmp, data, { mode: 0o644 });
  try {
    fs.linkSync(tmp, file);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/**
 * The network `--network bridge` attaches to: the first configuration of
 * `confDir`, after writing the default network there when the directory
 * has none (see the module doc).
 * @param confDir the CLI's CNI configuration directory (config key `network.cli_conf_dir`; made if missing)
 * @returns the network and whether the default was written now.
 * @throws CliError (125) naming the directory when its configurations do not parse, or it cannot be written.
 */
export function ensureDefaultNetwork(confDir: string): CliNetwork {
  const found = findNetworkConf(confDir);
  if (found.ok) return { conf: found.conf, created: false };
  let created = false;
  try {
    const names = fs.existsSync(confDir) ? fs.readdirSync(confDir).filter((n) => /\.(conf|conflist|json)$/.test(n)) : [];
    if (names.length > 0) {
      // A concurrent CLI may have written the default since the first look: judge what is there now.
      const now = findNetworkConf(confDir);
      if (now.ok) return { conf: now.conf, created: false };
      // A directory with configurations that are all broken is the user's to fix: never hide them behind a default.
      throw new CliError(`network: ${now.reason}`, EXIT_ENGINE);
    }
    fs.mkdirSync(confDir, { recursive: true, mode: 0o755 });
    created = writeIfAbsent(path.join(confDir, DEFAULT_CONFLIST_FILE), JSON.stringify(defaultConflist(pickDefaultSubnet()), null, 2) + '\n');
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`network: writing the default network to ${confDir}: ${(err as Error).message}`, EXIT_ENGINE);
  }
  const again = findNetworkConf(confDir);
  if (!again.ok) throw new CliError(`network: ${again.reason}`, EXIT_ENGINE);
  return { conf: again.conf, created };
}
