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
 *   plugins  bridge (isGateway, ipMasq, hairpinMode), portmap (`-p`)
 *
 * The subnet is inside 198.18.0.0/15, the block reserved for benchmarking,
 * so it never shadows a real network (peapod-cri's scripts use
 * 198.18.0.0/24).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
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
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet, gateway: `${base}.1` }]], routes: [{ dst: '0.0.0.0/0' }] },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
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
    // A directory with configurations that are all broken is the user's to fix: never hide them behind a default.
    if (names.length > 0) throw new CliError(`network: ${found.reason}`, EXIT_ENGINE);
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
