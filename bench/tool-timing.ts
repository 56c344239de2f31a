/**
 * Timing wrappers for the external tools a runtime drives (runc, conmon, CNI
 * plugins), to split an RPC's wall time between the tools and the runtime's
 * own code. Each wrapper is a shell script that runs the real binary with
 * the same argv, stdio and environment, and appends one line to a log:
 *
 *   <tool> <start ns> <end ns> <CNI_COMMAND or -> <argv>
 *
 * The wrappers add a fork of `sh` and two `date` calls (about 2 ms) to every
 * call, so a run with wrappers is for attribution, not for the table.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where the wrappers are and how to point each runtime at them. */
export interface ToolWrappers {
  /** Holds `runc`, `conmon` and one wrapper per CNI plugin of /usr/lib/cni. */
  dir: string;
  /** The log file the wrappers append to. */
  logFile: string;
}

function wrapper(real: string, name: string, logFile: string): string {
  return `#!/bin/sh
s=$(date +%s%N)
${real} "$@"
rc=$?
e=$(date +%s%N)
echo "${name} $s $e \${CNI_COMMAND:--} $*" >> ${logFile}
exit $rc
`;
}

/** Writes wrappers for /usr/sbin/runc, /usr/bin/conmon and every plugin in /usr/lib/cni under `dir`. */
export function makeToolWrappers(dir: string): ToolWrappers {
  fs.mkdirSync(dir, { recursive: true });
  const logFile = path.join(dir, 'tools.log');
  fs.writeFileSync(logFile, '');
  const tools: [string, string][] = [
    ['/usr/sbin/runc', 'runc'],
    ['/usr/bin/conmon', 'conmon'],
    ...fs.readdirSync('/usr/lib/cni').map((p): [string, string] => [path.join('/usr/lib/cni', p), p]),
  ];
  for (const [real, name] of tools) fs.writeFileSync(path.join(dir, name), wrapper(real, name === 'runc' || name === 'conmon' ? name : `cni:${name}`, logFile), { mode: 0o755 });
  return { dir, logFile };
}

/** Total milliseconds and call count per tool (and per first argument for runc) in a wrapper log. */
export function summarizeToolLog(text: string): Record<string, { calls: number; ms: number }> {
  const out: Record<string, { calls: number; ms: number }> = {};
  const RUNC_VERBS = new Set(['create', 'start', 'kill', 'delete', 'exec', 'state', 'list', 'ps', 'update', 'pause', 'resume', 'events', 'features', '--version']);
  for (const line of text.split('\n')) {
    const [tool, s, e, cniCommand, ...args] = line.split(' ');
    if (!tool || !s || !e) continue;
    let key = tool;
    if (tool === 'runc') key = `runc ${args.find((a) => RUNC_VERBS.has(a)) ?? '?'}`;
    else if (tool.startsWith('cni:')) key = `${tool} ${cniCommand}`;
    const ms = Number(BigInt(e) - BigInt(s)) / 1e6;
    const cur = (out[key] ??= { calls: 0, ms: 0 });
    cur.calls++;
    cur.ms += ms;
  }
  return out;
}
