import { CORE_SCHEMA, FRONT_END_KEYS, MAX_DURATION_SECONDS, TableSpec } from '../common/config-schema';

/**
 * The keys of peapod's configuration file that only the CRI server reads:
 * where it listens, how long it lets calls finish at shutdown, and its
 * streaming server. The rest of the file is the core's (src/common/config-schema.ts).
 */
export const SERVER_FIELDS: TableSpec['fields'] = {
  socket: { kind: 'key', type: 'string', default: '/run/peapod/peapod.sock', doc: 'Unix socket the CRI gRPC server listens on (mode 0660).' },
  shutdown_timeout: { kind: 'key', type: 'integer', default: 10, min: 0, max: MAX_DURATION_SECONDS, doc: 'Seconds to let in-flight RPCs finish after SIGTERM or SIGINT before closing them.' },
  streaming: {
    kind: 'table',
    doc: 'The streaming server behind Exec, Attach and PortForward: the URLs those RPCs return lead to it; the kubelet proxies kubectl exec/attach/port-forward there, crictl connects directly.',
    fields: {
      address: { kind: 'key', type: 'string', default: '127.0.0.1', doc: 'IP address the streaming server listens on; the returned URLs name it (0.0.0.0 and :: are reported as the loopback address).' },
      port: { kind: 'key', type: 'integer', default: 0, min: 0, max: 65535, doc: 'TCP port of the streaming server; 0 picks a free port at start.' },
      idle_timeout: { kind: 'key', type: 'integer', default: 14400, min: 0, max: MAX_DURATION_SECONDS, doc: 'Seconds a streaming connection may go without traffic before it is closed (the kubelet default is 4 hours); 0 = never.' },
      stream_creation_timeout: { kind: 'key', type: 'integer', default: 30, min: 1, max: MAX_DURATION_SECONDS, doc: 'Seconds a client has, after the upgrade, to open the streams its request needs (and, for port-forward, both streams of a pair).' },
    },
  },
  /** The opt-in Prometheus endpoint (src/server/prometheus/, docs/metrics.md). */
  metrics: {
    kind: 'table',
    doc: 'The Prometheus metrics endpoint (off by default): per-RPC operation counts and latency histograms, image pulls, containers by state, OOM kills, and the process metrics, served as `GET /metrics` over plain HTTP (see docs/metrics.md).',
    fields: {
      enable: { kind: 'key', type: 'boolean', default: false, doc: 'Serve the metrics endpoint; when false prom-client is not even loaded.' },
      address: { kind: 'key', type: 'string', default: '127.0.0.1', doc: 'IP address the metrics endpoint listens on (loopback by default: anyone who reaches it can read the names of pods and images).' },
      port: { kind: 'key', type: 'integer', default: 9090, min: 0, max: 65535, doc: 'TCP port of the metrics endpoint (CRI-O\'s default 9090); 0 picks a free port at start (logged).' },
    },
  },
};

/** Where each server key sits in the file's documented order: after this core key. */
const PLACE_AFTER: Record<string, string> = { socket: 'runroot', shutdown_timeout: 'log_level', streaming: 'sandbox', metrics: 'network' };

/**
 * The whole file as peapod-cri reads it: the core schema with the server
 * keys in their places (the order docs/config.md lists them in).
 */
export const CONFIG_SCHEMA: TableSpec = (() => {
  const missing = FRONT_END_KEYS.filter((k) => !(k in SERVER_FIELDS));
  if (missing.length) throw new Error(`server config schema lacks the front-end keys ${missing.join(', ')}`);
  const fields: TableSpec['fields'] = {};
  for (const [name, node] of Object.entries(CORE_SCHEMA.fields)) {
    fields[name] = node;
    for (const [key, after] of Object.entries(PLACE_AFTER)) if (after === name) fields[key] = SERVER_FIELDS[key];
  }
  return { ...CORE_SCHEMA, fields };
})();
