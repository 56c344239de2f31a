/**
 * A container's life, where its state lives (the record, see record.ts and
 * store.ts), and the one way it changes: `nextRecord` applies an event to a
 * record, or refuses it with WRONG_STATE; the store writes the result in one
 * step (ContainerStore.transition).
 *
 *            create (row written: every field, state creating, creator)
 *   (none) ───────────────────────────────► creating
 *                                              │   │
 *       a failure, or the creator died:        │   │ conmon reports the runtime
 *       rolled back (runtime state, rootfs,    │   │ created it: `created`
 *       bundle, files and row deleted)         │   │ writes pid and the user resolved
 *                   (none) ◄───────────────────┘   ▼
 *                                              created ──── start: `started` ───► running
 *                                                  │        writes startedAt         │
 *                                                  │                                 │
 *          conmon's exit file read: `exited`       │                                 │ `exited` (its own exit,
 *          writes exitCode, finishedAt, reason     │                                 │ stop, kill, OOM)
 *          (OOMKilled, Completed, Error), pid 0;   ▼                                 │
 *          startedAt = finishedAt if never run   exited ◄────────────────────────────┘
 *                                                  │ ▲
 *                                                  │ └── recreate (a front end's restart, e.g. the
 *                                                  │     CLI's `start` of an exited container):
 *                                                  │     `recreated` back to created, writes the new
 *                                                  │     pid and clears startedAt, finishedAt,
 *                                                  │     exitCode, reason, message
 *                                                  │ remove (a created or running container
 *                                                  ▼ is stopped first): files, then row, deleted
 *                                               (none)
 *
 * Recovery (at the start of a front end) adds two edges for a created or
 * running container whose monitor is gone:
 * - `recovered`: the runtime still knows it (created, running or paused):
 *   writes pid and created/running as the runtime says;
 * - `lost`: neither an exit file nor the runtime knows it (a reboot, a
 *   killed monitor): exited with exit code 255, reason Error and a message
 *   saying so. peapod never reports CONTAINER_UNKNOWN: a container whose
 *   fate peapod cannot know is reported exited, as containerd does once it
 *   has reconciled.
 * `resources` (UpdateContainerResources) keeps the state and writes the
 * resources of a created or running container.
 *
 * A `creating` record is hidden from lists and lookups: only its creator
 * (which finishes or rolls it back) and recovery (which rolls it back once
 * its creator is dead) see it.
 */
import { wrongState } from '../../common/errors';
import type { ContainerRecord } from './record';
import type { ContainerResources } from './spec';

/** The states of a container (see the drawing above). */
export type ContainerState = 'creating' | 'created' | 'running' | 'exited';

/** What happened to a container: the edges of the drawing. */
export type ContainerEvent =
  | { type: 'created'; pid: number; user: NonNullable<ContainerRecord['user']> }
  | { type: 'started'; startedAt: bigint }
  | { type: 'exited'; exitCode: number; finishedAt: bigint; reason: string; message?: string }
  | { type: 'lost'; at: bigint }
  | { type: 'recovered'; state: 'created' | 'running'; pid: number }
  | { type: 'recreated'; pid: number }
  | { type: 'resources'; resources: ContainerResources };

/** The states each event may leave from. */
const FROM: Record<ContainerEvent['type'], readonly ContainerState[]> = {
  created: ['creating'],
  started: ['created'],
  exited: ['created', 'running'],
  lost: ['created', 'running'],
  recovered: ['created', 'running'],
  recreated: ['exited'],
  resources: ['created', 'running'],
};

/** Why an event is refused, in the words of the verb that caused it. */
const REFUSAL: Record<ContainerEvent['type'], string> = {
  created: 'it is not being created',
  started: 'only a created container can be started',
  exited: 'it is not created or running',
  lost: 'it is not created or running',
  recovered: 'it is not created or running',
  recreated: 'only an exited container can be made again',
  resources: 'only a created or running container has resources to update',
};

/** The message a container ended without an exit status carries. */
export const LOST_MESSAGE = 'the container ended while peapod was down and its exit status was lost';

/**
 * The record after `event`: a new object, the old one untouched.
 * @throws WrongStateError when the event does not leave from the record's state.
 */
export function nextRecord(rec: ContainerRecord, event: ContainerEvent): ContainerRecord {
  if (!FROM[event.type].includes(rec.state)) throw wrongState(`container ${rec.id} is ${rec.state}: ${REFUSAL[event.type]}`);
  const next: ContainerRecord = { ...rec };
  switch (event.type) {
    case 'created':
      next.state = 'created';
      next.pid = event.pid;
      next.user = event.user;
      break;
    case 'started':
      next.state = 'running';
      next.startedAt = event.startedAt.toString();
      break;
    case 'exited': {
      next.state = 'exited';
      next.exitCode = event.exitCode;
      // An exit file's mtime has the file system's coarse clock: never before the start.
      const started = BigInt(rec.startedAt === '0' ? rec.createdAt : rec.startedAt);
      next.finishedAt = (event.finishedAt > started ? event.finishedAt : started).toString();
      if (rec.startedAt === '0') next.startedAt = next.finishedAt;
      next.reason = event.reason;
      if (event.message !== undefined) next.message = event.message;
      next.pid = 0;
      break;
    }
    case 'lost':
      next.state = 'exited';
      next.exitCode = 255;
      next.reason = 'Error';
      next.message = LOST_MESSAGE;
      next.finishedAt = event.at.toString();
      next.pid = 0;
      break;
    case 'recovered':
      next.state = event.state;
      next.pid = event.pid;
      break;
    case 'recreated':
      next.state = 'created';
      next.pid = event.pid;
      next.startedAt = '0';
      next.finishedAt = '0';
      next.exitCode = 0;
      next.reason = '';
      next.message = '';
      break;
    case 'resources':
      next.resources = structuredClone(event.resources);
      break;
  }
  return next;
}

/**
 * Refuses a verb that needs a running container (exec, attach, reopen-log).
 * @throws WrongStateError naming the state and the verb.
 */
export function mustBeRunning(rec: ContainerRecord, verb: string): void {
  if (rec.state !== 'running') throw wrongState(`container ${rec.id} is ${rec.state}: ${verb} needs a running container`);
}
