/**
 * What `pod start`, `stop`, `restart`, `kill` and `rm` do to a pod and its
 * containers, on the domain: the sandbox's own verbs (Sandboxes.start,
 * stop, remove: stopping a pod stops its containers, removing it removes
 * them) and, for each container, the container commands' own verbs
 * (containers/domain.ts: started with the CLI's exit command, so its exit
 * is recorded and --rm honoured with no CLI left; stopped with its stop
 * signal and --time before the pod's forced stop).
 */
import type { ContainerRecord } from '../runtime-service/container/record';
import type { SandboxRecord } from '../runtime-service/sandbox/record';
import type { CliContext } from './context';
import { CliContainers, startCliContainer, stopCliContainer } from './containers/domain';
import { CliError, EXIT_ENGINE } from './errors';
import { podContainers } from './pods';
import { quoteInput } from '../common/bounded-text';

/** The most containers of one pod stopped, started or signalled at once. */
const PARALLEL = 8;

/** Runs `fn` on each item, at most PARALLEL at a time; collects the failures. */
async function eachLimited<T>(items: T[], fn: (t: T) => Promise<void>): Promise<{ item: T; err: unknown }[]> {
  const failures: { item: T; err: unknown }[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failures.push({ item, err });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return failures;
}

/** One CliError for the containers an operation failed on. */
function failed(verb: string, pod: SandboxRecord, failures: { item: ContainerRecord; err: unknown }[]): CliError {
  const list = failures.map((f) => `${f.item.id.slice(0, 12)} (${f.item.metadata.name}): ${(f.err as Error).message}`).join('; ');
  return new CliError(`${verb} pod ${pod.metadata.name}: ${list}`, EXIT_ENGINE);
}

/**
 * Starts a pod: its sandbox set up again when it was stopped (with its
 * network's rules, network.ts ensureCliNetworkRules), then every
 * container not running (created ones started; exited ones made again,
 * then started), as `peapod start` starts them.
 * @param c the domain as openContainers gives it
 * @throws CliError (125) naming the containers that did not start, or the sandbox's failure.
 */
export async function startPod(ctx: CliContext, c: CliContainers, pod: SandboxRecord): Promise<void> {
  // A stopped pod is attached to its network again: the network's own rules (the masquerade rule, gone after a reboot) beside it.
  const net = pod.setup?.cniNetwork;
  const rules = net
    ? (require('./network') as typeof import('./network')).ensureCliNetworkRules(net, { runroot: ctx.config.runroot, locks: c.peapod.state.locks, warn: (err, msg) => ctx.log.warn({ err }, msg) })
    : Promise.resolve();
  try {
    await c.peapod.sandboxes.start(pod.id);
  } catch (err) {
    throw new CliError(`starting pod ${pod.metadata.name}: ${(err as Error).message}`, EXIT_ENGINE);
  } finally {
    await rules;
  }
  const todo = (await podContainers(c.peapod, pod.id)).filter((r) => r.state !== 'running');
  const failures = await eachLimited(todo, async (r) => {
    await startCliContainer(ctx, c, r, false);
  });
  if (failures.length) throw failed('starting', pod, failures);
}

/**
 * Stops the running containers of a pod, as `peapod stop` does: each gets
 * its stop signal and `timeoutSec` (default its own --stop-timeout) before
 * SIGKILL, at most PARALLEL at once. The sandbox stays up.
 * @throws CliError (125) naming the containers that did not stop.
 */
export async function stopPodContainers(ctx: CliContext, c: CliContainers, pod: SandboxRecord, timeoutSec: number | undefined): Promise<void> {
  const running = (await podContainers(c.peapod, pod.id)).filter((r) => r.state === 'running');
  const failures = await eachLimited(running, (r) => stopCliContainer(ctx, c, r, timeoutSec));
  if (failures.length) throw failed('stopping', pod, failures);
}

/**
 * Stops a pod: its containers as stopPodContainers does, then the sandbox
 * (what is still running killed, network and namespaces' processes torn down).
 * @throws CliError (125) when the sandbox cannot be stopped.
 */
export async function stopPod(ctx: CliContext, c: CliContainers, pod: SandboxRecord, timeoutSec: number | undefined): Promise<void> {
  await stopPodContainers(ctx, c, pod, timeoutSec).catch(() => undefined); // the sandbox's stop kills what is left
  try {
    await c.peapod.sandboxes.stop(pod.id);
  } catch (err) {
    throw new CliError(`stopping pod ${pod.metadata.name}: ${(err as Error).message}`, EXIT_ENGINE);
  }
}

/**
 * Sends `signal` to the init process of each running container of a pod.
 * @throws CliError (125) naming the containers the runtime refused.
 */
export async function killPod(c: CliContainers, pod: SandboxRecord, signal: string): Promise<void> {
  const running = (await podContainers(c.peapod, pod.id)).filter((r) => r.state === 'running');
  const failures = await eachLimited(running, (r) => c.engine.runtimeOf(r).kill(r.id, signal));
  if (failures.length) throw failed('killing', pod, failures);
}

/**
 * Parses `--time`: whole seconds, at most a day.
 * @throws CliError (125) naming the flag otherwise.
 */
export function stopTimeout(value: string | undefined): number {
  const v = value ?? '10';
  if (!/^\d{1,5}$/.test(v) || Number(v) > 86_400) throw new CliError(`--time: ${quoteInput(v)} is not a number of seconds between 0 and 86400`, EXIT_ENGINE);
  return Number(v);
}
