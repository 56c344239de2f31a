/**
 * The configuration `npm run critest` gives the peapod-cri it starts: a
 * TOML config naming only keys that peapod's config schema has (an unknown
 * key is an error there), and a CNI network list of its own.
 */
import { SchemaNode, TableSpec } from '../../src/common/config-schema';

/** Settings the runner wants, by dotted key (`image.registries_conf`). */
export type WantedSettings = Record<string, string | string[]>;

/** True when `schema` has the dotted key (tables only, not maps). */
export function schemaHasKey(schema: TableSpec, dotted: string): boolean {
  let node: SchemaNode = schema;
  for (const part of dotted.split('.')) {
    if (node.kind !== 'table') return false;
    const next: SchemaNode | undefined = node.fields[part];
    if (!next) return false;
    node = next;
  }
  return node.kind === 'key';
}

/** The default of a dotted key in `schema`, if it is a string key. */
export function schemaDefault(schema: TableSpec, dotted: string): string | undefined {
  let node: SchemaNode = schema;
  for (const part of dotted.split('.')) {
    if (node.kind !== 'table') return undefined;
    const next: SchemaNode | undefined = node.fields[part];
    if (!next) return undefined;
    node = next;
  }
  return node.kind === 'key' && typeof node.default === 'string' ? node.default : undefined;
}

function tomlValue(v: string | string[]): string {
  return Array.isArray(v) ? `[${v.map((s) => JSON.stringify(s)).join(', ')}]` : JSON.stringify(v);
}

/**
 * TOML text setting each wanted key that the schema knows, grouped into its
 * tables; `extra` is appended verbatim (e.g. a `[runtime.runtimes.runc]` map entry).
 * @returns the text and the keys left out because the schema lacks them
 */
export function peapodConfigToml(schema: TableSpec, wanted: WantedSettings, extra = ''): { toml: string; missing: string[] } {
  const missing: string[] = [];
  const byTable = new Map<string, string[]>();
  for (const [key, value] of Object.entries(wanted)) {
    if (!schemaHasKey(schema, key)) {
      missing.push(key);
      continue;
    }
    const dot = key.lastIndexOf('.');
    const table = dot < 0 ? '' : key.slice(0, dot);
    const name = dot < 0 ? key : key.slice(dot + 1);
    if (!byTable.has(table)) byTable.set(table, []);
    byTable.get(table)!.push(`${name} = ${tomlValue(value)}`);
  }
  const lines = ['# Written by `npm run critest` for the peapod-cri it runs.'];
  const top = byTable.get('');
  if (top) lines.push(...top);
  for (const [table, entries] of byTable) {
    if (table === '') continue;
    lines.push('', `[${table}]`, ...entries);
  }
  if (extra) lines.push('', extra.trimEnd());
  return { toml: lines.join('\n') + '\n', missing };
}

/** A CNI network for the run. */
export interface CniNetwork {
  /** Network name (also the host-local data directory's name). */
  name: string;
  /** Linux bridge name, at most 15 characters. */
  bridge: string;
  /** IPv4 subnet in CIDR notation, inside 198.18.0.0/15. */
  subnet: string;
  /** host-local's state directory. */
  ipamDataDir: string;
}

/**
 * A CNI network list: `bridge` (gateway, hairpinMode alone — the bridge
 * plugin 1.1.1 refuses it together with promiscMode — no masquerade) with
 * `host-local` IPAM and a default route, then `portmap` for host ports.
 * @throws Error when the bridge name is too long or the subnet is outside 198.18.0.0/15
 */
export function cniConflist(net: CniNetwork): string {
  if (net.bridge.length > 15) throw new Error(`bridge name ${net.bridge} is longer than 15 characters`);
  const m = /^198\.(18|19)\.\d{1,3}\.\d{1,3}\/(\d{1,2})$/.exec(net.subnet);
  if (!m || Number(m[2]) < 15) throw new Error(`subnet ${net.subnet} is not inside 198.18.0.0/15`);
  return (
    JSON.stringify(
      {
        cniVersion: '1.0.0',
        name: net.name,
        plugins: [
          {
            type: 'bridge',
            bridge: net.bridge,
            isGateway: true,
            ipMasq: false,
            hairpinMode: true,
            ipam: { type: 'host-local', ranges: [[{ subnet: net.subnet }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: net.ipamDataDir },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      },
      null,
      2,
    ) + '\n'
  );
}

/**
 * A random /24 inside 198.18.0.0/15, avoiding 198.18.0.0/24 (the default
 * network of scripts/start-cri.sh) and every /24 in `inUse` (e.g. `198.18.7.0/24`).
 * @throws Error when every candidate is in use
 */
export function randomSubnet(random: () => number = Math.random, inUse: ReadonlySet<string> = new Set()): string {
  for (let attempt = 0; attempt < 2048; attempt++) {
    const n = 1 + Math.floor(random() * 511);
    const subnet = `198.${18 + (n >> 8)}.${n & 255}.0/24`;
    if (!inUse.has(subnet)) return subnet;
  }
  throw new Error('no free /24 left in 198.18.0.0/15');
}

/**
 * The /24s of 198.18.0.0/15 that host interfaces have addresses in, from
 * `ip -o -4 addr show` output (`3: br0    inet 198.18.7.1/24 brd … scope global br0`).
 */
export function subnetsInUse(ipAddrOutput: string): Set<string> {
  const out = new Set<string>();
  for (const m of ipAddrOutput.matchAll(/inet (198\.1[89])\.(\d{1,3})\.\d{1,3}\//g)) out.add(`${m[1]}.${m[2]}.0/24`);
  return out;
}
