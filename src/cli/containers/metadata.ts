/**
 * What the CLI keeps about its containers and their sandboxes beyond the
 * domain's records, as annotations on the container record and labels on
 * the sandbox (Podman keeps the same facts in its own database):
 *
 *   container annotations
 *     io.peapod.cli.autoremove   "true": removed once it exits (`--rm`), by
 *                                the attached CLI or the exit command
 *     io.peapod.cli.sandbox      "own": the sandbox was made for this
 *                                container alone (`run` without --pod) and
 *                                goes with it; "pod": it joined a pod
 *     io.peapod.cli.args         the process's arguments as JSON (ps COMMAND)
 *     io.peapod.cli.image        the image's name as shown (ps IMAGE): the
 *                                stored name the reference resolved to
 *     io.peapod.cli.stop-timeout seconds `stop` waits by default (10)
 *   sandbox labels
 *     io.peapod.cli.kind         "container" on a container's own sandbox:
 *                                pod listings (`pod ps`) leave those out
 */
import type { ContainerRecord } from '../../runtime-service/container/record';
import type { SandboxRecord } from '../../runtime-service/sandbox/record';
import { OWN_SANDBOX_KIND, POD_KIND_ANNOTATION } from '../pods';

export const AUTOREMOVE_ANNOTATION = 'io.peapod.cli.autoremove';
export const SANDBOX_ANNOTATION = 'io.peapod.cli.sandbox';
export const ARGS_ANNOTATION = 'io.peapod.cli.args';
export const IMAGE_ANNOTATION = 'io.peapod.cli.image';
export const STOP_TIMEOUT_ANNOTATION = 'io.peapod.cli.stop-timeout';

/** Podman's default stop timeout, in seconds. */
export const DEFAULT_STOP_TIMEOUT = 10;

/** Whether the container is removed when it exits (`--rm`). */
export function isAutoremove(rec: ContainerRecord): boolean {
  return rec.annotations[AUTOREMOVE_ANNOTATION] === 'true';
}

/** Whether the container's sandbox is its own (made and removed with it). */
export function hasOwnSandbox(rec: ContainerRecord): boolean {
  return rec.annotations[SANDBOX_ANNOTATION] === 'own';
}

/** Whether a sandbox is a container's own (not a pod of `pod create`). */
export function isOwnSandbox(sb: SandboxRecord): boolean {
  return sb.annotations[POD_KIND_ANNOTATION] === OWN_SANDBOX_KIND;
}

/** The process's arguments as created ([] when unknown). */
export function processArgsOf(rec: ContainerRecord): string[] {
  try {
    const v = JSON.parse(rec.annotations[ARGS_ANNOTATION] ?? '[]') as unknown;
    return Array.isArray(v) ? v.map(String) : [];
  } catch {
    return [];
  }
}

/** The image's name as shown: the stored name it was made from, else what the user typed. */
export function imageNameOf(rec: ContainerRecord): string {
  return rec.annotations[IMAGE_ANNOTATION] || rec.image.userSpecified || rec.image.name;
}

/** The seconds `stop` waits before SIGKILL when not told (`--stop-timeout`, default 10). */
export function stopTimeoutOf(rec: ContainerRecord): number {
  const n = Number(rec.annotations[STOP_TIMEOUT_ANNOTATION]);
  return Number.isInteger(n) && n >= 0 ? n : DEFAULT_STOP_TIMEOUT;
}
