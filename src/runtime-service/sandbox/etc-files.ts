import * as fs from 'node:fs';
import { quoteInput } from '../../common/bounded-text';
import { INPUT_LIMITS } from '../../common/input-limits';

/** An RFC 1123 DNS label as Kubernetes defines it: lowercase alphanumerics and '-', starting and ending alphanumeric. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Maximum length of one label of a hostname (RFC 1123). */
export const MAX_LABEL_LENGTH = 63;

/**
 * Maximum length of a pod hostname: the kernel's nodename field holds 64
 * bytes (__NEW_UTS_LEN), and the kubelet refuses longer FQDNs itself when
 * it sets one as the hostname (setHostnameAsFQDN; kubernetes
 * pkg/kubelet/util GetNodenameForKernel, fqdnMaxLen = 64).
 */
export const MAX_HOSTNAME_LENGTH = INPUT_LIMITS.hostname;

/**
 * Checks a pod hostname: an RFC 1123 subdomain as Kubernetes defines it
 * (dot-separated labels, each lowercase alphanumerics and '-', starting and
 * ending alphanumeric, at most 63 characters), at most 64 characters in
 * all (bytes and characters are one: only ASCII is valid; the CRI
 * front end checks the same bound first, docs/security.md). A single label is the usual pod hostname; the kubelet sends the
 * pod's FQDN (`web-0.web.default.svc.cluster.local`) when the pod sets
 * setHostnameAsFQDN. CRI-O and containerd check nothing and leave it to
 * sethostname(2), which takes any 64 bytes; peapod refuses what no kubelet
 * sends, with the reason.
 * @returns null when valid, else why not (for INVALID_ARGUMENT).
 */
export function hostnameProblem(hostname: string): string | null {
  if (Buffer.byteLength(hostname) > MAX_HOSTNAME_LENGTH) return `hostname ${quoteInput(hostname)} is longer than ${MAX_HOSTNAME_LENGTH} bytes`;
  if (hostname === '') return 'hostname is empty';
  for (const label of hostname.split('.')) {
    if (label === '') return `hostname ${quoteInput(hostname)} has an empty label (a leading, trailing or doubled '.')`;
    if (label.length > MAX_LABEL_LENGTH) return `hostname ${quoteInput(hostname)}: label ${quoteInput(label)} is longer than ${MAX_LABEL_LENGTH} characters`;
    if (!DNS_LABEL.test(label)) {
      return `hostname ${quoteInput(hostname)}: label ${quoteInput(label)} is not an RFC 1123 label (lowercase letters, digits and '-', starting and ending alphanumeric)`;
    }
  }
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
 * one line per IP naming the hostname (and, for an FQDN, its first label).
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
  // An FQDN hostname also names its first label, as the kubelet's own hosts file does.
  const short = hostname.split('.')[0];
  const names = short === hostname ? hostname : `${hostname}\t${short}`;
  for (const ip of ips) lines.push(`${ip}\t${names}`);
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
