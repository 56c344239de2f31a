import type * as PromClient from 'prom-client';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { PullProgress } from '../../image-service/puller';
import type { PullObserver, PullWatch } from '../../image-service/pull-observer';
import type { RpcObserver } from '../rpc';
import { toGrpcStatus } from '../status';

/**
 * peapod-cri's Prometheus metrics, named in the style of CRI-O's
 * (cri-o server/metrics: `crio_operations_total`, `crio_image_pulls_*`,
 * `crio_containers_oom_total`…) with the prefix `peapod_`; the list with
 * types and labels is docs/metrics.md. Every label takes a bounded set of
 * values (RPC names, gRPC code names, states), except the container name
 * of peapod_containers_oom_count_total, bounded by the containers that
 * exist.
 *
 * prom-client is handed in by the caller (endpoint.ts loads it only when
 * the endpoint is enabled), so this module costs nothing when it is off.
 */

/** The state of containers and pods the gauges are read from at each scrape. */
export interface MetricsStateSource {
  containers(): readonly { id: string; state: string; reason: string; metadata: { name: string } }[];
  sandboxes(): readonly { state: string }[];
}

/** What the server hooks into: the RPC handlers and PullImage. */
export interface PeapodMetrics {
  registry: PromClient.Registry;
  rpcObserver: RpcObserver;
  pullObserver: PullObserver;
}

/** Seconds: from a cheap status call (about 1 ms) to a slow pull or pod start (minutes). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 240];
const PULL_DURATION_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
/** CRI-O's buckets of crio_image_pulls_layer_size, in bytes. */
const LAYER_SIZE_BUCKETS = [1e3, 1e6, 1e7, 5e7, 1e8, 2e8, 3e8, 4e8, 5e8, 1e9, 1e10];

/** The RPC name of a full method path: `/runtime.v1.RuntimeService/Version` → `Version`. */
export function operationOf(method: string): string {
  return method.slice(method.lastIndexOf('/') + 1);
}

/**
 * Counts each pull's bytes from its progress events: a layer that was
 * downloaded counts its (compressed) size once it is done; one already
 * stored counts as skipped.
 */
export class PullByteCounter {
  private readonly downloading = new Set<string>();
  private readonly counted = new Set<string>();
  /** @param sink told each layer's bytes once, in bytes: `downloaded` for a layer fetched, `skipped` for one already stored */
  constructor(private readonly sink: { downloaded(bytes: number): void; skipped(bytes: number): void }) {}

  /** A progress event of the pull (the puller's onProgress): only layer events count, each layer at most once. */
  onProgress(e: PullProgress): void {
    if (e.type !== 'layer' || this.counted.has(e.digest)) return;
    if (e.state === 'downloading') this.downloading.add(e.digest);
    else if (e.state === 'exists') {
      this.counted.add(e.digest);
      this.sink.skipped(e.size);
    } else if (e.state === 'done' && this.downloading.has(e.digest)) {
      this.counted.add(e.digest);
      this.sink.downloaded(e.size);
    }
  }
}

/**
 * Registers peapod's metrics and the process metrics (prom-client's
 * defaults: process_cpu_seconds_total, process_resident_memory_bytes,
 * process_open_fds, nodejs_eventloop_lag_seconds, …) on a new registry.
 * @param prom the prom-client module
 * @param state read at each scrape for the containers and pods by state and the OOM kills
 */
export function createPeapodMetrics(prom: typeof PromClient, state: MetricsStateSource): PeapodMetrics {
  const registry = new prom.Registry();
  const registers = [registry];
  prom.collectDefaultMetrics({ register: registry });

  const operations = new prom.Counter({ name: 'peapod_operations_total', help: 'Cumulative number of CRI operations by operation type.', labelNames: ['operation'], registers });
  const errors = new prom.Counter({ name: 'peapod_operations_errors_total', help: 'Cumulative number of CRI operation errors by operation type and gRPC status code.', labelNames: ['operation', 'code'], registers });
  const latency = new prom.Histogram({ name: 'peapod_operations_latency_seconds', help: 'Latency in seconds of CRI operations, by operation type.', labelNames: ['operation'], buckets: LATENCY_BUCKETS, registers });

  const pullSuccess = new prom.Counter({ name: 'peapod_image_pulls_success_total', help: 'Cumulative number of successful image pulls.', registers });
  const pullFailure = new prom.Counter({ name: 'peapod_image_pulls_failure_total', help: 'Cumulative number of failed image pulls, by gRPC status code.', labelNames: ['error'], registers });
  const pullBytes = new prom.Counter({ name: 'peapod_image_pulls_bytes_total', help: 'Bytes of layers (compressed) downloaded by image pulls.', registers });
  const pullSkipped = new prom.Counter({ name: 'peapod_image_pulls_skipped_bytes_total', help: 'Bytes of layers (compressed) image pulls did not download because the store had them.', registers });
  const layerSize = new prom.Histogram({ name: 'peapod_image_pulls_layer_size', help: 'Bytes downloaded per layer by image pulls.', buckets: LAYER_SIZE_BUCKETS, registers });
  const pullDuration = new prom.Histogram({ name: 'peapod_image_pulls_duration_seconds', help: 'Seconds image pulls took, successful or not.', labelNames: ['result'], buckets: PULL_DURATION_BUCKETS, registers });

  new prom.Gauge({
    name: 'peapod_containers',
    help: 'Containers by state (creating, created, running, exited).',
    labelNames: ['state'],
    registers,
    collect() {
      this.reset();
      for (const s of ['created', 'running', 'exited']) this.set({ state: s }, 0);
      for (const c of state.containers()) this.inc({ state: c.state });
    },
  });
  new prom.Gauge({
    name: 'peapod_pods',
    help: 'Pod sandboxes by state (creating, ready, notready).',
    labelNames: ['state'],
    registers,
    collect() {
      this.reset();
      for (const s of ['ready', 'notready']) this.set({ state: s }, 0);
      for (const p of state.sandboxes()) this.inc({ state: p.state });
    },
  });

  // OOM kills are found in the records at each scrape: a container is counted once, the first time it is seen OOMKilled.
  // Both counters run the scan (whichever is scraped first counts; the second finds nothing new).
  const oomCounted = new Set<string>();
  const scanOom = (): void => {
    const present = new Set<string>();
    for (const c of state.containers()) {
      present.add(c.id);
      if (c.reason !== 'OOMKilled' || oomCounted.has(c.id)) continue;
      oomCounted.add(c.id);
      oomTotal.inc();
      oomByName.inc({ name: c.metadata.name });
    }
    // Forget the removed ones: the set stays as large as the containers.
    for (const id of oomCounted) if (!present.has(id)) oomCounted.delete(id);
  };
  const oomTotal = new prom.Counter({ name: 'peapod_containers_oom_total', help: 'Containers killed because they ran out of memory (OOM).', registers, collect: scanOom });
  const oomByName = new prom.Counter({ name: 'peapod_containers_oom_count_total', help: 'Containers killed because they ran out of memory (OOM), by container name.', labelNames: ['name'], registers, collect: scanOom });

  const rpcObserver: RpcObserver = {
    rpcFinished(method, code, seconds) {
      const operation = operationOf(method);
      operations.inc({ operation });
      latency.observe({ operation }, seconds);
      if (code !== GrpcStatus.OK) errors.inc({ operation, code: GrpcStatus[code] ?? String(code) });
    },
  };

  const pullObserver: PullObserver = {
    pullStarted(): PullWatch {
      const end = pullDuration.startTimer();
      const bytes = new PullByteCounter({
        downloaded: (n) => {
          pullBytes.inc(n);
          layerSize.observe(n);
        },
        skipped: (n) => pullSkipped.inc(n),
      });
      let done = false;
      return {
        onProgress: (e) => bytes.onProgress(e),
        finished(error) {
          if (done) return;
          done = true;
          if (error === undefined) {
            pullSuccess.inc();
            end({ result: 'success' });
          } else {
            pullFailure.inc({ error: GrpcStatus[toGrpcStatus(error).code] ?? 'UNKNOWN' });
            end({ result: 'failure' });
          }
        },
      };
    },
  };

  return { registry, rpcObserver, pullObserver };
}
