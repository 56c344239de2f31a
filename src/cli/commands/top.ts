/**
 * `peapod top CONTAINER [DESCRIPTORS...]`: the processes of a running
 * container, as Podman's top prints them (its AIX-style descriptors:
 * user pid ppid pcpu etime tty time args by default; also comm, group,
 * vsz, rss, nice, state, hpid, huser), from /proc and the container's
 * cgroup. PIDs are the container's; names come from its /etc/passwd.
 */
import type { ContainerProcess } from '../../runtime-service/container/processes';
import type { CliContext } from '../context';
import { CliError, EXIT_ENGINE } from '../errors';
import { mustFindContainer } from '../containers/lookup';
import { formatTable } from '../output/template';

/** Go's time.Duration text: 4m31.311009969s, 0s, 1.5s. */
export function goDuration(seconds: number): string {
  if (seconds <= 0) return '0s';
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds - h * 3600 - m * 60;
  const sText = `${Number(s.toFixed(9))}s`;
  return `${h ? `${h}h` : ''}${h || m ? `${m}m` : ''}${sText}`;
}

const HEADERS: Record<string, string> = { user: 'USER', pid: 'PID', ppid: 'PPID', pcpu: '%CPU', etime: 'ELAPSED', tty: 'TTY', time: 'TIME', args: 'COMMAND', comm: 'COMMAND', group: 'GROUP', vsz: 'VSZ', rss: 'RSS', nice: 'NI', state: 'STATE', hpid: 'HPID', huser: 'HUSER' };
const DEFAULT = ['user', 'pid', 'ppid', 'pcpu', 'etime', 'tty', 'time', 'args'];

/** Runs `top`. */
export async function run(ctx: CliContext, args: string[]): Promise<number> {
  const { containerProcesses, uptimeSeconds, CLOCK_TICKS } = require('../../runtime-service/container/processes') as typeof import('../../runtime-service/container/processes');
  const { readInRoot, parsePasswd, parseGroup } = require('../../runtime-service/oci/user') as typeof import('../../runtime-service/oci/user');
  const [ref, ...wanted] = args;
  const descriptors = (wanted.length ? wanted.flatMap((w) => w.split(',')) : DEFAULT).map((d) => d.trim().toLowerCase()).filter(Boolean);
  for (const d of descriptors) if (!HEADERS[d]) throw new CliError(`unknown descriptor: ${d} (known: ${Object.keys(HEADERS).join(', ')})`, EXIT_ENGINE);
  const rec = mustFindContainer(ctx.containerStore(), ref);
  const now = await ctx.containerEngine().refresh(rec.id);
  if (now.state !== 'running') throw new CliError(`top can only be used on running containers: container state improper`, EXIT_ENGINE);
  const users = parsePasswd(readInRoot(now.rootfs, '/etc/passwd') ?? '');
  const groups = parseGroup(readInRoot(now.rootfs, '/etc/group') ?? '');
  const uptime = uptimeSeconds();
  const value = (p: ContainerProcess, d: string): string => {
    const elapsed = Math.max(0, uptime - p.startTicks / CLOCK_TICKS);
    switch (d) {
      case 'user':
        return users.find((u) => u.uid === p.uid)?.name ?? String(p.uid);
      case 'huser':
        return String(p.uid);
      case 'group':
        return groups.find((g) => g.gid === p.gid)?.name ?? String(p.gid);
      case 'pid':
        return String(p.pid);
      case 'hpid':
        return String(p.hostPid);
      case 'ppid':
        return String(p.ppid);
      case 'pcpu':
        return elapsed > 0 ? ((p.cpuTicks / CLOCK_TICKS / elapsed) * 100).toFixed(3) : '0.000';
      case 'etime':
        return goDuration(elapsed);
      case 'tty':
        return p.ttyNr === 0 ? '?' : `pts/${(p.ttyNr & 0xff) | ((p.ttyNr >> 12) & 0xfff00)}`;
      case 'time':
        return goDuration(p.cpuTicks / CLOCK_TICKS);
      case 'args':
        return p.args.join(' ');
      case 'comm':
        return p.comm;
      case 'vsz':
        return String(p.vszKiB);
      case 'rss':
        return String(p.rssKiB);
      case 'nice':
        return String(p.nice);
      default:
        return p.state;
    }
  };
  const rows = containerProcesses(now.pid).map((p) => Object.fromEntries(descriptors.map((d) => [d, value(p, d)])));
  const headers = Object.fromEntries(descriptors.map((d) => [d, HEADERS[d]]));
  ctx.io.stdout.write(formatTable(descriptors.map((d) => `{{.${d}}}`).join('\t'), rows, headers));
  return 0;
}
