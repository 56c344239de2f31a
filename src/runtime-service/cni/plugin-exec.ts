import * as fs from 'node:fs';
import * as path from 'node:path';
import { PeapodError, PeapodErrorCode } from '../../common/errors';
import { spawnHostProcess } from '../../common/host/command';

/**
 * The PeapodError code of a CNI error code (CNI spec "Error codes"): 3 (does
 * not exist) NOT_FOUND, 11 (try again later) UNAVAILABLE, the configuration
 * and version errors 1, 2, 4, 6, 7 WRONG_STATE (the host's network
 * configuration does not allow the call), anything else INTERNAL.
 */
export function peapodCodeOfCni(code: number | undefined): PeapodErrorCode {
  if (code === 3) return 'NOT_FOUND';
  if (code === 11) return 'UNAVAILABLE';
  if (code !== undefined && [1, 2, 4, 6, 7].includes(code)) return 'WRONG_STATE';
  return 'INTERNAL';
}

/**
 * A CNI plugin failed. When the plugin printed the spec's error object
 * (`{cniVersion, code, msg, details}`, CNI spec "Error"), `cniCode`, `msg`
 * and `details` carry it; when it could not be run at all (binary missing,
 * no JSON output), `cniCode` is undefined.
 */
export class CniPluginError extends PeapodError {
  constructor(
    /** The plugin type, e.g. `bridge`. */
    readonly plugin: string,
    /** The CNI command, ADD or DEL. */
    readonly command: string,
    /** CNI error code (1-7, 11 well-known; 100+ plugin-specific). */
    readonly cniCode: number | undefined,
    readonly msg: string,
    readonly details: string,
  ) {
    super(peapodCodeOfCni(cniCode), `CNI plugin ${plugin} ${command} failed${cniCode !== undefined ? ` (CNI error code ${cniCode})` : ''}: ${msg}${details ? `: ${details}` : ''}`);
    this.name = 'CniPluginError';
  }
}

/** The CNI_* environment of one plugin call (CNI spec "Parameters"). */
export interface CniInvocation {
  command: 'ADD' | 'DEL' | 'CHECK' | 'VERSION';
  containerId: string;
  /** Path of the network namespace; '' when it is gone (DEL). */
  netns: string;
  ifName: string;
  /** `K=V;K=V` pairs. */
  args: string;
  /** Directories searched for plugins, in order. */
  binDirs: string[];
}

/** How long one plugin call may take, in ms. */
const PLUGIN_TIMEOUT_MS = 60_000;

/**
 * Finds a plugin binary in the bin dirs (first match wins).
 * @throws CniPluginError when no directory has it.
 */
export function findPlugin(type: string, binDirs: string[], command = 'find'): string {
  if (type.includes('/')) throw new CniPluginError(type, command, undefined, `invalid plugin type "${type}"`, '');
  for (const dir of binDirs) {
    const file = path.join(dir, type);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      /* next */
    }
  }
  throw new CniPluginError(type, command, undefined, `failed to find plugin "${type}" in path [${binDirs.join(' ')}]`, '');
}

/**
 * Runs one CNI plugin: the network configuration on stdin, the CNI_*
 * variables in the environment (plus PATH, which plugins need for iptables).
 * @param type the plugin type (binary name)
 * @param netconf the plugin's configuration (name, cniVersion, prevResult… injected by the caller)
 * @returns the parsed JSON the plugin printed (ADD: the result), or
 *   undefined when it printed nothing (DEL).
 * @throws CniPluginError with the plugin's error object when it exits non-zero.
 */
export async function execPlugin(type: string, netconf: Record<string, unknown>, inv: CniInvocation): Promise<unknown> {
  const binary = findPlugin(type, inv.binDirs, inv.command);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: inv.command,
    CNI_CONTAINERID: inv.containerId,
    CNI_NETNS: inv.netns,
    CNI_IFNAME: inv.ifName,
    CNI_ARGS: inv.args,
    CNI_PATH: inv.binDirs.join(':'),
  };
  return new Promise((resolve, reject) => {
    const child = spawnHostProcess(binary, [], { env });
    const stdin = child.stdin!;
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), PLUGIN_TIMEOUT_MS);
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new CniPluginError(type, inv.command, undefined, err.message, ''));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      let parsed: unknown;
      try {
        parsed = stdout.trim() === '' ? undefined : JSON.parse(stdout);
      } catch {
        parsed = undefined;
      }
      if (code === 0) {
        if (parsed === undefined && stdout.trim() !== '') {
          reject(new CniPluginError(type, inv.command, undefined, 'plugin printed output that is not JSON', stdout.slice(0, 500)));
        } else resolve(parsed);
        return;
      }
      const e = (parsed ?? {}) as { code?: unknown; msg?: unknown; details?: unknown };
      if (typeof e.code === 'number') {
        reject(new CniPluginError(type, inv.command, e.code, String(e.msg ?? ''), String(e.details ?? '')));
      } else {
        const why = signal ? `killed by ${signal}` : `exit code ${code}`;
        reject(new CniPluginError(type, inv.command, undefined, `${why}`, (stderr || stdout).trim().slice(0, 1000)));
      }
    });
    stdin.on('error', () => undefined);
    stdin.end(JSON.stringify(netconf));
  });
}
