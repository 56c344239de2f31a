import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startSpawnServer, stopSpawnServer } from '../common/host/command';
import type { Logger } from '../common/logger';
import { imageServiceImpls, imageServiceStreams } from '../image-service/cri';
import type { ImageContext } from '../image-service/cri/context';
import { runtimeServiceImpls, runtimeServiceStreams } from '../runtime-service/cri';
import type { RuntimeContext } from '../runtime-service/cri/context';
import { containerStreamingBackend } from '../runtime-service/cri/streaming-backends';
import { LifecycleEvents } from '../runtime-service/lifecycle-events';
import { openPeapod, Peapod } from '../runtime-service/peapod';
import type { CriConfig } from './config';
import { handOverConnection } from './h2-handover';
import { InstanceLock, lockInstance } from './instance-lock';
import { MetricsEndpoint } from './prometheus/endpoint';
import { loadCri, MAX_MESSAGE_BYTES, memoizeResponseEncoding } from './proto';
import { RetryStore } from './retry-store';
import { withRequestBounds, withStreamRequestBounds } from './request-bounds';
import { buildHandlers, InFlight } from './rpc';
import { prepareSocketPath, SOCKET_MODE } from './socket';
import { SandboxPortForwardBackend } from './streaming/sandbox-port-forward';
import { StreamingServer } from './streaming/server';

/**
 * The peapod-cri gRPC server: the CRI v1 RuntimeService and ImageService on
 * a unix socket.
 */
export class CriServer {
  private readonly server: grpc.Server;
  private readonly inFlight = new InFlight();
  private stopping: Promise<void> | undefined;
  /** Shared by the ImageService handlers. */
  readonly images: ImageContext;
  /** Shared by the RuntimeService handlers. */
  readonly runtimeContext: RuntimeContext;
  private listener: net.Server | undefined;
  private readonly streaming: StreamingServer;
  /** The domain: images, pods and containers (owner `cri`). */
  private readonly peapod: Peapod;
  /** This server's hold on its root and runroot, from start to stop. */
  private instance: InstanceLock | undefined;
  /** The Prometheus endpoint, when `[metrics] enable` (prometheus/endpoint.ts). */
  private readonly metricsEndpoint: MetricsEndpoint | undefined;

  /**
   * @param config the effective configuration
   * @param log the process logger
   * @param version peapod's version (package.json), reported by Version
   *
   * It opens the domain (openPeapod, owner `cri`). The streaming server
   * (config `[streaming]`) starts with it: Exec and Attach reach containers
   * through the container engine (cri/streaming-backends.ts), PortForward
   * reaches the sandboxes' network namespaces. With `[metrics] enable` the
   * Prometheus endpoint (prometheus/endpoint.ts) is made here, observing
   * every RPC and PullImage, and listens from start().
   */
  constructor(
    private readonly config: CriConfig,
    private readonly log: Logger,
    version: string,
  ) {
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
      // peapod serves no channelz service: without it grpc-js skips its per-call and per-session counters.
      'grpc.enable_channelz': 0,
    });
    const cri = loadCri();
    this.peapod = openPeapod(config, log, { owner: 'cri' });
    // Fed from here on, so what recovery finds at start is held for the first subscriber.
    const events = new LifecycleEvents();
    this.peapod.watchLifecycle(events);
    const { sandboxes, containers } = this.peapod;
    const backends = { remoteCommand: containerStreamingBackend(containers), portForward: new SandboxPortForwardBackend(sandboxes) };
    const streaming = new StreamingServer({
      address: config.streaming.address,
      port: config.streaming.port,
      idleTimeoutMs: config.streaming.idle_timeout * 1000,
      creationTimeoutMs: config.streaming.stream_creation_timeout * 1000,
      backends,
      log: log.child({ component: 'streaming' }),
    });
    this.streaming = streaming;
    this.metricsEndpoint = config.metrics.enable
      ? new MetricsEndpoint({ address: config.metrics.address, port: config.metrics.port, state: { containers: () => containers.list(), sandboxes: () => sandboxes.list() }, log: log.child({ component: 'metrics' }) })
      : undefined;
    const observer = this.metricsEndpoint?.metrics.rpcObserver;
    this.images = { config, log, images: this.peapod.images, pullObserver: this.metricsEndpoint?.metrics.pullObserver };
    this.runtimeContext = {
      config,
      log,
      version,
      peapod: this.peapod,
      sandboxes,
      containers,
      retries: new RetryStore(),
      network: { podCidr: '' },
      streaming: { ...backends, register: streaming.register.bind(streaming) },
      events,
    };
    this.server.addService(memoizeResponseEncoding(cri.runtime.v1.RuntimeService.service), buildHandlers(cri.runtime.v1.RuntimeService.service, withRequestBounds(runtimeServiceImpls(this.runtimeContext)), log, this.inFlight, withStreamRequestBounds(runtimeServiceStreams(this.runtimeContext)), observer));
    this.server.addService(memoizeResponseEncoding(cri.runtime.v1.ImageService.service), buildHandlers(cri.runtime.v1.ImageService.service, withRequestBounds(imageServiceImpls(this.images)), log, this.inFlight, withStreamRequestBounds(imageServiceStreams(this.images, () => config.list_stream_batch_size)), observer));
  }

  /**
   * Takes the root's and runroot's locks (instance-lock.ts), recovers the
   * pods and containers (Peapod.recover), then binds the socket and starts
   * serving.
   * @throws SocketInUseError when another live server answers on the socket;
   *   InstanceLockedError naming the pid of another peapod-cri on the same
   *   root or runroot; Error when binding fails.
   */
  async start(): Promise<void> {
    const socketPath = this.config.socket;
    // Refuse before touching any state: a live server owns it.
    await prepareSocketPath(socketPath);
    // One peapod-cri per root and runroot (the CLI shares them by design): before recovery, which would undo another's work.
    this.instance = lockInstance({ root: path.resolve(this.config.root), runroot: path.resolve(this.config.runroot) }, this.peapod.state.locks);
    // Children are made by a small helper from here on, so no spawn forks
    // this process on its event loop (common/host/spawner.ts). PEAPOD_SPAWNER=0
    // keeps Node's own spawn, to compare.
    if (process.env.PEAPOD_SPAWNER !== '0') {
      const used = await startSpawnServer(undefined, { onExit: (why) => this.log.warn({ why }, 'peapod-spawner ended; restarting it') });
      if (!used) this.log.warn('peapod-spawner is not built (no C compiler at build time): children are forked from peapod-cri itself');
    }
    await this.peapod.recover();
    await this.streaming.start();
    await this.metricsEndpoint?.start();
    // Connections are accepted here and handed to grpc-js: as they are when
    // the first request's :authority is valid, else through the fix-up that
    // old Go clients need (see h2-handover.ts, h2-authority.ts).
    const injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    const listener = net.createServer((socket) => {
      handOverConnection(socket, (connection) => injector.injectConnection(connection), (err) => this.log.warn({ err }, 'closing a malformed HTTP/2 connection'), { onHandover: (how) => this.log.debug({ how }, 'connection handed to grpc-js') });
    });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(socketPath, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    this.listener = listener;
    fs.chmodSync(socketPath, SOCKET_MODE);
    this.log.info({ socket: socketPath }, 'peapod-cri serving');
  }

  /**
   * Stops accepting calls, waits for in-flight calls to finish for at most
   * `timeoutSeconds`, then closes what is left. Pods and containers are not
   * touched: they outlive the server.
   */
  stop(timeoutSeconds: number): Promise<void> {
    this.stopping ??= new Promise<void>((resolve) => {
      this.log.info({ inFlight: this.inFlight.size, timeoutSeconds }, 'shutting down');
      // Event subscriptions last until the client goes: end them (UNAVAILABLE) so they do not hold the shutdown for its whole timeout.
      this.runtimeContext.events.shutdown();
      this.listener?.close();
      const timer = setTimeout(() => {
        this.log.warn({ inFlight: this.inFlight.size }, 'shutdown timeout: closing calls still in flight');
        this.server.forceShutdown();
        resolve();
      }, timeoutSeconds * 1000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    }).then(async () => {
      await this.streaming.stop();
      await this.metricsEndpoint?.stop();
      // RemoveContainer's background releases (container/release.ts): let them end rather than leave work for recovery.
      await this.peapod.containers.released();
      fs.rmSync(this.config.socket, { force: true });
      this.instance?.release();
      this.peapod.close();
      stopSpawnServer();
    });
    return this.stopping;
  }
}
