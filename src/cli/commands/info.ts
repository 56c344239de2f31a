/**
 * `peapod info`: the host, the store (paths, image and container counts, space), the
 * registries configuration and the versions of the tools peapod drives
 * (runc, conmon), as YAML like `podman info`, or JSON / a Go template with
 * `--format` (JSON keys are camelCase; templates may name them as Podman's
 * fields, `{{.Store.GraphRoot}}`).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import type { CliContext } from '../context';
import { insideUserNamespace, isRootless } from '../rootless-mode';
import { renderObject } from '../output/write';
import { toYaml } from '../output/yaml';
import { type ContainerCounts, containerCounts } from '../containers/usage';
import type { ContainerRecord } from '../../runtime-service/container/record';
import { versionInfo } from './version';

/** First lines of `<bin> --version` (5 s at most), or the error. */
function toolVersion(bin: string): Promise<string> {
  return new Promise((resolve) => {
    execFile(bin, ['--version'], { timeout: 5000, maxBuffer: 64 * 1024 }, (err, stdout) => {
      resolve(err ? `unavailable: ${err.message.split('\n')[0]}` : stdout.trim());
    });
  });
}

function cgroupVersion(): string {
  try {
    return fs.statfsSync('/sys/fs/cgroup').type === 0x63677270 ? 'v2' : 'v1';
  } catch {
    return 'unknown';
  }
}

/** The user namespace's maps as Podman's `info` shows them (`container_id`, `host_id`, `size`). */
function idMappings(): { uidmap: object[]; gidmap: object[] } {
  const { readIdMapping } = require('../../common/userns') as typeof import('../../common/userns');
  const m = readIdMapping();
  const rows = (r: { inside: number; outside: number; count: number }[]): object[] => r.map((x) => ({ container_id: x.inside, host_id: x.outside, size: x.count }));
  return { uidmap: rows(m.uids), gidmap: rows(m.gids) };
}

/**
 * The CLI's containers and pods by state (info's `store.containerStore` and
 * `store.podStore`), as they are now (exits read, lost pods seen), read-only.
 * Pods: all of them, those Running or Degraded (a container or the pod
 * itself running), the others.
 */
async function storeNumbers(ctx: CliContext): Promise<{ containers: ContainerCounts; pods: { number: number; running: number; stopped: number } }> {
  const { listPods, podStatus } = require('../pods') as typeof import('../pods');
  const view = ctx.podsView();
  const all: ContainerRecord[] = [];
  for (const c of view.containers.list()) all.push(c.state === 'exited' ? c : await view.containers.refresh(c.id).catch(() => c));
  const pods = listPods(view);
  let running = 0;
  for (const p of pods) if (['Running', 'Degraded'].includes(podStatus(view.sandboxes.refresh(p), all.filter((c) => c.sandboxId === p.id)))) running++;
  return { containers: containerCounts(all), pods: { number: pods.length, running, stopped: pods.length - running } };
}

/** Runs `info`. */
export async function run(ctx: CliContext, _args: string[], o: { format?: string }): Promise<number> {
  const config = ctx.config;
  const { store } = ctx.images;
  const handler = config.runtime.runtimes[config.runtime.default_runtime];
  const [runcVersion, conmonVersion] = await Promise.all([toolVersion(handler.runtime_path), toolVersion(config.runtime.conmon_path)]);
  let fsStats: { graphRootAllocated?: number; graphRootUsed?: number } = {};
  try {
    const s = fs.statfsSync(store.root);
    fsStats = { graphRootAllocated: s.blocks * s.bsize, graphRootUsed: (s.blocks - s.bfree) * s.bsize };
  } catch {
    // not reported
  }
  const { loadRegistriesConf } = require('../../image-service/registries-conf') as typeof import('../../image-service/registries-conf');
  let search: string[] = [];
  try {
    search = loadRegistriesConf(config.image.registries_conf, config.image.registries_conf_dir).unqualifiedSearchRegistries;
  } catch (err) {
    ctx.log.warn({ error: (err as Error).message }, 'registries.conf unreadable');
  }
  const v = versionInfo();
  const numbers = await storeNumbers(ctx);
  const info = {
    host: {
      arch: v.OsArch.split('/')[1],
      os: process.platform,
      kernel: os.release(),
      hostname: os.hostname(),
      cpus: os.cpus().length,
      memTotal: os.totalmem(),
      memFree: os.freemem(),
      cgroupManager: config.runtime.cgroup_driver,
      cgroupVersion: cgroupVersion(),
      ociRuntime: { name: config.runtime.default_runtime, path: handler.runtime_path, version: runcVersion },
      conmon: { path: config.runtime.conmon_path, version: conmonVersion },
      rootless: isRootless(),
      ...(insideUserNamespace() ? { idMappings: idMappings() } : {}),
    },
    registries: { search },
    store: {
      configFile: ctx.globals.config ?? (isRootless() ? (require('../config') as typeof import('../config')).rootlessPaths().configFile : '/etc/peapod/peapod.conf'),
      graphDriverName: 'overlay',
      graphRoot: store.root,
      runRoot: config.runroot,
      ...fsStats,
      imageStore: { number: store.list().length },
      containerStore: numbers.containers,
      podStore: numbers.pods,
    },
    version: { Version: v.Version, NodeVersion: v.NodeVersion, OsArch: v.OsArch },
  };
  ctx.io.stdout.write(o.format === undefined ? toYaml(info) : renderObject(o.format, info));
  return 0;
}
