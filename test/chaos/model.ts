/**
 * What the chaos workload knows for certain about the runtime: every pod,
 * container and image it made, with what peapod-cri acknowledged. A call
 * answered OK is a fact; a call cut off by the kill may or may not have
 * happened ('maybe'), and is settled after the restart by what the server
 * lists (`reconcile`), which must agree with every fact:
 * - nothing acknowledged is lost (a pod, container or image created and
 *   not removed is listed; a started container that was not stopped is
 *   still running: running containers survive the restart),
 * - nothing removed comes back,
 * - nothing appears that the workload never asked for.
 */
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';

/** A fact, or not known since a call was cut off. */
export type Known = 'yes' | 'no' | 'maybe';

/** A pod the workload asked for. */
export interface PodModel {
  name: string;
  config: PodSandboxConfig;
  /** Known once RunPodSandbox answered, or found by name after a restart. */
  id?: string;
  exists: Known;
  /** READY (yes) or NOTREADY (no). */
  ready: Known;
  /** A call on it is in flight. */
  busy: boolean;
}

/** A container state as the CRI names it, or not known. */
export type CtrState = 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'maybe';

/** A container the workload asked for. */
export interface CtrModel {
  name: string;
  pod: PodModel;
  image: string;
  id?: string;
  exists: Known;
  state: CtrState;
  busy: boolean;
}

/** An image the workload pulls and removes. */
export interface ImageModel {
  ref: string;
  present: Known;
  busy: boolean;
}

/** The whole model. */
export interface World {
  pods: PodModel[];
  ctrs: CtrModel[];
  images: ImageModel[];
}

/** What the server lists, as reconcile reads it. */
export interface Listing {
  pods: { id: string; name: string; state: string }[];
  ctrs: { id: string; podId: string; name: string; state: string }[];
  /** Every tag of every image. */
  imageTags: string[];
}

/** Whether a listed tag names the model's reference (the store may add docker.io/ or keep it as given). */
function hasTag(tags: string[], ref: string): boolean {
  return tags.some((t) => t === ref || t.endsWith(`/${ref}`));
}

/**
 * Checks the facts against what the server lists and settles every 'maybe'
 * from it (adopting a pod or container whose creation was cut off but
 * happened). Objects known to be gone are dropped from the model.
 * @returns the violations found (empty when all hold).
 */
export function reconcile(world: World, listing: Listing): string[] {
  const bad: string[] = [];
  const podsById = new Map(listing.pods.map((p) => [p.id, p]));
  const claimedPods = new Set<string>();
  for (const pod of world.pods) {
    let listed = pod.id !== undefined ? podsById.get(pod.id) : undefined;
    if (!listed && pod.id === undefined && pod.exists === 'maybe') {
      listed = listing.pods.find((p) => p.name === pod.name);
      if (listed) pod.id = listed.id;
    }
    if (pod.exists === 'yes' && !listed) bad.push(`pod ${pod.name} (${pod.id}) was created (acknowledged) and is lost`);
    if (pod.exists === 'no' && listed) bad.push(`pod ${pod.name} (${pod.id}) was removed (acknowledged) and came back`);
    if (listed) {
      claimedPods.add(listed.id);
      const ready = listed.state === 'SANDBOX_READY';
      if (pod.exists !== 'no' && pod.ready === 'yes' && !ready) bad.push(`pod ${pod.name} (${pod.id}) is ready (acknowledged) but listed ${listed.state}`);
      if (pod.exists !== 'no' && pod.ready === 'no' && ready) bad.push(`pod ${pod.name} (${pod.id}) was stopped (acknowledged) but listed READY`);
      pod.exists = 'yes';
      pod.ready = ready ? 'yes' : 'no';
    } else {
      pod.exists = 'no';
    }
  }
  for (const p of listing.pods) if (!claimedPods.has(p.id)) bad.push(`pod ${p.name} (${p.id}) is listed but was never asked for`);

  const ctrsById = new Map(listing.ctrs.map((c) => [c.id, c]));
  const claimedCtrs = new Set<string>();
  for (const c of world.ctrs) {
    let listed = c.id !== undefined ? ctrsById.get(c.id) : undefined;
    if (!listed && c.id === undefined && c.exists === 'maybe' && c.pod.id !== undefined) {
      listed = listing.ctrs.find((l) => l.podId === c.pod.id && l.name === c.name);
      if (listed) c.id = listed.id;
    }
    if (c.exists === 'yes' && !listed) bad.push(`container ${c.name} (${c.id}) was created (acknowledged) and is lost`);
    if (c.exists === 'no' && listed) bad.push(`container ${c.name} (${c.id}) was removed (acknowledged) and came back`);
    if (listed) {
      claimedCtrs.add(listed.id);
      if (c.exists !== 'no' && c.state !== 'maybe' && listed.state !== c.state) bad.push(`container ${c.name} (${c.id}) is ${c.state} (acknowledged) but listed ${listed.state}`);
      c.exists = 'yes';
      c.state = listed.state as CtrState;
    } else {
      c.exists = 'no';
    }
  }
  for (const l of listing.ctrs) if (!claimedCtrs.has(l.id)) bad.push(`container ${l.name} (${l.id}) is listed but was never asked for`);

  for (const img of world.images) {
    const listed = hasTag(listing.imageTags, img.ref);
    if (img.present === 'yes' && !listed) bad.push(`image ${img.ref} was pulled (acknowledged) and is lost`);
    if (img.present === 'no' && listed) bad.push(`image ${img.ref} was removed (acknowledged) and came back`);
    img.present = listed ? 'yes' : 'no';
  }

  world.ctrs = world.ctrs.filter((c) => c.exists === 'yes');
  world.pods = world.pods.filter((p) => p.exists === 'yes');
  return bad;
}
