import * as fs from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { imageServiceImpls } from '../image-service';
import { runtimeServiceImpls } from '../runtime-service';
import type { StreamingBackend } from '../streaming/backend';
import { StreamingServer } from '../streaming/server';
import type { PeapodConfig } from './config';
import type { Logger } from './logger';
import { loadCri, MAX_MESSAGE_BYTES } from './proto';
import { buildHandlers, InFlight } from './rpc';
import { prepareSocketPath, SOCKET_MODE } from './socket';

/**
 * The peapod-cri gRPC server: the CRI v1 RuntimeService and ImageService on
 * a unix socket.
 */
export class CriServer {
  private readonly server: grpc.Server;
  private readonly inFlight = new InFlight();
  private stopping: Promise<void> | undefined;
  private readonly streaming: StreamingServer | undefined;

  /**
   * @param config the effective configuration
   * @param log the process logger
   * @param version peapod's version (package.json), reported by Version
   * @param streamingBackend the container engine's streaming backend; when
   *   given, the streaming server (config `[streaming]`) starts with the CRI
   *   server and Exec, Attach and PortForward are served; without it they
   *   answer UNIMPLEMENTED and no streaming port is opened
   */
  constructor(
    private readonly config: PeapodConfig,
    private readonly log: Logger,
    version: string,
    streamingBackend?: StreamingBackend,
  ) {
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    });
    const cri = loadCri();
    if (streamingBackend) {
      this.streaming = new StreamingServer({
        address: config.streaming.address,
        port: config.streaming.port,
        idleTimeoutMs: config.streaming.idle_timeout * 1000,
        creationTimeoutMs: config.streaming.stream_creation_timeout * 1000,
        backend: streamingBackend,
        log: log.child({ component: 'streaming' }),
      });
    }
    const streaming = this.streaming;
    const ctx = {
      config,
      log,
      version,
      streaming: streaming && streamingBackend ? { backend: streamingBackend, register: streaming.register.bind(streaming) } : undefined,
    };
    this.server.addService(cri.runtime.v1.RuntimeService.service, buildHandlers(cri.runtime.v1.RuntimeService.service, runtimeServiceImpls(ctx), log, this.inFlight));
    this.server.addService(cri.runtime.v1.ImageService.service, buildHandlers(cri.runtime.v1.ImageService.service, imageServiceImpls(), log, this.inFlight));
  }

  /**
   * Binds the socket and starts serving.
   * @throws SocketInUseError when another live server answers on the socket;
   *   Error when binding fails.
   */
  async start(): Promise<void> {
    const socketPath = this.config.socket;
    await this.streaming?.start();
    await prepareSocketPath(socketPath);
    await new Promise<void>((resolve, reject) => {
      this.server.bindAsync(`unix:${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });
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
      await this.streaming?.stop();
      fs.rmSync(this.config.socket, { force: true });
    });
    return this.stopping;
  }
}
