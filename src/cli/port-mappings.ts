/**
 * `-p`/`--publish` as Podman reads it: `[[ip:][hostPort]:]containerPort[/protocol]`,
 * each port possibly a range (`8000-8009:80-89`), an IPv6 host IP in
 * brackets (`[::1]:8080:80`), protocol tcp (default), udp or sctp. A host
 * port left out is picked free by the kernel (what Podman does). The
 * result is the CNI portmap plugin's mappings (SandboxSpec.portMappings).
 */
import * as net from 'node:net';
import type { CniPortMapping } from '../runtime-service/cni/runtime-config';
import { CliError, EXIT_ENGINE } from './errors';

/** The most mappings one command may ask for (ranges counted port by port). */
export const MAX_PORT_MAPPINGS = 1024;

const PROTOCOLS = ['tcp', 'udp', 'sctp'];

/** One `-p` value before host ports are picked: host port 0 means "pick one". */
interface Wanted {
  hostIP: string;
  hostPort: number;
  containerPort: number;
  protocol: string;
}

function bad(value: string, why: string): CliError {
  return new CliError(`--publish "${value}": ${why}`, EXIT_ENGINE);
}

/** `80` or `80-89` → [first, last]. */
function portRange(text: string, value: string, what: string): [number, number] {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) throw bad(value, `${what} "${text}" is not a port or a range of ports`);
  const first = Number(m[1]);
  const last = m[2] === undefined ? first : Number(m[2]);
  for (const p of [first, last]) if (p < 1 || p > 65535) throw bad(value, `${what} ${p} is not between 1 and 65535`);
  if (last < first) throw bad(value, `${what} range ${text} ends before it starts`);
  return [first, last];
}

/**
 * Parses the `-p` values (no host ports picked yet).
 * @throws CliError (125) naming the value for any malformed part, a range
 *   mismatch, or more than MAX_PORT_MAPPINGS mappings.
 */
export function parsePublish(values: string[]): Wanted[] {
  const out: Wanted[] = [];
  for (const value of values) {
    let rest = value;
    let protocol = 'tcp';
    const slash = rest.lastIndexOf('/');
    if (slash >= 0) {
      protocol = rest.slice(slash + 1).toLowerCase();
      rest = rest.slice(0, slash);
      if (!PROTOCOLS.includes(protocol)) throw bad(value, `protocol "${protocol}" is not one of ${PROTOCOLS.join(', ')}`);
    }
    let hostIP = '';
    const v6 = /^\[([0-9a-fA-F:.]+)\]:(.*)$/.exec(rest);
    if (v6) {
      hostIP = v6[1];
      rest = v6[2];
      if (net.isIPv6(hostIP) === false) throw bad(value, `"${hostIP}" is not an IPv6 address`);
    }
    const parts = rest.split(':');
    if (parts.length > (v6 ? 2 : 3) || parts[parts.length - 1] === '') throw bad(value, 'expected [[ip:][hostPort]:]containerPort[/protocol]');
    if (!v6 && parts.length === 3) {
      hostIP = parts.shift()!;
      if (hostIP !== '' && net.isIP(hostIP) === 0) throw bad(value, `"${hostIP}" is not an IP address`);
    }
    const [cFirst, cLast] = portRange(parts[parts.length - 1], value, 'container port');
    const hostText = parts.length === 2 ? parts[0] : '';
    const count = cLast - cFirst + 1;
    let hFirst = 0;
    if (hostText !== '') {
      const [a, b] = portRange(hostText, value, 'host port');
      if (b - a + 1 !== count) throw bad(value, `the host range has ${b - a + 1} ports and the container range ${count}`);
      hFirst = a;
    }
    if (out.length + count > MAX_PORT_MAPPINGS) throw new CliError(`--publish: more than ${MAX_PORT_MAPPINGS} port mappings`, EXIT_ENGINE);
    for (let i = 0; i < count; i++) out.push({ hostIP, hostPort: hFirst === 0 ? 0 : hFirst + i, containerPort: cFirst + i, protocol });
  }
  return out;
}

/** A port the kernel considers free on `ip` (TCP; bound and closed at once). */
function freePort(ip: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: ip || '0.0.0.0', exclusive: true }, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The `-p` values as CNI port mappings, host ports left out picked free.
 * @throws CliError (125) as parsePublish does, or when no free port can be had.
 */
export async function portMappingsOf(values: string[]): Promise<CniPortMapping[]> {
  const wanted = parsePublish(values);
  const out: CniPortMapping[] = [];
  for (const w of wanted) {
    let hostPort = w.hostPort;
    if (hostPort === 0) {
      try {
        hostPort = await freePort(w.hostIP);
      } catch (err) {
        throw new CliError(`--publish: no free host port for container port ${w.containerPort}: ${(err as Error).message}`, EXIT_ENGINE);
      }
    }
    out.push({ hostPort, containerPort: w.containerPort, protocol: w.protocol, ...(w.hostIP ? { hostIP: w.hostIP } : {}) });
  }
  return out;
}

/** Podman's PortBindings view: `{"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}`. */
export function portBindings(mappings: CniPortMapping[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const m of mappings) (out[`${m.containerPort}/${m.protocol}`] ??= []).push({ HostIp: m.hostIP ?? '', HostPort: String(m.hostPort) });
  return out;
}
