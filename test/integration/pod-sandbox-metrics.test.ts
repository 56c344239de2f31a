import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Metric__Output } from '../../src/generated/runtime/v1/Metric';
import type { PodSandboxConfig } from '../../src/generated/runtime/v1/PodSandboxConfig';
import { CriStack, startCriStack } from './harness/cri-stack';
import type { TestServer } from './harness/server';
import { until, waitFor } from './helpers/wait';

/** The value of a sample line `name{labels} value` of the text exposition, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics: ListMetricDescriptors, ListPodSandboxMetrics and the Prometheus endpoint (real runc, conmon, CNI, registry)', function () {
  this.timeout(180_000);
  let server: TestServer;
  let image: string;
  let logRoot = '';
  let stack: CriStack | undefined;
  let metricsUrl = '';

  before(async () => {
    ({ server, image, logRoot } = stack = await startCriStack({ logPrefix: 'peapod-metrics-logs-', config: (n) => `${n.configToml}\n[metrics]\nenable = true\nport = 0\n` }));
    // The endpoint logs where it listens (port 0 picks a free one).
    await waitFor(() => /"port":\d+[^\n]*metrics endpoint serving/.test(server.stderr()), 20_000, 'the metrics endpoint logged its port');
    const port = /"port":(\d+)[^\n]*metrics endpoint serving/.exec(server.stderr())![1];
    metricsUrl = `http://127.0.0.1:${port}/metrics`;
  });

  after(async () => {
    await stack?.stop();
  });

  it('reports CPU, memory, filesystem and loopback network metrics of a running container with the labels of the descriptors; the endpoint counts the RPCs, the pull and an OOM kill', async () => {
    const descriptors = (await server.client.runtime.ListMetricDescriptors({})).descriptors;
    const keysOf = new Map(descriptors.map((d) => [d.name, d.label_keys]));
    for (const n of ['container_cpu_usage_seconds_total', 'container_memory_working_set_bytes', 'container_memory_usage_bytes', 'container_network_receive_bytes_total', 'container_network_transmit_bytes_total', 'container_fs_usage_bytes']) {
      expect(keysOf.has(n), n).to.equal(true);
    }

    await server.client.image.PullImage({ image: { image } });
    const podConfig: PodSandboxConfig = {
      metadata: { name: 'metered', namespace: 'peapod-test', uid: randomBytes(8).toString('hex'), attempt: 0 },
      hostname: 'metered',
      log_directory: path.join(logRoot, 'metered'),
      linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
    };
    const podId = (await server.client.runtime.RunPodSandbox({ config: podConfig })).pod_sandbox_id;
    // A web server on the pod's loopback, and a loop that burns CPU (the CRI carries whole seconds).
    const { container_id: id } = await server.client.runtime.CreateContainer({
      pod_sandbox_id: podId,
      config: { metadata: { name: 'busy', attempt: 0 }, image: { image }, command: ['/bin/sh', '-c', 'httpd -p 127.0.0.1:8080 -h /bin; while :; do :; done'], log_path: 'busy/0.log' },
      sandbox_config: podConfig,
    });
    await server.client.runtime.StartContainer({ container_id: id });
    // About 1 MiB over loopback inside the pod: busybox itself, fetched from the pod's own web server.
    const size = fs.statSync('/usr/bin/busybox').size;
    const r = await server.client.runtime.ExecSync({ container_id: id, cmd: ['/bin/sh', '-c', 'wget -q -O /tmp/got http://127.0.0.1:8080/busybox && wc -c < /tmp/got'], timeout: 30 });
    expect(Buffer.from(r.stdout).toString().trim(), Buffer.from(r.stderr).toString()).to.equal(String(size));

    const podMetrics = async () => (await server.client.runtime.ListPodSandboxMetrics({})).pod_metrics.find((p) => p.pod_sandbox_id === podId)!;
    const valueOf = (ms: Metric__Output[], name: string, extra?: string): number | undefined => {
      const m = ms.find((x) => x.name === name && (extra === undefined || x.label_values[6] === extra));
      return m ? Number(m.value!.value) : undefined;
    };
    const containerMetrics = async () => (await podMetrics()).container_metrics.find((c) => c.container_id === id)!.metrics;
    // On a loaded machine the loop may take a while to get its first whole second of CPU.
    expect(await until(async () => (valueOf(await containerMetrics(), 'container_cpu_usage_seconds_total', 'total') ?? 0) >= 1, 120_000, 200), 'a whole second of CPU').to.equal(true);

    const pm = await podMetrics();
    const cm = pm.container_metrics.find((c) => c.container_id === id)!.metrics;
    expect(valueOf(cm, 'container_memory_usage_bytes')).to.be.greaterThan(0);
    expect(valueOf(cm, 'container_memory_working_set_bytes')).to.be.greaterThan(0);
    expect(valueOf(cm, 'container_processes')).to.be.at.least(2);
    expect(valueOf(cm, 'container_fs_limit_bytes')).to.be.greaterThan(0);
    expect(cm.find((m) => m.name === 'container_cpu_usage_seconds_total')!.label_values.slice(0, 6)).to.deep.equal([
      'busy',
      id,
      image,
      `k8s_busy_metered_peapod-test_${podConfig.metadata!.uid}_0`,
      'peapod-test',
      'metered',
    ]);
    expect(valueOf(pm.metrics, 'container_network_receive_bytes_total', 'lo')).to.be.greaterThan(size);
    expect(valueOf(pm.metrics, 'container_network_transmit_bytes_total', 'lo')).to.be.greaterThan(size);
    expect(pm.metrics.some((m) => m.label_values[6] === 'eth0')).to.equal(true);
    for (const m of [...pm.metrics, ...cm]) {
      expect(keysOf.get(m.name), m.name).to.not.equal(undefined);
      expect(m.label_values.length, m.name).to.equal(keysOf.get(m.name)!.length);
      expect(BigInt(m.timestamp) > 0n).to.equal(true);
    }

    // The Prometheus endpoint: the RPCs made, the pull, the running container, the process.
    const res = await fetch(metricsUrl);
    expect(res.status).to.equal(200);
    const text = await res.text();
    expect(sample(text, 'peapod_operations_total{operation="ListPodSandboxMetrics"}')).to.be.at.least(2);
    expect(sample(text, 'peapod_operations_total{operation="RunPodSandbox"}')).to.equal(1);
    expect(sample(text, 'peapod_operations_latency_seconds_count{operation="PullImage"}')).to.equal(1);
    expect(sample(text, 'peapod_image_pulls_success_total')).to.equal(1);
    expect(sample(text, 'peapod_image_pulls_bytes_total')).to.be.greaterThan(0);
    expect(sample(text, 'peapod_containers{state="running"}')).to.equal(1);
    expect(sample(text, 'peapod_pods{state="ready"}')).to.equal(1);
    expect(sample(text, 'process_resident_memory_bytes')).to.be.greaterThan(0);
    expect((await fetch(metricsUrl.replace('/metrics', '/other'))).status).to.equal(404);

    await server.client.runtime.StopContainer({ container_id: id, timeout: 0 });
    const after = (await containerMetrics()).map((m) => m.name);
    expect(after).to.not.include('container_cpu_usage_seconds_total');
    expect(after).to.include('container_fs_usage_bytes');

    // An OOM kill: in the container's metrics and, once, on the endpoint.
    const { container_id: hog } = await server.client.runtime.CreateContainer({
      pod_sandbox_id: podId,
      config: { metadata: { name: 'hog', attempt: 0 }, image: { image }, command: ['/bin/sh', '-c', 'tail /dev/zero'], log_path: 'hog/0.log', linux: { resources: { memory_limit_in_bytes: 16 << 20 } } },
      sandbox_config: podConfig,
    });
    await server.client.runtime.StartContainer({ container_id: hog });
    await waitFor(async () => (await server.client.runtime.ContainerStatus({ container_id: hog })).status!.reason === 'OOMKilled', 60_000, 'the hog OOM-killed');
    const hogMetrics = (await podMetrics()).container_metrics.find((c) => c.container_id === hog)!.metrics;
    expect(valueOf(hogMetrics, 'container_oom_events_total')).to.equal(1);
    expect(valueOf(hogMetrics, 'container_spec_memory_limit_bytes')).to.equal(16 << 20);
    for (let i = 0; i < 2; i++) {
      const t = await (await fetch(metricsUrl)).text();
      expect(sample(t, 'peapod_containers_oom_total')).to.equal(1);
      expect(sample(t, 'peapod_containers_oom_count_total{name="hog"}')).to.equal(1);
    }

    // A stopped pod is not reported, as containerd answers (ready pods only).
    await server.client.runtime.StopPodSandbox({ pod_sandbox_id: podId });
    expect((await server.client.runtime.ListPodSandboxMetrics({})).pod_metrics.map((p) => p.pod_sandbox_id)).to.not.include(podId);
  });
});
