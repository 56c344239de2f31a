/**
 * The one masquerade rule of the CLI's default bridge network (network.ts):
 *
 *   iptables -t nat -A POSTROUTING -s SUBNET ! -d SUBNET
 *     -m addrtype ! --dst-type MULTICAST -m comment --comment "peapod-cli masquerade SUBNET"
 *     -j MASQUERADE
 *
 * what the CNI bridge plugin's `ipMasq` does per container (a chain
 * `CNI-<hash>` of `-d SUBNET -j ACCEPT` and `! -d 224.0.0.0/4 -j MASQUERADE`,
 * jumped to from POSTROUTING for the container's address), for the whole
 * subnet at once: traffic from the network's pods to anywhere outside it
 * leaves with the host's address. It is installed at the network's first use
 * since boot, by each command that attaches a pod (`run`, `create`, `pod
 * create`: network.ts prepareCliNetwork; `pod start` and `pod restart` of a
 * stopped pod: ensureCliNetworkRules), checked with `-C` and added when
 * missing, then a marker file in
 * the runroot (`cli-network/masquerade-<subnet>`, on tmpfs: gone at reboot,
 * with the rule) saves later commands the `iptables` process. Like the
 * bridge itself, the rule stays after the last pod (Podman's netavark keeps
 * its network's rules the same way); a firewall reload that flushes the nat
 * table takes it away until the marker is removed or the host reboots.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../common/atomic-file';
import { HostCommandError, runHostCommand } from '../common/host/command';
import { findProgram } from '../common/host/programs';
import type { ProcessLocks } from '../common/process-lock';
import { sleep } from '../common/time';

/** The cross-process lock key of the installation (one `-C` and `-A` at a time, so no rule is added twice). */
const LOCK_KEY = 'cli-network-masquerade';
/** How long a command waits for another one installing the rule, in ms. */
const LOCK_WAIT_MS = 30_000;
/** How long one `iptables` call may take (it waits up to 5 s for the xtables lock itself), in ms. */
const IPTABLES_TIMEOUT_MS = 15_000;

/** The rule's match and target (after `-t nat -A POSTROUTING`) for an IPv4 subnet in CIDR notation. */
export function masqueradeRule(subnet: string): string[] {
  return ['-s', subnet, '!', '-d', subnet, '-m', 'addrtype', '!', '--dst-type', 'MULTICAST', '-m', 'comment', '--comment', `peapod-cli masquerade ${subnet}`, '-j', 'MASQUERADE'];
}

/** The marker of a rule installed since boot, under `runroot`. */
export function masqueradeMarker(runroot: string, subnet: string): string {
  return path.join(runroot, 'cli-network', `masquerade-${subnet.replace('/', '_')}`);
}

/**
 * Makes sure the masquerade rule of `subnet` is in the nat table (see the
 * module doc): nothing when the marker says it was installed since boot,
 * else, under the cross-process lock, `iptables -C`, `-A` when missing,
 * and the marker written.
 * @param subnet an IPv4 subnet in CIDR notation (checked by the caller)
 * @throws HostCommandError when iptables fails; Error when iptables is not
 *   installed or another command held the lock for 30 s.
 */
export async function ensureMasquerade(subnet: string, runroot: string, locks: ProcessLocks): Promise<void> {
  const marker = masqueradeMarker(runroot, subnet);
  if (fs.existsSync(marker)) return;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (let pause = 2; !locks.tryAcquire(LOCK_KEY); pause = Math.min(pause * 2, 50)) {
    if (Date.now() > deadline) throw new Error(`another peapod command has been installing the masquerade rule of ${subnet} for ${LOCK_WAIT_MS / 1000} s`);
    await sleep(pause);
  }
  try {
    if (fs.existsSync(marker)) return;
    const iptables = findProgram('iptables', `${process.env.PATH ?? ''}:/usr/sbin:/sbin`);
    if (!iptables) throw new Error('iptables is not installed (the bridge network masquerades its subnet with it)');
    const rule = masqueradeRule(subnet);
    const opts = { timeoutMs: IPTABLES_TIMEOUT_MS, maxOutputBytes: 64 * 1024 };
    try {
      await runHostCommand(iptables, ['-w', '5', '-t', 'nat', '-C', 'POSTROUTING', ...rule], opts);
    } catch (err) {
      // Exit 1: no such rule (iptables(8)); anything else is a failure of its own.
      if (!(err instanceof HostCommandError) || err.exitCode !== 1) throw err;
      await runHostCommand(iptables, ['-w', '5', '-t', 'nat', '-A', 'POSTROUTING', ...rule], opts);
    }
    await fs.promises.mkdir(path.dirname(marker), { recursive: true, mode: 0o700 });
    await writeFileAtomic(marker, `${rule.join(' ')}\n`, 0o600);
  } finally {
    locks.release(LOCK_KEY);
  }
}
