import { expect } from 'chai';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as prom from 'prom-client';
import { PeapodError } from '../../src/common/errors';
import { loadCriConfig } from '../../src/server/config';
import { createPeapodMetrics, MetricsStateSource, operationOf, PullByteCounter } from '../../src/server/prometheus/metrics';

/** The value of a sample line `name{labels} value` of the text exposition, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Prometheus metrics (peapod-cri)', () => {
  it('is off by default, on 127.0.0.1:9090 when enabled', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'peapod-metrics-conf-'));
    try {
      const configFile = path.join(dir, 'peapod.conf');
      fs.mkdirSync(path.join(dir, 'd'));
      fs.writeFileSync(configFile, '');
      expect(loadCriConfig({ configFile, configDir: path.join(dir, 'd') }).metrics).to.deep.equal({ enable: false, address: '127.0.0.1', port: 9090 });
      fs.writeFileSync(configFile, '[metrics]\nenable = true\nport = 0\n');
      expect(loadCriConfig({ configFile, configDir: path.join(dir, 'd') }).metrics).to.deep.equal({ enable: true, address: '127.0.0.1', port: 0 });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names an operation by its RPC', () => {
    expect(operationOf('/runtime.v1.RuntimeService/ListContainers')).to.equal('ListContainers');
  });

  it('counts operations, errors by code and latency per RPC', async () => {
    const state: MetricsStateSource = { containers: () => [], sandboxes: () => [] };
    const m = createPeapodMetrics(prom, state);
    m.rpcObserver.rpcFinished('/runtime.v1.RuntimeService/Version', GrpcStatus.OK, 0.002);
    m.rpcObserver.rpcFinished('/runtime.v1.RuntimeService/Version', GrpcStatus.OK, 0.004);
    m.rpcObserver.rpcFinished('/runtime.v1.RuntimeService/ContainerStatus', GrpcStatus.NOT_FOUND, 0.001);
    const text = await m.registry.metrics();
    expect(sample(text, 'peapod_operations_total{operation="Version"}')).to.equal(2);
    expect(sample(text, 'peapod_operations_errors_total{operation="ContainerStatus",code="NOT_FOUND"}')).to.equal(1);
    expect(sample(text, 'peapod_operations_errors_total{operation="Version",code="OK"}')).to.equal(undefined);
    expect(sample(text, 'peapod_operations_latency_seconds_count{operation="Version"}')).to.equal(2);
    expect(sample(text, 'peapod_operations_latency_seconds_bucket{le="0.005",operation="Version"}')).to.equal(2);
    expect(sample(text, 'peapod_operations_latency_seconds_bucket{le="0.0025",operation="Version"}')).to.equal(1);
    // The process metrics come along.
    expect(sample(text, 'process_resident_memory_bytes')).to.be.greaterThan(0);
  });

  it('counts pulled and skipped layer bytes once each, successes, failures by code, durations', async () => {
    const counted: string[] = [];
    const c = new PullByteCounter({ downloaded: (n) => counted.push(`d${n}`), skipped: (n) => counted.push(`s${n}`) });
    c.onProgress({ type: 'layer', digest: 'a', size: 10, fetched: 0, state: 'waiting' });
    c.onProgress({ type: 'layer', digest: 'a', size: 10, fetched: 0, state: 'downloading' });
    c.onProgress({ type: 'layer', digest: 'a', size: 10, fetched: 10, state: 'done' });
    c.onProgress({ type: 'layer', digest: 'a', size: 10, fetched: 10, state: 'done' });
    c.onProgress({ type: 'layer', digest: 'b', size: 7, fetched: 0, state: 'exists' });
    c.onProgress({ type: 'layer', digest: 'b', size: 7, fetched: 7, state: 'done' });
    expect(counted).to.deep.equal(['d10', 's7']);

    const m = createPeapodMetrics(prom, { containers: () => [], sandboxes: () => [] });
    const ok = m.pullObserver.pullStarted('busybox');
    ok.onProgress({ type: 'layer', digest: 'x', size: 1500, fetched: 0, state: 'downloading' });
    ok.onProgress({ type: 'layer', digest: 'x', size: 1500, fetched: 1500, state: 'done' });
    ok.finished();
    ok.finished(new Error('twice'));
    m.pullObserver.pullStarted('nope').finished(new PeapodError('NOT_FOUND', 'no such image'));
    const text = await m.registry.metrics();
    expect(sample(text, 'peapod_image_pulls_bytes_total')).to.equal(1500);
    expect(sample(text, 'peapod_image_pulls_success_total')).to.equal(1);
    expect(sample(text, 'peapod_image_pulls_failure_total{error="NOT_FOUND"}')).to.equal(1);
    expect(sample(text, 'peapod_image_pulls_duration_seconds_count{result="success"}')).to.equal(1);
    expect(sample(text, 'peapod_image_pulls_layer_size_bucket{le="1000000"}')).to.equal(1);
  });

  it('reports containers and pods by state, and counts each OOM-killed container once', async () => {
    const ctrs = [
      { id: 'a', state: 'running', reason: '', metadata: { name: 'web' } },
      { id: 'b', state: 'exited', reason: 'OOMKilled', metadata: { name: 'hog' } },
    ];
    const m = createPeapodMetrics(prom, { containers: () => ctrs, sandboxes: () => [{ state: 'ready' }] });
    let text = await m.registry.metrics();
    expect(sample(text, 'peapod_containers{state="running"}')).to.equal(1);
    expect(sample(text, 'peapod_containers{state="created"}')).to.equal(0);
    expect(sample(text, 'peapod_pods{state="ready"}')).to.equal(1);
    expect(sample(text, 'peapod_containers_oom_total')).to.equal(1);
    expect(sample(text, 'peapod_containers_oom_count_total{name="hog"}')).to.equal(1);
    ctrs.push({ id: 'c', state: 'exited', reason: 'OOMKilled', metadata: { name: 'hog' } });
    text = await m.registry.metrics();
    expect(sample(text, 'peapod_containers_oom_total')).to.equal(2);
    expect(sample(text, 'peapod_containers_oom_count_total{name="hog"}')).to.equal(2);
    expect(sample(text, 'peapod_containers{state="exited"}')).to.equal(2);
  });

  it('is not loaded by a server with the endpoint off: loading the server code leaves prom-client out', () => {
    const server = path.resolve(__dirname, '..', '..', 'src', 'server', 'server.js');
    const loaded = execFileSync(process.execPath, ['-e', `require(${JSON.stringify(server)}); process.stdout.write(String(Object.keys(require.cache).some((k) => k.includes('/node_modules/prom-client/'))))`], { encoding: 'utf8' });
    expect(loaded).to.equal('false');
  });
});
