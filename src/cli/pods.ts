/**
 * The `peapod pod …` commands' shared part: which of the CLI's sandboxes
 * are pods, finding pods by name or ID as Podman does, a pod's containers,
 * and its status from theirs (Podman's rules).
 *
 * A pod is a sandbox of owner `cli` (src/runtime-service/sandbox/, the
 * same code as a CRI pod) made by `peapod pod create`, marked by the
 * annotation POD_KIND_ANNOTATION = `pod`; other sandboxes of the CLI (a
 * container's own, made by `peapod run` without `--pod`) are not listed
 * as pods. peapod runs no infra container: the sandbox's pinned namespaces
 * are what the pod's containers share, so a pod counts the sandbox as
 * its infra member (ready: running; notready: exited) when its status is
 * computed, and a new pod is Running.
 */
import { CliError, EXIT_ENGINE } from './errors';
import type { ContainerRecord } from '../runtime-service/container/record';
import type { SandboxRecord } from '../runtime-service/sandbox/record';
import { shownInput } from '../common/bounded-text';

/**
 * What the pod helpers read: the domain (a Peapod, whose refreshes record
 * what they find) or the read-only view of pod-read.ts.
 */
export interface PodDomain {
  sandboxes: {
    /** The CLI's sandboxes, oldest first. */
    list(): SandboxRecord[];
    /** A sandbox as it is now (a ready one whose namespaces are gone: notready). */
    refresh(rec: SandboxRecord): SandboxRecord;
  };
  containers: {
    /** The CLI's containers, oldest first. */
    list(): ContainerRecord[];
    /** A container as it is now (its exit file read). @throws when it is gone */
    refresh(id: string): Promise<ContainerRecord>;
  };
}

/**
 * The annotation that says what a CLI sandbox is for: POD_KIND (made by
 * `pod create`) or OWN_SANDBOX_KIND (made for one container by `run` or
 * `create` without --pod, removed with it).
 */
export const POD_KIND_ANNOTATION = 'io.peapod.cli.kind';
/** Its value on pods. */
export const POD_KIND = 'pod';
/** Its value on a container's own sandbox. */
export const OWN_SANDBOX_KIND = 'container';

/** What `pod create` keeps as the sandbox's request (opaque to the domain, read by `pod inspect`). */
export interface PodRequest {
  kind: 'pod';
  /** The command line that made it (Podman's CreateCommand). */
  createCommand: string[];
  /** `bridge`, `none` or `host`. */
  network: string;
  /** Namespaces shared by the pod's containers (Podman's SharedNamespaces). */
  share: string[];
}

/** A pod's status, Podman's words. */
export type PodStatus = 'Created' | 'Running' | 'Degraded' | 'Stopped' | 'Exited' | 'Paused' | 'Error';

/** True for the CLI sandboxes that are pods (made by `pod create`). */
export function isPod(rec: SandboxRecord): boolean {
  return rec.annotations[POD_KIND_ANNOTATION] === POD_KIND;
}

/** The request `pod create` recorded (a default for a pod recorded otherwise). */
export function podRequest(rec: SandboxRecord): PodRequest {
  const c = rec.config as Partial<PodRequest> | null;
  if (c && c.kind === 'pod') return { kind: 'pod', createCommand: c.createCommand ?? [], network: c.network ?? 'bridge', share: c.share ?? [] };
  return { kind: 'pod', createCommand: [], network: rec.hostNetwork ? 'host' : 'bridge', share: [] };
}

/** The CLI's pods, oldest first. */
export function listPods(peapod: PodDomain): SandboxRecord[] {
  return peapod.sandboxes.list().filter(isPod);
}

/**
 * The pod a user names, as Podman resolves it: an exact name first, then a
 * full ID, then a unique ID prefix.
 * @returns the pod, or undefined when none matches.
 * @throws CliError (125) when a prefix matches several pods.
 */
export function findPod(pods: SandboxRecord[], nameOrId: string): SandboxRecord | undefined {
  const byName = pods.find((p) => p.metadata.name === nameOrId);
  if (byName) return byName;
  if (!/^[0-9a-f]+$/.test(nameOrId)) return undefined;
  const matches = pods.filter((p) => p.id.startsWith(nameOrId));
  if (matches.length > 1) throw new CliError(`more than one result for pod ID ${shownInput(nameOrId)}`, EXIT_ENGINE);
  return matches[0];
}

/** Podman's message for a pod that does not exist. */
export function noSuchPod(nameOrId: string): CliError {
  return new CliError(`no pod with name or ID ${shownInput(nameOrId)} found: no such pod`, EXIT_ENGINE);
}

/**
 * The pods a command acts on: `--all`, `--latest` (the newest), or those
 * named (each must exist unless `ignore`).
 * @returns the pods found and the names that were not.
 * @throws CliError (125) for a name that is not a pod (without `ignore`), or no name without --all/--latest.
 */
export function targetPods(peapod: PodDomain, names: string[], o: { all?: boolean; latest?: boolean; ignore?: boolean }, verb: string): { pods: SandboxRecord[]; missing: string[] } {
  const pods = listPods(peapod);
  if (o.all) return { pods, missing: [] };
  if (o.latest) return { pods: pods.length ? [pods.reduce((a, b) => (BigInt(b.createdAt) > BigInt(a.createdAt) ? b : a))] : [], missing: [] };
  if (names.length === 0) throw new CliError(`you must provide at least one pod name or ID (or --all or --latest) to ${verb}`, EXIT_ENGINE);
  const found: SandboxRecord[] = [];
  const missing: string[] = [];
  for (const n of names) {
    const p = findPod(pods, n);
    if (p) {
      if (!found.some((f) => f.id === p.id)) found.push(p);
    } else if (o.ignore) missing.push(n);
    else throw noSuchPod(n);
  }
  return { pods: found, missing };
}

/**
 * The containers of a pod, oldest first, each refreshed from its exit file
 * (a CLI container's exit is recorded by whichever command reads it next).
 * @param all every container of the CLI (one query for many pods), default: read here
 */
export async function podContainers(peapod: PodDomain, podId: string, all?: ContainerRecord[]): Promise<ContainerRecord[]> {
  const mine = (all ?? peapod.containers.list()).filter((c) => c.sandboxId === podId);
  const out: ContainerRecord[] = [];
  for (const c of mine) out.push(c.state === 'exited' ? c : await peapod.containers.refresh(c.id).catch(() => c));
  return out;
}

/**
 * A pod's status from its members' (Podman's rules, libpod's
 * createPodStatusResults: all running Running, some running Degraded, all
 * exited Exited, some exited Stopped, else Created), the sandbox counted as
 * the infra member: ready is running, notready is exited.
 */
export function podStatus(pod: SandboxRecord, containers: ContainerRecord[]): PodStatus {
  const states = [pod.state === 'ready' ? 'running' : 'exited', ...containers.map((c) => c.state)];
  const n = states.length;
  const running = states.filter((s) => s === 'running').length;
  const exited = states.filter((s) => s === 'exited').length;
  if (running === n) return 'Running';
  if (running > 0) return 'Degraded';
  if (exited === n) return 'Exited';
  if (exited > 0) return 'Stopped';
  return 'Created';
}

/** A container's name as Podman shows it (the metadata name). */
export function containerName(c: ContainerRecord): string {
  return c.metadata.name;
}
