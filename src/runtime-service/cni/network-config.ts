import * as fs from 'node:fs';
import * as path from 'node:path';

/** One plugin entry of a CNI network configuration list. */
export interface CniPluginConf {
  type: string;
  [key: string]: unknown;
}

/** A CNI network configuration list (CNI spec, "Network Configuration Lists"). */
export interface CniNetworkConfList {
  cniVersion: string;
  name: string;
  plugins: CniPluginConf[];
  /** The file it came from. */
  file: string;
}

/** File endings the kubelet and libcni accept as network configurations. */
const CONF_EXTENSIONS = ['.conf', '.conflist', '.json'];

/** Outcome of looking for a network configuration. */
export type NetworkConfLookup = { ok: true; conf: CniNetworkConfList } | { ok: false; reason: string };

/**
 * Parses one CNI configuration file. A `.conflist` holds `{name, plugins:[…]}`;
 * a `.conf`/`.json` holds a single plugin and is wrapped into a list of one.
 * @returns the list, or an error string saying what is wrong with the file.
 */
export function parseNetworkConfFile(file: string): CniNetworkConfList | string {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    return `${file}: ${(err as Error).message}`;
  }
  if (typeof raw !== 'object' || raw === null) return `${file}: not a JSON object`;
  const obj = raw as Record<string, unknown>;
  if (typeof obj.name !== 'string' || obj.name === '') return `${file}: no "name"`;
  const cniVersion = typeof obj.cniVersion === 'string' ? obj.cniVersion : '0.4.0';
  if (file.endsWith('.conflist')) {
    const plugins = obj.plugins;
    if (!Array.isArray(plugins) || plugins.length === 0) return `${file}: "plugins" must be a non-empty array`;
    for (const p of plugins) {
      if (typeof p !== 'object' || p === null || typeof (p as CniPluginConf).type !== 'string') return `${file}: every plugin needs a "type"`;
    }
    return { cniVersion, name: obj.name, plugins: plugins as CniPluginConf[], file };
  }
  if (typeof obj.type !== 'string') return `${file}: no "type"`;
  const { name, cniVersion: _v, ...plugin } = obj;
  void _v;
  return { cniVersion, name: name as string, plugins: [plugin as CniPluginConf], file };
}

/**
 * Finds the pod network configuration the way the kubelet and libcni do: the
 * first file in lexical order with a `.conf`, `.conflist` or `.json` ending
 * that parses as a valid configuration.
 * @param confDir the CNI configuration directory (e.g. /etc/cni/net.d)
 * @returns the configuration, or a reason naming the directory when there is none.
 */
export function findNetworkConf(confDir: string): NetworkConfLookup {
  let names: string[];
  try {
    names = fs.readdirSync(confDir).filter((n) => CONF_EXTENSIONS.includes(path.extname(n))).sort();
  } catch {
    return { ok: false, reason: `no CNI configuration directory ${confDir}` };
  }
  const problems: string[] = [];
  for (const n of names) {
    const parsed = parseNetworkConfFile(path.join(confDir, n));
    if (typeof parsed !== 'string') return { ok: true, conf: parsed };
    problems.push(parsed);
  }
  const detail = problems.length ? `: ${problems.join('; ')}` : '';
  return { ok: false, reason: `no valid CNI network configuration in ${confDir}${detail}` };
}
