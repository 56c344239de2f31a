import * as fs from 'node:fs';
import * as path from 'node:path';
import { runHostCommand, spawnHostProcess } from '../../common/host/command';
import { childrenOf, isProcessAlive, killProcess, processesWithArgument, ProcessIdentity, processStartTime } from '../../common/host/proc';
import { sleep } from '../../common/time';
import { removeNamespacePin } from './namespaces';

/**
 * The pod's init process, run when the pod shares one PID namespace (CRI
 * pid mode POD). CRI-O runs a pause image for this; until peapod runs a
 * pause container (config key sandbox.pause_image), it starts a tiny shell
 * loop as PID 1 of a new PID namespace, joined to the pod's network, IPC
 * and UTS namespaces:
 *
 *   nsenter --net=PIN --ipc=PIN --uts=PIN -- unshare --pid --fork sh -c LOOP peapod-infra <sandbox ID>
 *
 * (LOOP: see infraLoop.) The sandbox ID is an argument of every process
 * started (the shell's $0 and $1, and so the nsenter/unshare command line
 * too): a crash between starting the infra process and writing its pid in
 * the record leaves it findable by that argument (findInfraProcesses), so a
 * rollback kills it like any other step it undoes.
 *
 * No mount namespace of its own (no --mount-proc): a new mount namespace
 * would copy every mount of the host, the namespace pins and /dev/shm
 * tmpfs of the other pods included, and keep them alive after their pods
 * are removed. The loop does not need a /proc of its own; containers that
 * join the PID namespace mount theirs.
 *
 * It is started detached in its own session, so it outlives peapod-cri;
 * the shell reaps orphans that containers leave behind when it wakes.
 */

/**
 * The loop PID 1 runs: wait on a timer child (which also reaps orphans),
 * forever. The timer is `sleep` run through a link named `pause`, so the
 * pod's containers see a process called pause, as with a pause container,
 * and never a stray `sleep` (critest's exec-timeout spec looks for one).
 */
const infraLoop = (pause: string): string => `trap "exit 0" TERM INT; while :; do '${pause}' 3600 & wait $!; done`;

/**
 * Makes `<dir>/pause`, a symbolic link to the host's sleep, for the infra
 * loop; the kernel names a process after the file it executed.
 * @returns the link's path.
 */
export function ensurePauseLink(dir: string): string {
  const link = path.join(dir, 'pause');
  const target = fs.realpathSync('/bin/sleep');
  try {
    if (fs.readlinkSync(link) === target) return link;
    fs.rmSync(link, { force: true });
  } catch {
    /* absent */
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.symlinkSync(target, link);
  return link;
}

/** How long to wait for the infra process to appear or vanish, in ms. */
const INFRA_WAIT_MS = 5000;

/** The infra process: host pid and kernel start time (to detect pid reuse). */
export type InfraProcess = ProcessIdentity;

/** Namespaces the infra process joins; absent keys mean the host's. */
export interface InfraNamespaces {
  network?: string;
  ipc?: string;
  uts?: string;
}


/** The argument after which the sandbox ID follows in the infra's command line. */
const INFRA_MARK = 'peapod-infra';

/**
 * The processes started as sandbox `sandboxId`'s infra (found by their
 * arguments, see the module doc), whether or not their pid was recorded.
 */
export function findInfraProcesses(sandboxId: string): Promise<InfraProcess[]> {
  return processesWithArgument(sandboxId);
}

/**
 * The infra process of sandbox `sandboxId` found by its arguments: the one
 * that is PID 1 of its own PID namespace (not the nsenter/unshare parent).
 */
export async function findInfra(sandboxId: string): Promise<InfraProcess | undefined> {
  let own: string;
  try {
    own = fs.readlinkSync('/proc/self/ns/pid');
  } catch {
    return undefined;
  }
  for (const p of await findInfraProcesses(sandboxId)) {
    try {
      if (fs.readlinkSync(`/proc/${p.pid}/ns/pid`) !== own) return p;
    } catch {
      /* gone */
    }
  }
  return undefined;
}

/** The infra process once started: its identity and the pin of its PID namespace. */
export interface StartedInfra extends InfraProcess {
  /** The file its PID namespace is pinned on, what the pod's containers join. */
  pidNamespace: string;
}

/**
 * Starts the infra process in a new PID namespace and pins that namespace on
 * `pidnsPin` (a bind mount of /proc/<pid>/ns/pid, as CRI-O's pinns pins a
 * pod's PID namespace). Containers join the pin, never /proc/<pid>/ns/pid:
 * once the infra process is gone its pid may name any other process, the
 * host's init included, while the pin keeps naming the pod's namespace
 * (which takes no new process once its PID 1 died: runc's fork into it
 * fails with ENOMEM, so a container cannot end up in the host's). The pin is
 * made after the process is found and checked after it is made: the process
 * must still be the one started (pid and start time).
 * @param sandboxId the sandbox's ID, put in the command line (see the module doc)
 * @param ns the pod namespaces to join first
 * @param pause path of the `pause` link to sleep (ensurePauseLink)
 * @param pidnsPin the file to pin the PID namespace on (the caller's teardown removes it)
 * @returns the host pid of the new namespace's PID 1, its start time and the pin.
 * @throws Error when it does not come up within 5 s or its namespace cannot
 *   be pinned (what was started is killed).
 */
export async function startInfra(sandboxId: string, ns: InfraNamespaces, pause: string, pidnsPin: string): Promise<StartedInfra> {
  const nsArgs: string[] = [];
  if (ns.network) nsArgs.push(`--net=${ns.network}`);
  if (ns.ipc) nsArgs.push(`--ipc=${ns.ipc}`);
  if (ns.uts) nsArgs.push(`--uts=${ns.uts}`);
  const unshareArgs = ['unshare', '--pid', '--fork', '/bin/sh', '-c', infraLoop(pause), INFRA_MARK, sandboxId];
  const [file, ...args] = nsArgs.length ? ['nsenter', ...nsArgs, '--', ...unshareArgs] : unshareArgs;
  const child = spawnHostProcess(file, args, { detached: true, stdio: 'ignore' });
  child.unref();
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  let failure: Error | undefined;
  spawnError.then((e) => (failure = e));
  const killStarted = (): void => {
    if (child.pid !== undefined && child.exitCode === null) {
      for (const p of childrenOf(child.pid)) killProcess(p);
      killProcess(child.pid);
    }
  };
  const deadline = Date.now() + INFRA_WAIT_MS;
  let found: InfraProcess | undefined;
  while (!found && Date.now() < deadline && failure === undefined && child.exitCode === null) {
    // nsenter execs unshare in place, so child.pid is unshare; its forked child is PID 1.
    const [pid] = child.pid !== undefined ? childrenOf(child.pid) : [];
    const startTime = pid !== undefined ? processStartTime(pid) : undefined;
    if (pid !== undefined && startTime !== undefined) {
      try {
        if (fs.readlinkSync(`/proc/${pid}/ns/pid`) !== fs.readlinkSync('/proc/self/ns/pid')) found = { pid, startTime };
      } catch {
        /* not ready yet */
      }
    }
    if (!found) await sleep(20);
  }
  if (!found) {
    killStarted();
    throw new Error(`infra process did not start: ${failure?.message ?? `exit code ${child.exitCode ?? 'none'} or no PID 1 within ${INFRA_WAIT_MS} ms`}`);
  }
  try {
    await pinPidNamespace(found, pidnsPin);
  } catch (err) {
    killStarted();
    throw err;
  }
  return { ...found, pidNamespace: pidnsPin };
}

/**
 * Bind-mounts the PID namespace of `proc` on `pin` (created empty, 0444),
 * then checks that `proc` is still the same process, so the pin names its
 * namespace and not that of a process that took its pid meanwhile.
 * @throws Error when the process is gone after the mount (the pin is
 *   removed); HostCommandError when mount fails.
 */
async function pinPidNamespace(proc: InfraProcess, pin: string): Promise<void> {
  fs.writeFileSync(pin, '', { mode: 0o444 });
  await runHostCommand('mount', ['--bind', `/proc/${proc.pid}/ns/pid`, pin]);
  if (!isProcessAlive(proc)) {
    await removeNamespacePin(pin);
    throw new Error(`infra process ${proc.pid} exited while its PID namespace was being pinned`);
  }
}

/**
 * Kills the infra process (SIGKILL: PID 1 of a namespace ignores other
 * signals it has no handler for) and with it every process of its PID
 * namespace; waits until it is gone. A process already gone, or a pid now
 * used by another process, is left alone.
 */
export async function killInfra(proc: InfraProcess): Promise<void> {
  if (!isProcessAlive(proc)) return;
  killProcess(proc.pid);
  const deadline = Date.now() + INFRA_WAIT_MS;
  while (isProcessAlive(proc) && Date.now() < deadline) await sleep(20);
}
