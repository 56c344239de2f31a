/**
 * A read-only view of the CLI's pods and containers for the commands that
 * only show them (`pod ps`, `pod inspect`, `pod exists`, `info`): the
 * records of the state database as they are now, without building the
 * domain's services (their modules cost more to load than these commands
 * take otherwise) and without writing anything. What the records do not
 * say yet is read where it lies: a container whose conmon exit file exists
 * is shown exited with its exit code (the next command that changes it
 * records the exit), a ready pod whose namespaces or infra process are gone
 * is shown notready (as the domain's refresh would mark it).
 */
import * as path from 'node:path';
import { readExitFile, exitFilePath, persistExitFilePath } from '../conmon/driver';
import type { ContainerRecord } from '../runtime-service/container/record';
import { containerDirs } from '../runtime-service/container/paths';
import type { ContainerStore } from '../runtime-service/container/store';
import { sandboxAlive } from '../runtime-service/sandbox/alive';
import type { SandboxRecord } from '../runtime-service/sandbox/record';
import { SandboxStore } from '../runtime-service/sandbox/store';
import type { StateDb } from '../runtime-service/state-db';
import type { PodDomain } from './pods';

/**
 * The view over `state` (owner cli) for the root and runroot given, with
 * the CLI's container records of `containers` (CliContext.containerStore).
 * @returns a PodDomain whose refreshes read, never write.
 */
export function podsView(state: StateDb, dirs: { root: string; runroot: string }, containers: ContainerStore): PodDomain {
  // As the domain builds them (runtime-service/peapod.ts): container paths from the resolved root and runroot.
  const cdirs = containerDirs(path.resolve(dirs.root), path.resolve(dirs.runroot));
  const sandboxes = new SandboxStore(state, dirs);
  const seen = (c: ContainerRecord): ContainerRecord => {
    if (c.state === 'exited') return c;
    const ex = readExitFile(exitFilePath(cdirs.exits, c.id)) ?? readExitFile(persistExitFilePath(c.persistDir));
    return ex ? { ...c, state: 'exited', exitCode: ex.exitCode, finishedAt: ex.finishedAtNs.toString(), pid: 0 } : c;
  };
  return {
    sandboxes: {
      list: () => sandboxes.list(),
      refresh: (rec: SandboxRecord): SandboxRecord => (rec.state === 'ready' && !sandboxAlive(rec) ? { ...rec, state: 'notready' } : rec),
    },
    containers: {
      list: () => containers.list(),
      refresh: async (id: string): Promise<ContainerRecord> => {
        const c = containers.find(id);
        if (!c) throw new Error(`container ${id} not found`);
        return seen(c);
      },
    },
  };
}
