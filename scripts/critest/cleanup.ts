/**
 * Tearing down what a critest run leaves behind when specs fail half-way:
 * pods and containers still known to peapod-cri, OCI containers still known
 * to runc, mounts under the run's temp directory, the CNI bridge.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CriClient } from '../../test/integration/harness/client';

/**
 * Mount points at or below `dir`, deepest first, read from
 * /proc/self/mountinfo (field 5; octal escapes such as `\040` decoded).
 */
export function mountsUnder(dir: string, mountinfo = fs.readFileSync('/proc/self/mountinfo', 'utf8')): string[] {
  const base = path.resolve(dir);
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const mp = f[4].replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp === base || mp.startsWith(base + '/')) out.push(mp);
  }
  return out.sort((a, b) => b.length - a.length);
}

/**
 * Unmounts (lazily) every mount below `dir`, then removes `dir` unless a
 * mount is still there: removing through a bind mount would delete host files.
 * @returns the mount points that could not be unmounted (then `dir` is left in place)
 */
export function removeTree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  for (const mp of mountsUnder(dir)) spawnSync('umount', ['-l', mp]);
  const left = mountsUnder(dir);
  if (left.length === 0) fs.rmSync(dir, { recursive: true, force: true });
  return left;
}

/** Runs one CRI call, ignoring its failure (UNIMPLEMENTED, already gone, timed out). */
async function quietly(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch {
    // best effort: the runtime may not implement it yet, or it is gone
  }
}

/**
 * Stops and removes every container and pod sandbox peapod-cri still lists
 * (critest removes its own; this catches what failing specs left).
 * @returns how many containers and pods were found
 */
export async function removeCriLeftovers(client: CriClient): Promise<{ containers: number; pods: number }> {
  const deadline = (): { deadline: number } => ({ deadline: Date.now() + 30_000 });
  let containers: { id: string }[] = [];
  let pods: { id: string }[] = [];
  await quietly(async () => {
    containers = (await client.runtime.ListContainers({}, deadline())).containers ?? [];
  });
  for (const c of containers) {
    await quietly(() => client.runtime.StopContainer({ container_id: c.id, timeout: 0 }, deadline()));
    await quietly(() => client.runtime.RemoveContainer({ container_id: c.id }, deadline()));
  }
  await quietly(async () => {
    pods = (await client.runtime.ListPodSandbox({}, deadline())).items ?? [];
  });
  for (const p of pods) {
    await quietly(() => client.runtime.StopPodSandbox({ pod_sandbox_id: p.id }, deadline()));
    await quietly(() => client.runtime.RemovePodSandbox({ pod_sandbox_id: p.id }, deadline()));
  }
  return { containers: containers.length, pods: pods.length };
}

/**
 * Force-deletes every container runc still has under its state directory
 * `runcRoot` (`runc --root R list -q`, then `runc --root R delete -f ID`).
 * @returns the IDs deleted
 */
export function removeRuncLeftovers(runcRoot: string, runc = '/usr/sbin/runc'): string[] {
  if (!fs.existsSync(runcRoot)) return [];
  const list = spawnSync(runc, ['--root', runcRoot, 'list', '-q'], { encoding: 'utf8' });
  if (list.status !== 0) return [];
  const ids = list.stdout.split('\n').map((s) => s.trim()).filter(Boolean);
  for (const id of ids) spawnSync(runc, ['--root', runcRoot, 'delete', '-f', id]);
  return ids;
}

/** Deletes the network link `name` if it exists (`ip link del`). */
export function removeLink(name: string): void {
  const show = spawnSync('ip', ['link', 'show', name]);
  if (show.status === 0) spawnSync('ip', ['link', 'del', name]);
}
