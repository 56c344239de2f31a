/**
 * Finding the CLI's containers by what a user types: a full ID, a name, or
 * a unique ID prefix (Podman's order). peapod-cri's containers are never
 * found here: a reference that names one gets an error saying so, since the
 * CLI shows them (`ps --external`) but never changes them.
 */
import type { ContainerRecord } from '../../runtime-service/container/record';
import type { ContainerStore } from '../../runtime-service/container/store';
import { CliError, EXIT_ENGINE } from '../errors';
import { quoteInput } from '../../common/bounded-text';

/** Whether `ref` names `rec`: its full ID, its name, or a prefix of its ID. */
function names(rec: ContainerRecord, ref: string): boolean {
  return rec.id === ref || rec.metadata.name === ref || rec.id.startsWith(ref);
}

/** Podman's "no such container" error (exit `code`, default 125). */
export function noSuchContainer(ref: string, code = EXIT_ENGINE): CliError {
  return new CliError(`no container with name or ID ${quoteInput(ref)} found: no such container`, code);
}

/**
 * The CLI's container `ref` names, or undefined.
 * @throws CliError (125) when an ID prefix matches several containers.
 */
export function findContainer(store: ContainerStore, ref: string): ContainerRecord | undefined {
  if (ref === '') return undefined;
  const exact = store.find(ref);
  if (exact && exact.id === ref) return exact;
  const named = store.findByName(ref);
  if (named.length > 0) return named[0];
  if (!/^[0-9a-f]+$/.test(ref)) return undefined;
  const hits = store.list().filter((r) => r.id.startsWith(ref));
  if (hits.length > 1) throw new CliError(`more than one result for container ID ${quoteInput(ref)}: use more of the ID`, EXIT_ENGINE);
  return hits[0];
}

/**
 * The CLI's container `ref` names.
 * @param notFoundCode the exit code of "no such container" (Podman's rm uses 1)
 * @throws CliError: no such container (naming peapod-cri when one of its
 *   containers matches, which the CLI does not change), or an ambiguous prefix.
 */
export function mustFindContainer(store: ContainerStore, ref: string, notFoundCode = EXIT_ENGINE): ContainerRecord {
  const rec = findContainer(store, ref);
  if (rec) return rec;
  const external = store.listOf('cri').find((r) => names(r, ref));
  if (external) {
    throw new CliError(`container ${quoteInput(ref)} (${external.id.slice(0, 12)}) is managed by peapod-cri: the CLI only lists it (ps --external); use crictl to change it`, EXIT_ENGINE);
  }
  throw noSuchContainer(ref, notFoundCode);
}
