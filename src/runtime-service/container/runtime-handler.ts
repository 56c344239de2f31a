/**
 * The OCI runtime of a runtime handler: the domain's one rule for which
 * runtime runs a container (its record's `runtimeHandler`, '' for the
 * configured default), for the container engine (deps.ts runtimeFor) and for
 * a front end that runs the runtime without the engine (the CLI's `exec`).
 */
import { quoteInput } from '../../common/bounded-text';
import { invalidArgument } from '../../common/errors';
import { OciRuntime } from '../oci/runc';

/**
 * The runtime of `handler` ('' for `defaultRuntime`) among the configured
 * `runtimes` (`[runtime.runtimes]`).
 * @throws InvalidArgumentError when the handler is not configured.
 */
export function runtimeOfHandler(runtimes: Record<string, { runtime_path: string; runtime_root: string }>, defaultRuntime: string, handler: string): OciRuntime {
  const name = handler || defaultRuntime;
  const rt = Object.hasOwn(runtimes, name) ? runtimes[name] : undefined;
  if (!rt) throw invalidArgument(`runtime handler ${quoteInput(name)} is not configured`);
  return new OciRuntime(rt.runtime_path, rt.runtime_root);
}
