import * as net from 'node:net';

/**
 * The pod IPs of a CNI result: for 0.3.0 and later the `ips` entries whose
 * `interface` is a sandbox interface (or that name none), for 0.1/0.2 the
 * `ip4.ip`/`ip6.ip` fields. Addresses are returned without their prefix
 * length, IPv4 first, in result order otherwise.
 */
export function podIpsOfResult(result: unknown): string[] {
  if (typeof result !== 'object' || result === null) return [];
  const r = result as {
    ips?: Array<{ address?: string; interface?: number }>;
    interfaces?: Array<{ sandbox?: string }>;
    ip4?: { ip?: string };
    ip6?: { ip?: string };
  };
  const addresses: string[] = [];
  if (Array.isArray(r.ips)) {
    for (const ip of r.ips) {
      if (typeof ip.address !== 'string') continue;
      const iface = typeof ip.interface === 'number' ? r.interfaces?.[ip.interface] : undefined;
      if (iface && !iface.sandbox) continue;
      addresses.push(ip.address);
    }
  } else {
    if (typeof r.ip4?.ip === 'string') addresses.push(r.ip4.ip);
    if (typeof r.ip6?.ip === 'string') addresses.push(r.ip6.ip);
  }
  const ips = addresses.map((a) => a.split('/')[0]).filter((a) => net.isIP(a) !== 0);
  return [...ips.filter((a) => net.isIPv4(a)), ...ips.filter((a) => net.isIPv6(a))];
}
