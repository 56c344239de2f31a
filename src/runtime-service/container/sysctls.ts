import { invalidArgument } from '../../common/errors';
import { quoteInput } from '../../common/bounded-text';
import { sysctlProblem } from '../sandbox/sysctls';

/** Most sysctls one container may name. */
const MAX_CONTAINER_SYSCTLS = 256;

/**
 * Checks a container's own sysctls (ContainerSpec.sysctls) against the
 * namespaces it has from its pod, as a pod's are checked: namespaced ones
 * only, net.* only with a network namespace of the pod's own, IPC ones only
 * with its own IPC namespace; bounded in count and size.
 * @param sysctls name → value, as the front end gave them
 * @param namespaces the pod's namespaces the container joins (an absent one is the host's)
 * @throws InvalidArgumentError naming `sysctls["NAME"]`.
 */
export function checkContainerSysctls(sysctls: Record<string, string> | undefined, namespaces: { network?: string; ipc?: string }): void {
  const names = Object.keys(sysctls ?? {});
  if (names.length > MAX_CONTAINER_SYSCTLS) throw invalidArgument(`more than ${MAX_CONTAINER_SYSCTLS} sysctls`, { field: 'sysctls' });
  for (const name of names) {
    const field = `sysctls[${quoteInput(name)}]`;
    if (name.length > 256 || sysctls![name].length > 4096) throw invalidArgument(`sysctl ${quoteInput(name)}: name or value too long`, { field });
    const problem = sysctlProblem(name, !namespaces.network, !namespaces.ipc);
    if (problem) throw invalidArgument(problem, { field });
  }
}
