/**
 * A pod sandbox's life, where its state lives (the record, see record.ts
 * and store.ts), and the one way it changes: `nextSandbox` applies an event
 * to a record, or refuses it with WRONG_STATE; the store writes the result
 * in one step (SandboxStore.transition).
 *
 *            create (row written: every field, state creating, creator; takes the pod's name)
 *   (none) ──────────────────────────────────► creating ───┐ `infraStarted`: writes infraPid,
 *                                                │   │ ◄───┘ its start time and the pid namespace pin
 *       a failure, or the creator died:          │   │       (so a rollback can kill it)
 *       rolled back (CNI DEL, infra killed,      │   │
 *       unmounts, pins, cgroup, files, row)      │   │ everything set up: `ready`
 *                 (none) ◄───────────────────────┘   ▼ writes the pod IPs
 *                                                  ready
 *                                                    │ stop (`stopped`, written before the
 *                                                    │ teardown, so an interrupted stop is
 *                                                    │ redone), or its namespaces or infra
 *                                                    ▼ process found gone (`lost`)
 *                                                 notready ──► stop again: `stopped` (idempotent)
 *                                                  │  │  ▲
 *      remove: containers, namespaces, files,      │  │  │ stop, or `lost`, as above
 *      then row                                    │  │  │
 *                                    (none) ◄──────┘  │  │
 *                                 start again (below) ▼  │
 *                                                    ready
 *
 *   start again (notready ─► ready, a front end's restart such as the CLI's
 *   `pod start`): the namespaces are made again if they are gone, /dev/shm
 *   mounted, CNI ADD, the infra process started (`infraStarted` writes its
 *   pid while the pod is still notready, so a stop can kill it), then
 *   `ready` with the new IPs. A failure tears down what it set up (CNI DEL,
 *   infra killed, /dev/shm unmounted) and the pod stays notready.
 *
 * A `creating` record is hidden from lists and lookups: only its creator
 * and recovery (which rolls it back once its creator is dead) see it.
 */
import { wrongState } from '../../common/errors';
import type { SandboxRecord } from './record';

/** The states of a pod sandbox (see the drawing above). */
export type SandboxState = 'creating' | 'ready' | 'notready';

/** What happened to a sandbox: the edges of the drawing. */
export type SandboxEvent =
  /** `pidNamespace`: the pin of its PID namespace (infra.ts), what the pod's containers join. */
  | { type: 'infraStarted'; pid: number; startTime: string; pidNamespace: string }
  | { type: 'ready'; ip?: string; additionalIps: string[] }
  | { type: 'stopped' }
  | { type: 'lost' };

const FROM: Record<SandboxEvent['type'], readonly SandboxState[]> = {
  infraStarted: ['creating', 'notready'],
  ready: ['creating', 'notready'],
  stopped: ['ready', 'notready'],
  lost: ['ready'],
};

/**
 * The record after `event`: a new object, the old one untouched.
 * @throws WrongStateError when the event does not leave from the record's state.
 */
export function nextSandbox(rec: SandboxRecord, event: SandboxEvent): SandboxRecord {
  if (!FROM[event.type].includes(rec.state)) throw wrongState(`pod sandbox ${rec.id} is ${rec.state}: it cannot become ${event.type}`);
  const next: SandboxRecord = { ...rec, namespaces: { ...rec.namespaces } };
  switch (event.type) {
    case 'infraStarted':
      next.infraPid = event.pid;
      next.infraStartTime = event.startTime;
      next.namespaces.pid = event.pidNamespace;
      break;
    case 'ready':
      next.state = 'ready';
      // A start again may find the pod without the IP it had (or with another).
      if (event.ip !== undefined) next.ip = event.ip;
      else delete next.ip;
      next.additionalIps = [...event.additionalIps];
      break;
    case 'stopped':
    case 'lost':
      next.state = 'notready';
      break;
  }
  return next;
}
