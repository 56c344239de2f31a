/**
 * Records written by peapod before the state database: one JSON file per
 * pod (`<root>/sandboxes/<id>/sandbox.json`) and per container
 * (`<root>/containers/<id>/record.json`). At open they are imported into
 * state.db (owner `cri`: only peapod-cri wrote them) and their files
 * deleted, so pods and containers survive an upgrade. A record that was
 * still being created has no live creator and is rolled back by the next
 * recovery of peapod-cri. Idempotent: a record already imported is skipped.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContainerRecord, RecordedMount } from './container/record';
import type { ContainerResources, MountPropagation } from './container/spec';
import type { ContainerState } from './container/state';
import type { SandboxRecord } from './sandbox/record';
import type { StateDb } from './state-db';

/** Pod record file formats 1 (phase + CRI state names) and 2. */
type LegacyPodFile =
  | { version: 1; phase: 'creating' | 'created'; record: Record<string, unknown> & { state: string }; infraStartTime?: string }
  | (Record<string, unknown> & { version: 2 });

/** The pod record of a legacy file. */
function podOf(j: LegacyPodFile): SandboxRecord {
  if (j.version === 2) return { ...(j as unknown as SandboxRecord), owner: 'cri' };
  const state = j.phase === 'creating' ? 'creating' : j.record.state === 'SANDBOX_READY' ? 'ready' : 'notready';
  return { ...(j.record as unknown as SandboxRecord), version: 2, owner: 'cri', state, ...(j.infraStartTime !== undefined ? { infraStartTime: j.infraStartTime } : {}) };
}

const LEGACY_STATES: Record<string, ContainerState> = { CONTAINER_CREATED: 'created', CONTAINER_RUNNING: 'running', CONTAINER_EXITED: 'exited', CONTAINER_UNKNOWN: 'exited' };
const LEGACY_PROPAGATION: Record<string, MountPropagation> = { PROPAGATION_PRIVATE: 'private', PROPAGATION_HOST_TO_CONTAINER: 'slave', PROPAGATION_BIDIRECTIONAL: 'shared' };

/** The resources of a legacy container record (kept as peapod once stored them: CRI field names, int64 strings, 0 = unset). */
function legacyResources(r: Record<string, unknown> | null): ContainerResources | null {
  if (!r) return null;
  const n = (k: string): number | undefined => (Number(r[k] ?? 0) !== 0 ? Number(r[k]) : undefined);
  const s = (k: string): string | undefined => (typeof r[k] === 'string' && r[k] !== '' ? (r[k] as string) : undefined);
  const out: ContainerResources = {
    cpuShares: n('cpu_shares'),
    cpuQuota: n('cpu_quota'),
    cpuPeriod: n('cpu_period'),
    cpusetCpus: s('cpuset_cpus'),
    cpusetMems: s('cpuset_mems'),
    memoryLimitBytes: n('memory_limit_in_bytes'),
    memorySwapLimitBytes: n('memory_swap_limit_in_bytes'),
    oomScoreAdj: n('oom_score_adj'),
  };
  const huge = (r.hugepage_limits as { page_size: string; limit: string }[] | undefined) ?? [];
  if (huge.length) out.hugepageLimits = huge.map((h) => ({ pageSize: h.page_size, limitBytes: Number(h.limit) }));
  const unified = (r.unified as Record<string, string> | undefined) ?? {};
  if (Object.keys(unified).length) out.unified = { ...unified };
  for (const k of Object.keys(out) as (keyof ContainerResources)[]) if (out[k] === undefined) delete out[k];
  return out;
}

/** The container record of a legacy file (format 1 with CRI names), or undefined when it is not one. */
function containerOf(j: Record<string, unknown>): ContainerRecord | undefined {
  if (j.version !== 1 || typeof j.id !== 'string') return undefined;
  if ('owner' in j) return j as unknown as ContainerRecord;
  const image = (j.image ?? {}) as { image?: string; annotations?: Record<string, string>; user_specified_image?: string };
  const mounts = ((j.mounts ?? []) as { container_path: string; host_path: string; readonly: boolean; propagation: string }[]).map(
    (m): RecordedMount => ({ containerPath: m.container_path, hostPath: m.host_path, readonly: m.readonly, propagation: LEGACY_PROPAGATION[m.propagation] ?? 'private' }),
  );
  const rec = { ...j } as Record<string, unknown>;
  delete rec.creating;
  return {
    ...(rec as unknown as ContainerRecord),
    owner: 'cri',
    state: j.creating ? 'creating' : (LEGACY_STATES[String(j.state)] ?? 'exited'),
    image: { name: image.image ?? '', annotations: { ...image.annotations }, userSpecified: image.user_specified_image ?? '' },
    mounts,
    resources: legacyResources(j.resources as Record<string, unknown> | null),
  };
}

/** The record files found: each parsed record with its file. */
function readAll<T>(dir: string, file: string, parse: (j: Record<string, unknown>) => T | undefined): { rec: T; file: string }[] {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: { rec: T; file: string }[] = [];
  for (const id of names) {
    const f = path.join(dir, id, file);
    try {
      const rec = parse(JSON.parse(fs.readFileSync(f, 'utf8')) as Record<string, unknown>);
      if (rec) out.push({ rec, file: f });
    } catch {
      /* absent or unreadable: not a legacy record */
    }
  }
  return out;
}

/**
 * Imports the legacy record files under `root` (see the module doc).
 * @returns how many pods and containers were imported.
 */
export function importLegacyRecords(state: StateDb, root: string): { pods: number; containers: number } {
  const pods = readAll(path.join(root, 'sandboxes'), 'sandbox.json', (j) => podOf(j as LegacyPodFile));
  const containers = readAll(path.join(root, 'containers'), 'record.json', containerOf);
  if (pods.length === 0 && containers.length === 0) return { pods: 0, containers: 0 };
  const addPod = state.db.prepare(
    'INSERT OR IGNORE INTO pods (id, name, namespace, uid, attempt, state, owner, creator_pid, creator_start, created_at, record) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?)',
  );
  const addContainer = state.db.prepare(
    'INSERT OR IGNORE INTO containers (id, pod_id, name, attempt, state, owner, creator_pid, creator_start, image_id, created_at, record) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)',
  );
  state.db
    .transaction(() => {
      for (const { rec: p } of pods) {
        const m = p.metadata;
        addPod.run(p.id, m.name, m.namespace, m.uid, m.attempt, p.state, p.owner, '', p.createdAt, JSON.stringify(p));
      }
      for (const { rec: c } of containers) {
        addContainer.run(c.id, c.sandboxId, c.metadata.name, c.metadata.attempt, c.state, c.owner, '', c.imageId, c.createdAt, JSON.stringify(c));
      }
    })
    .immediate();
  // The rows are committed: the files can go (a crash before this point imports again, ignored).
  for (const { file } of [...pods, ...containers]) fs.rmSync(file, { force: true });
  return { pods: pods.length, containers: containers.length };
}
