import * as fs from 'node:fs';
import * as path from 'node:path';
import { HostCommandError, runHostCommand } from '../../common/host/command';
import { killAndWait, processesWithArgument, ProcessIdentity } from '../../common/host/proc';
import { removeNamespacePin } from './namespaces';

/**
 * The pod's init process, run when the pod shares one PID namespace (CRI
 * pid mode POD): peapod's own pause program, `peapod-pause`
 * (native/pause.c, built into dist/native/ by scripts/build-native.sh). As
 * PID 1 of the pod's PID namespace it reaps the zombies the containers
 * leave behind, exits 0 on SIGTERM or SIGINT, and otherwise sleeps. Where
 * CRI-O and containerd run a pause image as a container (a runc create and
 * start, a monitor, an image to pull), one short-lived process starts it:
 *
 *   peapod-pause --net=PIN --ipc=PIN --uts=PIN --pidns=PIDNS_PIN -- peapod-infra <sandbox ID>
 *
 * joins the pod's network, IPC and UTS namespaces (setns), makes a new PID
 * namespace (unshare), forks its PID 1, bind-mounts that namespace on the
 * pin once PID 1 is ready, prints PID 1's host pid and start time and
 * exits. The sandbox ID is in the command line of both (PID 1 keeps the
 * argv): a crash between the start and writing its pid in the record leaves
 * it findable by that argument (findInfraProcesses), so a rollback kills it
 * like any other step it undoes.
 *
 * No mount namespace of its own: a new mount namespace would copy every
 * mount of the host, the namespace pins and /dev/shm tmpfs of the other
 * pods included, and keep them alive after their pods are removed. It
 * needs no /proc of its own; containers that join the PID namespace mount
 * theirs.
 *
 * PID 1 runs in its own session with stdio on /dev/null, so it outlives
 * peapod-cri; once the starter exits it is a child of the nearest child
 * subreaper (peapod-spawner in peapod-cri, which reaps it when it ends) or
 * of the host's init.
 */

/** Where the build puts the pause program: `dist/native/peapod-pause`. */
export const PAUSE_BINARY = path.resolve(__dirname, '..', '..', '..', 'native', 'peapod-pause');

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
 * that is PID 1 of its own PID namespace (not the short-lived starter).
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
 * Starts the infra process (peapod-pause, see the module doc) in a new PID
 * namespace pinned on `pidnsPin` (a bind mount of /proc/<pid>/ns/pid, as
 * CRI-O's pinns pins a pod's PID namespace). Containers join the pin, never
 * /proc/<pid>/ns/pid: once the infra process is gone its pid may name any
 * other process, the host's init included, while the pin keeps naming the
 * pod's namespace (which takes no new process once its PID 1 died: runc's
 * fork into it fails with ENOMEM, so a container cannot end up in the
 * host's). peapod-pause makes the pin while PID 1 is still its unreaped
 * child, so the pin names PID 1's namespace and no other.
 * @param sandboxId the sandbox's ID, put in the command line (see the module doc)
 * @param ns the pod namespaces to join first
 * @param pidnsPin the file to pin the PID namespace on (created here; the caller's teardown removes it)
 * @param binary the pause program (default: the one the build made)
 * @returns the host pid of the new namespace's PID 1, its start time and the pin.
 * @throws Error when the pause program was not built, or does not come up
 *   within 5 s, or its namespace cannot be pinned (what it started is killed;
 *   after a timeout a rollback finds PID 1 by its arguments).
 */
export async function startInfra(sandboxId: string, ns: InfraNamespaces, pidnsPin: string, binary = PAUSE_BINARY): Promise<StartedInfra> {
  if (!fs.existsSync(binary)) {
    throw new Error(`a pod sharing a PID namespace needs peapod's pause program, and ${binary} is missing: scripts/build-native.sh builds it with a C compiler (Debian package gcc)`);
  }
  const args: string[] = [];
  if (ns.network) args.push(`--net=${ns.network}`);
  if (ns.ipc) args.push(`--ipc=${ns.ipc}`);
  if (ns.uts) args.push(`--uts=${ns.uts}`);
  args.push(`--pidns=${pidnsPin}`, '--', INFRA_MARK, sandboxId);
  fs.writeFileSync(pidnsPin, '', { mode: 0o444 });
  let out: string;
  try {
    out = await runHostCommand(binary, args, { timeoutMs: INFRA_WAIT_MS, maxOutputBytes: 256 });
  } catch (err) {
    throw new Error(`infra process did not start: ${err instanceof HostCommandError ? err.stderr.trim() : (err as Error).message}`);
  }
  const m = /^([0-9]+) ([0-9]+)\n$/.exec(out);
  if (!m) {
    await removeNamespacePin(pidnsPin);
    throw new Error(`infra process did not start: peapod-pause printed ${JSON.stringify(out.slice(0, 100))}, not "<pid> <start time>"`);
  }
  return { pid: Number(m[1]), startTime: m[2], pidNamespace: pidnsPin };
}

/**
 * Kills the infra process with SIGKILL, as containerd stops its sandbox
 * (peapod-pause also exits 0 on SIGTERM, for a caller that asks politely;
 * a pod being stopped has nothing left to finish): the kernel then kills
 * every process of its PID namespace at once; waits until it is gone (a zombie counts as gone), up to 5 s.
 * A process already gone, or a pid now used by another process, is left
 * alone (killAndWait: its wait looks again after 1 ms, then doubles the
 * pause up to 20 ms, so a pod's PID 1 that dies within a millisecond or two
 * costs StopPodSandbox about that).
 */
export async function killInfra(proc: InfraProcess): Promise<void> {
  await killAndWait([proc], INFRA_WAIT_MS);
}
