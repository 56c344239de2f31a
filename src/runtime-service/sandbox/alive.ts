import { isProcessAlive } from '../../common/host/proc';
import { isNamespaceFile } from './namespaces';
import type { SandboxRecord } from './record';

/**
 * True when everything a ready sandbox needs is still there: its namespace
 * pins are namespace files, its infra process runs (the same pid and start
 * time: a pid reused by another process is not it). A statfs per namespace
 * and a /proc read; its own module so read-only views (the CLI's `pod ps`)
 * check it without loading the sandbox verbs.
 */
export function sandboxAlive(r: SandboxRecord): boolean {
  for (const key of ['network', 'ipc', 'uts', 'pid'] as const) {
    const p = r.namespaces[key];
    if (p && !isNamespaceFile(p)) return false;
  }
  if (r.infraPid !== undefined) {
    if (r.infraStartTime === undefined || !isProcessAlive({ pid: r.infraPid, startTime: r.infraStartTime })) return false;
  }
  return true;
}
