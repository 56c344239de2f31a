/**
 * `peapod stats [--no-stream] [-a] [--format F] [CONTAINER...]`: resource
 * usage of running containers, as Podman's columns: CPU % (since the last
 * sample; with --no-stream since the container started), memory usage /
 * limit (the host's memory when unlimited) and %, network and block I/O,
 * PIDs, CPU time, average CPU %. Without --no-stream it samples every
 * second until interrupted, redrawing on a terminal.
 */
import * as os from 'node:os';
import type { ContainerRecord } from '../../runtime-service/container/record';
import type { CliContext } from '../context';
import { mustFindContainer } from '../containers/lookup';
import { nsToMs } from '../containers/view';
import { humanSize } from '../output/units';
import { renderListing } from '../output/write';
import { goDuration } from './top';

/** Flags of `stats`. */
export interface StatsOptions {
  all?: boolean;
  format?: string;
  noStream?: boolean;
}

/** One row (Podman's template fields). */
export interface StatsRow {
  ID: string;
  Name: string;
  CPUPerc: string;
  MemUsage: string;
  MemPerc: string;
  NetIO: string;
  BlockIO: string;
  PIDs: string;
  CPU: number;
  CPUTime: string;
  AvgCPU: string;
}

const HEADERS: Record<string, string> = { ID: 'ID', Name: 'NAME', CPUPerc: 'CPU %', MemUsage: 'MEM USAGE / LIMIT', MemPerc: 'MEM %', NetIO: 'NET IO', BlockIO: 'BLOCK IO', PIDs: 'PIDS', CPUTime: 'CPU TIME', AvgCPU: 'AVG CPU %' };
const COLUMNS = '{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}\t{{.CPUTime}}\t{{.AvgCPU}}';

/** A CPU sample: ns of CPU used, at ns wall time. */
interface Sample {
  cpuNs: number;
  atMs: number;
}

/** Measures one container; `prev` is its last sample (CPU % since then). */
function measure(rec: ContainerRecord, prev: Sample | undefined): { row: StatsRow; sample: Sample } {
  const { cgroupUsage, networkUsage } = require('../../runtime-service/container/stats') as typeof import('../../runtime-service/container/stats');
  const { cgroupExtras } = require('../../runtime-service/container/processes') as typeof import('../../runtime-service/container/processes');
  const u = cgroupUsage(rec.pid);
  const x = cgroupExtras(rec.pid);
  const cpuNs = Number(u.cpuUsageNs ?? 0n);
  const atMs = Date.now();
  const started = nsToMs(rec.startedAt) || atMs;
  const since = prev ?? { cpuNs: 0, atMs: started };
  const pct = (n: number): string => `${n.toFixed(2)}%`;
  const cpuPerc = atMs > since.atMs ? ((cpuNs - since.cpuNs) / 1e6 / (atMs - since.atMs)) * 100 : 0;
  const avg = atMs > started ? (cpuNs / 1e6 / (atMs - started)) * 100 : 0;
  const mem = Number(u.memoryWorkingSetBytes ?? u.memoryUsageBytes ?? 0n);
  const limit = Math.min(x.memoryLimitBytes ?? Infinity, os.totalmem());
  let rx = 0;
  let tx = 0;
  for (const n of networkUsage(rec.pid)) {
    rx += Number(n.rxBytes);
    tx += Number(n.txBytes);
  }
  return {
    sample: { cpuNs, atMs },
    row: {
      ID: rec.id.slice(0, 12),
      Name: rec.metadata.name,
      CPUPerc: pct(cpuPerc),
      MemUsage: `${humanSize(mem).replace(' ', '')} / ${humanSize(limit).replace(' ', '')}`,
      MemPerc: pct(limit > 0 ? (mem / limit) * 100 : 0),
      NetIO: `${humanSize(rx).replace(' ', '')} / ${humanSize(tx).replace(' ', '')}`,
      BlockIO: `${humanSize(x.blockReadBytes ?? 0).replace(' ', '')} / ${humanSize(x.blockWriteBytes ?? 0).replace(' ', '')}`,
      PIDs: String(x.pids ?? 0),
      CPU: cpuPerc,
      CPUTime: goDuration(cpuNs / 1e9),
      AvgCPU: pct(avg),
    },
  };
}

/** Runs `stats`. */
export async function run(ctx: CliContext, args: string[], o: StatsOptions): Promise<number> {
  const store = ctx.containerStore();
  const engine = ctx.containerEngine();
  const pick = async (): Promise<ContainerRecord[]> => {
    const recs = args.length ? args.map((ref) => mustFindContainer(store, ref)) : store.list().filter((r) => o.all || r.state === 'running');
    const out: ContainerRecord[] = [];
    for (const r of recs) out.push(await engine.refresh(r.id));
    return out.filter((r) => r.state === 'running');
  };
  const prev = new Map<string, Sample>();
  const render = (rows: StatsRow[]): string => renderListing(o.format, { rows, headers: HEADERS, defaultColumns: COLUMNS });
  for (;;) {
    const rows = (await pick()).map((r) => {
      const m = measure(r, prev.get(r.id));
      prev.set(r.id, m.sample);
      return m.row;
    });
    const text = render(rows);
    if (o.noStream) {
      ctx.io.stdout.write(text);
      return 0;
    }
    ctx.io.stdout.write((ctx.io.stdout.isTTY ? '\x1b[2J\x1b[H' : '') + text);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
