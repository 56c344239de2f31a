import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type * as PromClient from 'prom-client';
import type { Logger } from '../../common/logger';
import { createPeapodMetrics, MetricsStateSource, PeapodMetrics } from './metrics';

/** Milliseconds a scrape request may take to arrive whole. */
const REQUEST_TIMEOUT_MS = 10_000;
/** Connections the endpoint holds at once (a scraper needs one or two). */
const MAX_CONNECTIONS = 32;

/**
 * The opt-in Prometheus endpoint of peapod-cri: `GET /metrics` in the text
 * exposition format over plain HTTP, every other path 404, every other
 * method 405. prom-client is loaded by the constructor, so a server with
 * the endpoint off never loads it (its RSS is an issue-15 figure).
 */
export class MetricsEndpoint {
  /** The hooks for the RPC handlers and PullImage. */
  readonly metrics: PeapodMetrics;
  private server: http.Server | undefined;

  /**
   * @param options where to listen (`address`, `port`; 0 = a free port) and
   *   the containers and pods the gauges read at each scrape
   */
  constructor(
    private readonly options: { address: string; port: number; state: MetricsStateSource; log: Logger },
  ) {
    // Loaded here, not at the top: only a server with the endpoint enabled pays for prom-client.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const prom = require('prom-client') as typeof PromClient;
    this.metrics = createPeapodMetrics(prom, options.state);
  }

  /**
   * Starts listening.
   * @returns the address and port listened on
   * @throws Error when the address cannot be bound (e.g. EADDRINUSE), naming it
   */
  async start(): Promise<{ address: string; port: number }> {
    const registry = this.metrics.registry;
    const server = http.createServer((req, res) => {
      const url = (req.url ?? '').split('?')[0];
      if (url !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the metrics are at /metrics\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
        return;
      }
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
        (err: unknown) => {
          this.options.log.warn({ err }, 'collecting the metrics failed');
          res.writeHead(500, { 'content-type': 'text/plain' }).end('collecting the metrics failed\n');
        },
      );
    });
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    server.headersTimeout = REQUEST_TIMEOUT_MS;
    server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(new Error(`metrics endpoint: cannot listen on ${this.options.address}:${this.options.port}: ${err.message}`));
      server.once('error', onError);
      server.listen(this.options.port, this.options.address, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.server = server;
    const a = server.address() as AddressInfo;
    this.options.log.info({ address: a.address, port: a.port }, 'metrics endpoint serving /metrics');
    return { address: a.address, port: a.port };
  }

  /** Stops listening and closes the open connections. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
