/**
 * What must be gone from the host once peapod-cri lists nothing and
 * everything was removed: processes (conmon, runc, infra, containers, attach
 * and port-forward relays), mounts (rootfs overlays, namespace pins,
 * /dev/shm), links and files (bundles, socket links, exit files, state
 * directories, the runtime's state), IP leases and veths of the CNI
 * network, cgroups under the run's cgroup parent.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { processesWithArgument } from '../../src/common/host/proc';
import { cgroupMounts } from '../../src/runtime-service/sandbox/cgroups';

/** Where one chaos run's server and network keep their things. */
export interface HostPlaces {
  /** The server's temp directory (root, runroot, socket, config). */
  dir: string;
  root: string;
  runroot: string;
  /** host-local IPAM's directory of the network (one file per lease). */
  ipamDir: string;
  /** The network's bridge (pods' veths are its ports). */
  bridge: string;
  /** The pods' cgroup_parent (absolute, e.g. /peapod-chaos-1a2b3c). */
  cgroupParent: string;
  /** Processes that may reference `dir` (the server itself). */
  exclude: number[];
}

/** The entries of a directory; [] when it does not exist. */
function entries(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** Processes whose command line, working directory or cgroup names the run's places. */
function processesOf(places: HostPlaces): string[] {
  const out: string[] = [];
  for (const p of entries('/proc')) {
    if (!/^[0-9]+$/.test(p) || Number(p) === process.pid || places.exclude.includes(Number(p))) continue;
    let cmdline = '';
    let cwd = '';
    let cgroup = '';
    try {
      cmdline = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ').trim();
      cgroup = fs.readFileSync(`/proc/${p}/cgroup`, 'utf8');
      cwd = fs.readlinkSync(`/proc/${p}/cwd`);
    } catch {
      /* gone, or no cwd (a kernel thread, a zombie) */
    }
    const why = cmdline.includes(places.dir) ? 'command line' : cwd.startsWith(places.dir + '/') ? 'working directory' : cgroup.includes(places.cgroupParent + '/') ? 'cgroup' : '';
    if (why) out.push(`process ${p} (${why}): ${cmdline.slice(0, 160) || '(no command line)'}`);
  }
  return out;
}

/** Sub-cgroups of the run's cgroup parent, in every hierarchy. */
function cgroupsOf(cgroupParent: string): string[] {
  const out: string[] = [];
  for (const mount of cgroupMounts()) {
    const dir = path.join(mount, cgroupParent);
    for (const e of entries(dir)) if (fs.statSync(path.join(dir, e)).isDirectory()) out.push(`cgroup ${path.join(dir, e)}`);
  }
  return out;
}

/** Rows of a database's locks table whose holder is still alive, other than the excluded processes. */
function lockRows(file: string, exclude: number[]): string[] {
  if (!fs.existsSync(file)) return [];
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT key, pid FROM locks').all() as { key: string; pid: number }[];
    return rows.filter((r) => !exclude.includes(r.pid)).map((r) => `lock ${r.key} of pid ${r.pid} in ${path.basename(file)}`);
  } catch {
    return [];
  } finally {
    db.close();
  }
}

/**
 * Everything of the run still on the host (empty when clean).
 * @param ids every pod and container ID the run saw (processes naming one are leftovers)
 */
export async function hostLeftovers(places: HostPlaces, ids: Iterable<string>): Promise<string[]> {
  const out: string[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const m = line.split(' ')[4];
    if (m && m.startsWith(places.dir + '/')) out.push(`mount ${m}`);
  }
  const dirs = [
    path.join(places.root, 'containers'),
    path.join(places.root, 'sandboxes'),
    path.join(places.runroot, 'containers'),
    path.join(places.runroot, 'sandboxes'),
    path.join(places.runroot, 'containers-exits'),
    path.join(places.runroot, 'containers-sockets'),
    path.join(places.runroot, 'runc'),
  ];
  for (const d of dirs) for (const e of entries(d)) out.push(`file ${path.join(d, e)}`);
  out.push(...processesOf(places));
  for (const id of ids) for (const p of await processesWithArgument(id)) if (!places.exclude.includes(p.pid)) out.push(`process ${p.pid} naming ${id}`);
  for (const e of entries(places.ipamDir)) if (e !== 'lock' && !e.startsWith('last_reserved_ip')) out.push(`IP lease ${e}`);
  const ports = execFileSync('ip', ['-o', 'link', 'show', 'master', places.bridge], { encoding: 'utf8' }).trim();
  if (ports) for (const l of ports.split('\n')) out.push(`bridge port ${l.split(':')[1]?.trim() ?? l}`);
  out.push(...cgroupsOf(places.cgroupParent));
  out.push(...lockRows(path.join(places.root, 'state.db'), places.exclude));
  out.push(...lockRows(path.join(places.root, 'storage', 'images.db'), places.exclude));
  return out;
}

/** Removes the run's cgroup parent from every hierarchy (after a clean run; best effort). */
export function removeCgroupParent(cgroupParent: string): void {
  for (const mount of cgroupMounts()) {
    try {
      fs.rmdirSync(path.join(mount, cgroupParent));
    } catch {
      /* absent or busy */
    }
  }
}
