/**
 * What `pod start`, `stop`, `restart`, `kill` and `rm` do to a pod and its
 * containers, on the domain: the sandbox's own verbs (Sandboxes.start,
 * stop, remove: stopping a pod stops its containers, removing it removes
 * them) and the container verbs for the graceful parts Podman adds (each
 * container's stop signal and --time before the pod's forced stop).
 */
import type { ContainerRecord } from '../runtime-service/container/record';
import type { Peapod } from '../runtime-service/peapod';
import type { SandboxRecord } from '../runtime-service/sandbox/record';
import { CliError, EXIT_ENGINE } from './errors';
import { podContainers } from './pods';

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
 * A container of the engine made runnable again after it exited, when the
 * engine can (the `recreate` verb of the containers' branch); until then,
 * an exited container is left exited and reported.
 */
type Recreating = { recreate?: (idOrPrefix: string) => Promise<ContainerRecord> };

/**
 * Starts a pod: its sandbox set up again when it was stopped, then every
 * container not running (created ones started; exited ones made again,
 * then started).
 * @throws CliError (125) naming the containers that did not start, or the sandbox's failure.
 */
export async function startPod(peapod: Peapod, pod: SandboxRecord): Promise<void> {
  try {
    await peapod.sandboxes.start(pod.id);
  } catch (err) {
    throw new CliError(`starting pod ${pod.metadata.name}: ${(err as Error).message}`, EXIT_ENGINE);
  }
  const engine = peapod.containers as typeof peapod.containers & Recreating;
  const todo = (await podContainers(peapod, pod.id)).filter((c) => c.state !== 'running');
  const failures = await eachLimited(todo, async (c) => {
    if (c.state === 'exited') {
      if (!engine.recreate) throw new Error('it has exited, and starting an exited container again is not supported yet');
      await engine.recreate(c.id);
    }
    await peapod.containers.start(c.id);
  });
  if (failures.length) throw failed('starting', pod, failures);
}

/**
 * Stops a pod: each running container gets its stop signal and `timeoutSec`
 * before SIGKILL (at most PARALLEL at once), then the sandbox is stopped
 * (what is still running killed, network and namespaces' processes torn down).
 * @throws CliError (125) when the sandbox cannot be stopped.
 */
export async function stopPod(peapod: Peapod, pod: SandboxRecord, timeoutSec: number): Promise<void> {
  const running = (await podContainers(peapod, pod.id)).filter((c) => c.state === 'running');
  await eachLimited(running, (c) => peapod.containers.stop(c.id, timeoutSec));
  try {
    await peapod.sandboxes.stop(pod.id);
  } catch (err) {
    throw new CliError(`stopping pod ${pod.metadata.name}: ${(err as Error).message}`, EXIT_ENGINE);
  }
}

/**
 * Sends `signal` to the init process of each running container of a pod.
 * @throws CliError (125) naming the containers the runtime refused.
 */
export async function killPod(peapod: Peapod, pod: SandboxRecord, signal: string): Promise<void> {
  const running = (await podContainers(peapod, pod.id)).filter((c) => c.state === 'running');
  const failures = await eachLimited(running, (c) => peapod.containers.runtimeOf(c).kill(c.id, signal));
  if (failures.length) throw failed('killing', pod, failures);
}

/**
 * Parses `--time`: whole seconds, at most a day.
 * @throws CliError (125) naming the flag otherwise.
 */
export function stopTimeout(value: string | undefined): number {
  const v = value ?? '10';
  if (!/^\d{1,5}$/.test(v) || Number(v) > 86_400) throw new CliError(`--time: "${v}" is not a number of seconds between 0 and 86400`, EXIT_ENGINE);
  return Number(v);
}

/**
 * A signal as `kill -s` takes it (KILL, SIGKILL, 9), checked, in the form
 * runc takes (`SIGKILL` or the number).
 * @throws CliError (125) for a signal Linux does not have.
 */
export function parseSignal(value: string): string {
  const { signals } = (require('node:os') as typeof import('node:os')).constants;
  if (/^\d+$/.test(value)) {
    const n = Number(value);
    if (n >= 1 && n <= 64) return value;
  } else {
    const name = value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`;
    if (name in signals) return name;
    if (/^SIGRTM(IN|AX)([+-]\d+)?$/.test(name)) return name;
  }
  throw new CliError(`invalid signal: ${value}`, EXIT_ENGINE);
}
