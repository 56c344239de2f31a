import * as fs from 'node:fs';

/** An RFC 1123 DNS label: lowercase alphanumerics and '-', at most 63 characters. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Maximum length of a hostname label (RFC 1123). */
export const MAX_HOSTNAME_LENGTH = 63;

/**
 * Checks a pod hostname.
 * @returns null when valid, else why not (for INVALID_ARGUMENT).
 */
export function hostnameProblem(hostname: string): string | null {
  if (hostname.length > MAX_HOSTNAME_LENGTH) return `hostname "${hostname}" is longer than ${MAX_HOSTNAME_LENGTH} characters`;
  if (!DNS_LABEL.test(hostname)) return `hostname "${hostname}" is not an RFC 1123 label (lowercase letters, digits and '-', starting and ending alphanumeric)`;
  return null;
}

/** The DNS settings of a pod (CRI DNSConfig). */
export interface DnsSettings {
  servers: string[];
  searches: string[];
  options: string[];
}

/**
 * Renders /etc/resolv.conf from a CRI DNSConfig: one `nameserver` line per
 * server, a `search` line and an `options` line when given.
 */
export function renderResolvConf(dns: DnsSettings): string {
  const lines = dns.servers.map((s) => `nameserver ${s}`);
  if (dns.searches.length) lines.push(`search ${dns.searches.join(' ')}`);
  if (dns.options.length) lines.push(`options ${dns.options.join(' ')}`);
  return lines.join('\n') + '\n';
}

/**
 * Renders the pod's /etc/hosts: the loopback names and, when the pod has IPs,
 * one line per IP naming the hostname.
 */
export function renderHosts(hostname: string, ips: string[]): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'fe00::0\tip6-mcastprefix',
    'fe00::1\tip6-allnodes',
    'fe00::2\tip6-allrouters',
  ];
  for (const ip of ips) lines.push(`${ip}\t${hostname}`);
  return lines.join('\n') + '\n';
}

/** Reads a host file (e.g. /etc/resolv.conf), or '' when it is absent. */
export function readHostFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
