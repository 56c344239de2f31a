/**
 * What critest v1.26.1's specs need from the host itself, checked before a
 * run so that a failure caused by the host is told apart from one caused by
 * peapod:
 *  - util-linux `ipcmk` (HostIpc specs make a System V shared memory segment on the host);
 *  - host ports 12000-12003 free (port mapping 12000, port-forward 12001 and
 *    12002, host-network nginx 12003);
 *  - running as root (pods, mounts, CNI).
 */
import { spawnSync } from 'node:child_process';
import * as net from 'node:net';

/** Host ports the specs bind (pkg/validate/consts.go). */
export const CRITEST_HOST_PORTS: readonly number[] = [12000, 12001, 12002, 12003];

/** Resolves true when a TCP listener can bind `host:port` right now. */
export function portFree(port: number, host = '0.0.0.0'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** True when `cmd` is on PATH. */
export function onPath(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** One sentence per unmet need (empty when the host is ready). */
export async function hostProblems(): Promise<string[]> {
  const problems: string[] = [];
  if (process.getuid && process.getuid() !== 0) problems.push('not running as root: peapod-cri needs root for pods, mounts and CNI');
  if (!onPath('ipcmk')) problems.push('util-linux `ipcmk` is missing: the HostIpc specs will fail');
  for (const port of CRITEST_HOST_PORTS) {
    if (!(await portFree(port))) problems.push(`host port ${port} is in use: the port mapping / port-forward specs using it will fail`);
  }
  return problems;
}
