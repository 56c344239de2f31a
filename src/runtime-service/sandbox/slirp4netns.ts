/**
 * slirp4netns, the network of rootless pods (Debian package `slirp4netns`,
 * 1.2 here): a user-mode TCP/IP stack in a process of the host's network
 * namespace, joined to a pod's network namespace by a tap device (`tap0`,
 * 10.0.2.100/24, gateway 10.0.2.2, DNS forwarder 10.0.2.3), so a user
 * without privileges gets outbound connections and published ports. One
 * slirp4netns serves one pod: every container of the pod joins the pod's
 * network namespace and so shares it. Ports are published through its API
 * socket (`add_hostfwd`), which listens on the host's address and port and
 * forwards each connection to the pod.
 *
 * slirp4netns needs /dev/net/tun open for reading and writing by the user
 * (Debian makes it 0666; some machines have 0600: see docs/rootless.md).
 * It runs detached in its own session, outliving the command that started
 * it, until `stopSlirp4netns`; it writes to a log file only (a pipe would
 * break once its reader is gone).
 *
 * Its API (slirp4netns(1), "API SOCKET"): one JSON request per connection,
 * `{"execute": "add_hostfwd", "arguments": {"proto": "tcp", "host_addr":
 * "127.0.0.1", "host_port": 8080, "guest_port": 80}}`, answered with
 * `{"return": {"id": 1}}` or `{"error": {"desc": "…"}}`, then closed.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { PeapodError } from '../../common/errors';
import { spawnHostProcess } from '../../common/host/command';
import { isProcessAlive, killAndWait, killProcess, processStartTime, ProcessIdentity } from '../../common/host/proc';
import { findProgram } from '../../common/host/programs';

/** The pod's address on slirp4netns' network. */
export const SLIRP_GUEST_IP = '10.0.2.100';
/** The gateway (the host, when loopback is allowed). */
export const SLIRP_GATEWAY_IP = '10.0.2.2';
/** slirp4netns' DNS forwarder: a rootless pod's resolv.conf names it. */
export const SLIRP_DNS_IP = '10.0.2.3';
/** The MTU Podman and rootlesskit use (the fastest for slirp4netns). */
export const SLIRP_MTU = 65520;
/** Bytes of an API answer read at most. */
const MAX_API_ANSWER_BYTES = 64 * 1024;

/** slirp4netns cannot run or refused a request; the message names what is missing. */
export class Slirp4netnsError extends PeapodError {
  constructor(message: string, code: 'WRONG_STATE' | 'INTERNAL' | 'ALREADY_EXISTS' | 'INVALID_ARGUMENT' = 'INTERNAL', options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'Slirp4netnsError';
  }
}

/** A running slirp4netns: its identity and API socket. */
export interface Slirp4netnsProcess extends ProcessIdentity {
  apiSocket: string;
}

/** How a pod's slirp4netns is started. */
export interface Slirp4netnsOptions {
  /** The pod's network namespace (a pinned namespace file). */
  netns: string;
  /** Where its API socket is made (a path under 108 bytes: a unix socket's limit). */
  apiSocket: string;
  /** Its log (created or appended to). */
  logFile: string;
  /** Let the pod reach the host's loopback at 10.0.2.2 (default false, as Podman). */
  allowHostLoopback?: boolean;
  /** Also IPv6 (fd00::/64; default false). */
  enableIpv6?: boolean;
  /** The tun device checked before starting (default /dev/net/tun; slirp4netns itself opens that one). */
  tunDevice?: string;
  /** PATH to find slirp4netns in (default this process's). */
  pathEnv?: string;
  /** How long it may take to be ready, in ms (default 10 s). */
  timeoutMs?: number;
  /**
   * Called once it is spawned, with its identity, and awaited alongside its
   * readiness (e.g. to record it while it sets itself up, so the record is
   * written off the critical path); a rejection stops it and fails the start.
   */
  onSpawned?: (p: Slirp4netnsProcess) => Promise<void>;
}

/** Why slirp4netns cannot open the tun device here, naming it; undefined when it can. */
export function tunDeviceMissing(device = '/dev/net/tun'): string | undefined {
  if (!fs.existsSync(device)) return `there is no tun device ${device}: load the tun module (as root: modprobe tun)`;
  try {
    fs.accessSync(device, fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    const mode = (fs.statSync(device).mode & 0o777).toString(8).padStart(4, '0');
    return `the tun device ${device} is not open to this user (mode ${mode}), and slirp4netns needs it for a rootless pod network: as root, chmod 0666 ${device} (Debian's default; see docs/rootless.md), or use --network none or host`;
  }
  return undefined;
}

/** The last lines of a log file (at most 4 KiB), for error messages. */
function logTail(file: string): string {
  try {
    const fd = fs.openSync(file, 'r');
    try {
      const size = fs.fstatSync(fd).size;
      const len = Math.min(size, 4096);
      const buf = Buffer.alloc(len);
      fs.readSync(fd, buf, 0, len, size - len);
      return buf
        .toString('utf8')
        .split('\n')
        .filter((l) => l.trim() !== '' && !/^WARNING: Support for .* is experimental$/.test(l))
        .slice(-5)
        .join('; ');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    return '';
  }
}

/**
 * Starts slirp4netns for a pod's network namespace: tap0 configured with
 * 10.0.2.100/24, MTU 65520, host loopback refused unless allowed, its own
 * sandbox and seccomp filter, the API socket at `apiSocket`. Resolves once
 * slirp4netns says it is ready (its `--ready-fd`).
 * @returns its identity and API socket.
 * @throws Slirp4netnsError (WRONG_STATE) naming what is missing: the
 *   program, the tun device or the user's access to it; (INTERNAL) with its
 *   log when it fails otherwise. Nothing is left running after a failure.
 */
export async function startSlirp4netns(o: Slirp4netnsOptions): Promise<Slirp4netnsProcess> {
  const binary = findProgram('slirp4netns', o.pathEnv);
  if (!binary) throw new Slirp4netnsError('slirp4netns not found in PATH: install the slirp4netns package (the network of rootless pods), or use --network none or host', 'WRONG_STATE');
  const tun = tunDeviceMissing(o.tunDevice);
  if (tun) throw new Slirp4netnsError(tun, 'WRONG_STATE');
  fs.rmSync(o.apiSocket, { force: true });
  const args = [
    '--configure',
    `--mtu=${SLIRP_MTU}`,
    ...(o.allowHostLoopback ? [] : ['--disable-host-loopback']),
    ...(o.enableIpv6 ? ['--enable-ipv6'] : []),
    '--enable-sandbox',
    '--enable-seccomp',
    `--api-socket=${o.apiSocket}`,
    '--ready-fd=3',
    '--netns-type=path',
    o.netns,
    'tap0',
  ];
  const log = fs.openSync(o.logFile, 'a', 0o600);
  let child;
  try {
    child = spawnHostProcess(binary, args, { detached: true, cwd: '/', stdio: ['ignore', log, log, 'pipe'] });
  } finally {
    fs.closeSync(log);
  }
  const ready = child.stdio[3] as NodeJS.ReadableStream & { destroy(): void };
  const timeoutMs = o.timeoutMs ?? 10_000;
  // Its start time is fixed at the fork, so it is read at once (exec does not change it).
  const startTime = child.pid === undefined ? undefined : processStartTime(child.pid);
  try {
    const readiness = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready within ${timeoutMs} ms`)), timeoutMs);
      // Settles once: the exit listener stays (a HostProcess has no `off`) but is inert afterwards.
      let settled = false;
      const settle = (err?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const onExit = (code: number | null, signal: string | null): void => settle(new Error(`exited (${signal ?? `code ${code}`})`));
      ready.on('data', (d: Buffer) => {
        if (d.toString().includes('1')) settle();
      });
      child.once('exit', onExit);
      child.once('error', (e) => settle(e));
    });
    const spawned = startTime !== undefined && o.onSpawned ? o.onSpawned({ pid: child.pid!, startTime, apiSocket: o.apiSocket }) : undefined;
    await Promise.all([readiness, spawned]);
  } catch (err) {
    if (child.pid !== undefined) killProcess(child.pid, 'SIGKILL');
    const tail = logTail(o.logFile);
    const tunGone = /open\("\/dev\/net\/tun"\)|\/dev\/net\/tun/.test(tail) ? tunDeviceMissing(o.tunDevice) : undefined;
    throw new Slirp4netnsError(tunGone ?? `slirp4netns failed for network namespace ${o.netns}: ${(err as Error).message}${tail ? `: ${tail}` : ''}`, tunGone ? 'WRONG_STATE' : 'INTERNAL', { cause: err });
  }
  ready.destroy();
  child.unref();
  const proc = startTime === undefined ? undefined : { pid: child.pid!, startTime, apiSocket: o.apiSocket };
  if (!proc || !isProcessAlive(proc)) throw new Slirp4netnsError(`slirp4netns exited right after it was ready: ${logTail(o.logFile)}`);
  return proc;
}

/** One request to the API socket; resolves with the `return` object. */
function apiCall(socket: string, request: object, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const conn = net.createConnection(socket);
    const chunks: Buffer[] = [];
    let bytes = 0;
    const timer = setTimeout(() => conn.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    conn.on('connect', () => conn.end(JSON.stringify(request)));
    conn.on('data', (d: Buffer) => {
      bytes += d.length;
      if (bytes > MAX_API_ANSWER_BYTES) conn.destroy(new Error(`answer larger than ${MAX_API_ANSWER_BYTES} bytes`));
      else chunks.push(d);
    });
    conn.on('error', (e) => {
      clearTimeout(timer);
      reject(new Slirp4netnsError(`slirp4netns API ${socket}: ${e.message}`));
    });
    conn.on('close', (hadError) => {
      clearTimeout(timer);
      if (hadError) return;
      let answer: { return?: Record<string, unknown>; error?: { desc?: string } };
      try {
        answer = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof answer;
      } catch {
        return reject(new Slirp4netnsError(`slirp4netns API ${socket}: not a JSON answer: ${Buffer.concat(chunks).toString('utf8').slice(0, 200)}`));
      }
      if (answer.error) return reject(new Slirp4netnsError(answer.error.desc ?? JSON.stringify(answer.error)));
      resolve(answer.return ?? {});
    });
  });
}

/** A published port: connections to `hostIp:hostPort` go to the pod's `guestPort`. */
export interface HostForward {
  proto: 'tcp' | 'udp';
  /** The host address to listen on (default 0.0.0.0: every address). */
  hostIp?: string;
  hostPort: number;
  guestPort: number;
}

/**
 * Publishes a port of the pod on the host (`add_hostfwd`).
 * @returns the forward's ID (for removeHostForward).
 * @throws Slirp4netnsError (INVALID_ARGUMENT) for ports outside 1-65535;
 *   (ALREADY_EXISTS) naming the address when slirp4netns cannot listen there
 *   (in use, or below the unprivileged port floor); (INTERNAL) when the API fails.
 */
export async function addHostForward(apiSocket: string, f: HostForward): Promise<number> {
  for (const [name, port] of [['hostPort', f.hostPort], ['guestPort', f.guestPort]] as const) {
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Slirp4netnsError(`${name} ${port} is not a port (1-65535)`, 'INVALID_ARGUMENT');
  }
  const hostIp = f.hostIp || '0.0.0.0';
  try {
    const ret = await apiCall(apiSocket, { execute: 'add_hostfwd', arguments: { proto: f.proto, host_addr: hostIp, host_port: f.hostPort, guest_addr: SLIRP_GUEST_IP, guest_port: f.guestPort } });
    return Number(ret.id);
  } catch (err) {
    if (err instanceof Slirp4netnsError && /slirp_add_hostfwd failed/.test(err.message)) {
      let floor = '';
      try {
        floor = fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8').trim();
      } catch {
        // unknown
      }
      const low = floor !== '' && f.hostPort < Number(floor) ? `; ports below ${floor} need root (sysctl net.ipv4.ip_unprivileged_port_start)` : '';
      throw new Slirp4netnsError(`cannot publish ${f.proto} port ${hostIp}:${f.hostPort}: it is in use or not allowed${low}`, 'ALREADY_EXISTS', { cause: err });
    }
    throw err;
  }
}

/** The published ports (`list_hostfwd`), with their IDs. */
export async function listHostForwards(apiSocket: string): Promise<(HostForward & { id: number })[]> {
  const ret = await apiCall(apiSocket, { execute: 'list_hostfwd' });
  const entries = (ret.entries as { id: number; proto: 'tcp' | 'udp'; host_addr: string; host_port: number; guest_port: number }[] | undefined) ?? [];
  return entries.map((e) => ({ id: e.id, proto: e.proto, hostIp: e.host_addr, hostPort: e.host_port, guestPort: e.guest_port }));
}

/** Withdraws a published port (`remove_hostfwd`). */
export async function removeHostForward(apiSocket: string, id: number): Promise<void> {
  await apiCall(apiSocket, { execute: 'remove_hostfwd', arguments: { id } });
}

/**
 * Stops a pod's slirp4netns (SIGTERM, then SIGKILL after `graceMs`) and
 * removes its API socket; one already gone is fine. Resolves once it is
 * gone, so its published ports are free again.
 */
export async function stopSlirp4netns(p: Slirp4netnsProcess, graceMs = 5_000): Promise<void> {
  const left = await killAndWait([p], graceMs, 'SIGTERM');
  await killAndWait(left, graceMs);
  fs.rmSync(p.apiSocket, { force: true });
}
