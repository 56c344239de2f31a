/**
 * Processes of the host, from /proc: pid files, start times (which tell a
 * live process from a dead one whose pid was reused), children, trees, and
 * signals that ignore a process already gone.
 */
import * as fs from 'node:fs';

/** A process as peapod identifies it across time: its pid and kernel start time. */
export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: start time in clock ticks after boot. */
  startTime: string;
}

/** Fields of /proc/<pid>/stat after the command name: [state, ppid, …]; undefined when gone. */
function statFields(pid: number): string[] | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Kernel start time of a process (clock ticks after boot), or undefined when it is gone. */
export function processStartTime(pid: number): string | undefined {
  return statFields(pid)?.[19];
}

/** This process's identity. */
export function selfIdentity(): ProcessIdentity {
  const startTime = processStartTime(process.pid);
  if (startTime === undefined) throw new Error('cannot read /proc/self/stat');
  return { pid: process.pid, startTime };
}

/**
 * True when the process is still running: it exists, is not a zombie, and
 * its start time is the one recorded (so a reused pid is not mistaken for it).
 */
export function isProcessAlive(proc: ProcessIdentity): boolean {
  const f = statFields(proc.pid);
  return f !== undefined && f[0] !== 'Z' && f[0] !== 'X' && f[19] === proc.startTime;
}

/** Reads a pid file; undefined when absent, empty or not a positive number. */
export function readPid(file: string): number | undefined {
  try {
    const n = Number.parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * readPid through the thread pool: for a request path, where opening a file
 * just written may wait on the file system's journal (its access time is
 * updated, relatime) and must not stall the event loop meanwhile.
 * @returns the pid; undefined when absent, empty or not a positive number
 */
export async function readPidAsync(file: string): Promise<number | undefined> {
  try {
    const n = Number.parseInt((await fs.promises.readFile(file, 'utf8')).trim(), 10);
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sends `signal` to `pid`, ignoring a process that is already gone (ESRCH).
 * @returns true when the signal was delivered.
 * @throws the error of any other failure (e.g. EPERM).
 */
export function killProcess(pid: number, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
}

/** The children of `pid` (from /proc/<pid>/task/<pid>/children). */
export function childrenOf(pid: number): number[] {
  try {
    return fs
      .readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter((s) => s.trim() !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/** The pids of `pid` and all its descendants (from /proc/<pid>/task/<tid>/children), parents first. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const visit = (p: number): void => {
    if (out.includes(p)) return;
    out.push(p);
    let tasks: string[] = [];
    try {
      tasks = fs.readdirSync(`/proc/${p}/task`);
    } catch {
      return;
    }
    for (const t of tasks) {
      let children = '';
      try {
        children = fs.readFileSync(`/proc/${p}/task/${t}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of children.trim().split(/\s+/)) if (c) visit(Number(c));
    }
  };
  visit(pid);
  return out;
}

/**
 * The live processes one of whose arguments is exactly `arg` (from
 * /proc/<pid>/cmdline), this process excepted: how peapod finds the helpers
 * it started for a container or a pod when no pid was recorded (a crash
 * between starting one and writing its pid). Use a unique argument, such as
 * a 64-hex-digit ID. Reads /proc without blocking the event loop.
 */
export async function processesWithArgument(arg: string): Promise<ProcessIdentity[]> {
  let pids: string[];
  try {
    pids = (await fs.promises.readdir('/proc')).filter((n) => /^[0-9]+$/.test(n) && Number(n) !== process.pid);
  } catch {
    return [];
  }
  const wanted = Buffer.from(arg);
  const found: ProcessIdentity[] = [];
  await Promise.all(
    pids.map(async (p) => {
      let cmdline: Buffer;
      try {
        cmdline = await fs.promises.readFile(`/proc/${p}/cmdline`);
      } catch {
        return;
      }
      let start = 0;
      while (start < cmdline.length) {
        let end = cmdline.indexOf(0, start);
        if (end < 0) end = cmdline.length;
        if (end - start === wanted.length && cmdline.subarray(start, end).equals(wanted)) {
          const startTime = processStartTime(Number(p));
          if (startTime !== undefined) found.push({ pid: Number(p), startTime });
          return;
        }
        start = end + 1;
      }
    }),
  );
  return found;
}

/**
 * Sends `signal` (SIGKILL unless named) to the processes and waits until
 * each is gone (exited and reaped, a zombie, or its pid reused: none runs
 * anything of ours any more), at most `timeoutMs` milliseconds. A process
 * already gone, or a pid now used by another process, is left alone.
 * The one implementation of "signal, then wait for the pid to be gone" for
 * conmon (teardown.ts), a pod's infra process (killInfra) and slirp4netns
 * (stopSlirp4netns: SIGTERM, then SIGKILL for what is left).
 * The wait looks again after 1 ms, then doubles the pause up to 20 ms: a
 * signalled process is usually gone within a millisecond or two, and a
 * fixed 20 ms poll made that the cost of every container removal and pod
 * stop, e.g. of each `peapod run --rm` (a /proc read per process per look).
 * @returns the processes still alive at the deadline (normally none; with
 *   a signal that can be caught, those that ignored it).
 * @throws the error of a kill that fails other than ESRCH (e.g. EPERM).
 */
export async function killAndWait(procs: readonly ProcessIdentity[], timeoutMs = 5000, signal: NodeJS.Signals = 'SIGKILL'): Promise<ProcessIdentity[]> {
  for (const p of procs) if (isProcessAlive(p)) killProcess(p.pid, signal);
  const deadline = Date.now() + timeoutMs;
  let alive = procs.filter(isProcessAlive);
  for (let pause = 1; alive.length > 0 && Date.now() < deadline; pause = Math.min(pause * 2, 20)) {
    await new Promise((r) => setTimeout(r, pause));
    alive = alive.filter(isProcessAlive);
  }
  return alive;
}
