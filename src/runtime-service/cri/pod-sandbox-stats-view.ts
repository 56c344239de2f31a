import { nowNs } from '../../common/time';
import type { NetworkInterfaceUsage } from '../../generated/runtime/v1/NetworkInterfaceUsage';
import type { PodSandboxStats } from '../../generated/runtime/v1/PodSandboxStats';
import type { RuntimeContext } from './context';
import type { SandboxRecord } from '../sandbox/record';
import { toCriStats } from './container-view';
import { podNetworkUsage } from '../container/stats';

/**
 * A pod's stats: each container's (see toCriStats), their cpu and memory
 * summed, and the network counters of the pod's namespace (not for host
 * network pods).
 */
export async function podSandboxStatsOf(ctx: RuntimeContext, sb: SandboxRecord): Promise<PodSandboxStats> {
  const recs = ctx.containers.list().filter((r) => r.sandboxId === sb.id);
  const containers = recs.map((r) => toCriStats(r, ctx.containers.usageOf(r)));
  const ts = nowNs().toString();
  const sum = (pick: (c: (typeof containers)[number]) => { value?: unknown } | null | undefined): { value: string } => ({
    value: containers.reduce((acc, c) => acc + BigInt(String(pick(c)?.value ?? '0')), 0n).toString(),
  });
  const interfaces: NetworkInterfaceUsage[] = (await podNetworkUsage(sb, recs)).map((d) => ({
    name: d.name,
    rx_bytes: { value: d.rxBytes.toString() },
    rx_errors: { value: d.rxErrors.toString() },
    tx_bytes: { value: d.txBytes.toString() },
    tx_errors: { value: d.txErrors.toString() },
  }));
  return {
    attributes: { id: sb.id, metadata: sb.metadata, labels: sb.labels, annotations: sb.annotations },
    linux: {
      cpu: { timestamp: ts, usage_core_nano_seconds: sum((c) => c.cpu?.usage_core_nano_seconds) },
      memory: {
        timestamp: ts,
        working_set_bytes: sum((c) => c.memory?.working_set_bytes),
        usage_bytes: sum((c) => c.memory?.usage_bytes),
        rss_bytes: sum((c) => c.memory?.rss_bytes),
      },
      network: { timestamp: ts, default_interface: interfaces.find((i) => i.name === 'eth0') ?? interfaces[0] ?? null, interfaces },
      containers,
    },
  };
}
