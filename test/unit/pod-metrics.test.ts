import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseProcCgroup, sampleV1, sampleV2 } from '../../src/runtime-service/metrics/cgroup-sample';
import { allMetricDescriptors, DESCRIPTOR_BY_NAME } from '../../src/runtime-service/metrics/descriptors';
import { parseNetDevAll } from '../../src/runtime-service/metrics/net-dev';
import { collectPodMetrics, MetricsContainer, MetricsSandbox, MetricsSources } from '../../src/runtime-service/metrics/pod-metrics';

const NET_DEV = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:    1000      10    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
  eth0: 5000 50 1 2 0 0 0 0 7000 70 3 4 0 0 0 0
 bad: 1 2 3
`;

function writeFiles(dir: string, files: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
}

describe('pod and container metrics (ListPodSandboxMetrics, domain)', () => {
  let tmp: string;
  beforeEach(() => (tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-metrics-'))));
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('parses every interface of /proc/net/dev, loopback included, skipping malformed lines', () => {
    const ifaces = parseNetDevAll(NET_DEV);
    expect(ifaces.map((i) => i.name)).to.deep.equal(['lo', 'eth0']);
    expect(ifaces[1]).to.deep.equal({ name: 'eth0', rxBytes: 5000n, rxPackets: 50n, rxErrors: 1n, rxDropped: 2n, txBytes: 7000n, txPackets: 70n, txErrors: 3n, txDropped: 4n });
  });

  it('parses /proc/<pid>/cgroup of a hybrid host', () => {
    const cg = parseProcCgroup('4:memory:/peapod/c1\n2:cpu,cpuacct:/peapod/c1\n0::/peapod/c1\n');
    expect(cg.get('memory')).to.equal('/peapod/c1');
    expect(cg.get('cpuacct')).to.equal('/peapod/c1');
    expect(cg.get('')).to.equal('/peapod/c1');
  });

  it('samples cgroup v1 controllers: cpu in ns (stat ticks at USER_HZ), memory, working set, OOM kills, pids', () => {
    writeFiles(path.join(tmp, 'cpuacct'), { 'cpuacct.usage': '2500000000\n', 'cpuacct.stat': 'user 150\nsystem 50\n' });
    writeFiles(path.join(tmp, 'cpu'), { 'cpu.stat': 'nr_periods 10\nnr_throttled 2\nthrottled_time 3000000000\n' });
    writeFiles(path.join(tmp, 'memory'), {
      'memory.usage_in_bytes': '10000\n',
      'memory.max_usage_in_bytes': '20000\n',
      'memory.failcnt': '3\n',
      'memory.stat': 'cache 100\nrss 200\ntotal_cache 4000\ntotal_rss 5000\ntotal_mapped_file 600\ntotal_swap 0\ntotal_inactive_file 1500\n',
      'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
    });
    writeFiles(path.join(tmp, 'pids'), { 'pids.current': '4\n' });
    const s = sampleV1({ cpuacct: path.join(tmp, 'cpuacct'), cpu: path.join(tmp, 'cpu'), memory: path.join(tmp, 'memory'), pids: path.join(tmp, 'pids') });
    expect(s).to.deep.include({ cpuUsageNs: 2_500_000_000n, cpuUserNs: 1_500_000_000n, cpuSystemNs: 500_000_000n, cfsPeriods: 10n, cfsThrottledPeriods: 2n, cfsThrottledNs: 3_000_000_000n });
    expect(s).to.deep.include({ memoryUsageBytes: 10000n, memoryMaxUsageBytes: 20000n, memoryFailcnt: 3n, memoryRssBytes: 5000n, memoryCacheBytes: 4000n, memoryMappedFileBytes: 600n, memorySwapBytes: 0n });
    expect(s.memoryWorkingSetBytes).to.equal(8500n);
    expect(s.oomKills).to.equal(2n);
    expect(s.processes).to.equal(4n);
  });

  it('samples a cgroup v2 directory; a missing file leaves its field undefined', () => {
    writeFiles(tmp, {
      'cpu.stat': 'usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\nnr_periods 0\nnr_throttled 0\nthrottled_usec 0\n',
      'memory.current': '8192\n',
      'memory.stat': 'anon 4096\nfile 2048\nfile_mapped 1024\ninactive_file 10000\n',
      'memory.events': 'low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n',
      'pids.current': '2\n',
    });
    const s = sampleV2(tmp);
    expect(s).to.deep.include({ cpuUsageNs: 3_000_000_000n, cpuUserNs: 2_000_000_000n, cpuSystemNs: 1_000_000_000n, memoryUsageBytes: 8192n, memoryRssBytes: 4096n, memoryCacheBytes: 2048n });
    // More inactive file pages than usage: the working set is 0, never negative.
    expect(s.memoryWorkingSetBytes).to.equal(0n);
    expect(s.memoryFailcnt).to.equal(5n);
    expect(s.oomKills).to.equal(1n);
    expect(s.processes).to.equal(2n);
    expect(s.memoryMaxUsageBytes).to.equal(undefined);
    expect(s.memorySwapBytes).to.equal(undefined);
  });

  it('has one descriptor per name, each with the cAdvisor base labels first', () => {
    const all = allMetricDescriptors();
    expect(new Set(all.map((d) => d.name)).size).to.equal(all.length);
    for (const d of all) expect(d.labelKeys.slice(0, 6), d.name).to.deep.equal(['container', 'id', 'image', 'name', 'namespace', 'pod']);
    for (const n of ['container_cpu_usage_seconds_total', 'container_memory_working_set_bytes', 'container_memory_usage_bytes', 'container_network_receive_bytes_total', 'container_network_transmit_bytes_total', 'container_fs_usage_bytes']) {
      expect(DESCRIPTOR_BY_NAME.has(n), n).to.equal(true);
    }
  });

  describe('collectPodMetrics', () => {
    const pod = (id: string, state: MetricsSandbox['state'] = 'ready'): MetricsSandbox => ({
      id,
      metadata: { name: `pod-${id}`, namespace: 'ns', uid: `uid-${id}`, attempt: 0 },
      state,
      hostNetwork: false,
      namespaces: { network: `/run/netns/${id}` },
    });
    const ctr = (id: string, sandboxId: string, state: MetricsContainer['state'], pid = 0, reason = ''): MetricsContainer => ({
      id,
      sandboxId,
      metadata: { name: `ctr-${id}`, attempt: 1 },
      state,
      pid,
      image: { name: 'registry.test/busybox:v1', annotations: {}, userSpecified: '' },
      upperDir: `/layers/${id}`,
      resources: { memoryLimitBytes: 1 << 20 },
      reason,
    });

    function sources(pods: MetricsSandbox[], ctrs: MetricsContainer[], seenPids: number[][] = []): MetricsSources {
      return {
        sandboxes: () => pods,
        containers: () => ctrs,
        writableLayer: () => ({ usedBytes: 4096n, inodesUsed: 3n }),
        cgroupOf: (pid) => ({ cpuUsageNs: 2_900_000_000n, memoryUsageBytes: BigInt(pid) * 1000n, memoryWorkingSetBytes: 500n, processes: 1n }),
        interfacesOf: async (_pod, pids) => {
          seenPids.push(pids);
          return parseNetDevAll(NET_DEV);
        },
        filesystemOf: () => ({ totalBytes: 1_000_000n, inodesTotal: 100n, inodesFree: 40n }),
      };
    }

    it('reports network per pod, cgroup metrics per running container, and labels matching the descriptors', async () => {
      const seenPids: number[][] = [];
      const out = await collectPodMetrics(sources([pod('p1'), pod('p0', 'creating')], [ctr('c1', 'p1', 'running', 42), ctr('c2', 'p1', 'exited', 0, 'OOMKilled')], seenPids));
      expect(out.map((p) => p.podSandboxId)).to.deep.equal(['p1']);
      expect(seenPids).to.deep.equal([[42]]);
      const [p1] = out;
      for (const m of [...p1.metrics, ...p1.containerMetrics.flatMap((c) => c.metrics)]) {
        expect(m.labelValues.length, m.name).to.equal(DESCRIPTOR_BY_NAME.get(m.name)!.labelKeys.length);
        expect(m.kind).to.equal(DESCRIPTOR_BY_NAME.get(m.name)!.kind);
      }
      const rx = p1.metrics.filter((m) => m.name === 'container_network_receive_bytes_total');
      expect(rx.map((m) => [m.labelValues[6], m.value])).to.deep.equal([
        ['lo', 1000n],
        ['eth0', 5000n],
      ]);
      expect(rx[0].labelValues.slice(0, 6)).to.deep.equal(['POD', 'p1', '', 'k8s_POD_pod-p1_ns_uid-p1_0', 'ns', 'pod-p1']);

      const c1 = p1.containerMetrics.find((c) => c.containerId === 'c1')!.metrics;
      const get = (ms: typeof c1, name: string) => ms.find((m) => m.name === name);
      // 2.9 s of CPU: the CRI's uint64 carries whole seconds.
      expect(get(c1, 'container_cpu_usage_seconds_total')!.value).to.equal(2n);
      expect(get(c1, 'container_cpu_usage_seconds_total')!.labelValues).to.deep.equal(['ctr-c1', 'c1', 'registry.test/busybox:v1', 'k8s_ctr-c1_pod-p1_ns_uid-p1_1', 'ns', 'pod-p1', 'total']);
      expect(get(c1, 'container_memory_usage_bytes')!.value).to.equal(42000n);
      expect(get(c1, 'container_memory_working_set_bytes')!.value).to.equal(500n);
      expect(get(c1, 'container_fs_usage_bytes')!.value).to.equal(4096n);
      expect(get(c1, 'container_fs_inodes_free')!.value).to.equal(40n);
      expect(get(c1, 'container_spec_memory_limit_bytes')!.value).to.equal(1048576n);
      // Undefined readings are left out, not reported as zero.
      expect(get(c1, 'container_memory_rss')).to.equal(undefined);

      const c2 = p1.containerMetrics.find((c) => c.containerId === 'c2')!.metrics;
      expect(get(c2, 'container_cpu_usage_seconds_total')).to.equal(undefined);
      expect(get(c2, 'container_oom_events_total')!.value).to.equal(1n);
      expect(get(c2, 'container_fs_usage_bytes')!.value).to.equal(4096n);
    });

    it('reports ready pods only (as containerd), reading nothing of a pod that is not ready, and only the pods asked for', async () => {
      let reads = 0;
      const src = { ...sources([pod('a', 'notready'), pod('b'), pod('c', 'creating')], [ctr('a1', 'a', 'exited')]), interfacesOf: async () => (reads++, parseNetDevAll(NET_DEV)) };
      const out = await collectPodMetrics(src);
      expect(out.map((p) => p.podSandboxId)).to.deep.equal(['b']);
      expect(reads).to.equal(1);
      expect((await collectPodMetrics(src, new Set(['a']))).map((p) => p.podSandboxId)).to.deep.equal([]);
      expect((await collectPodMetrics(src, new Set(['b']))).map((p) => p.podSandboxId)).to.deep.equal(['b']);
    });
  });
});
