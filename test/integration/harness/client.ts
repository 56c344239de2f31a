import * as grpc from '@grpc/grpc-js';
import type { ImageServiceClient } from '../../../src/generated/runtime/v1/ImageService';
import type { RuntimeServiceClient } from '../../../src/generated/runtime/v1/RuntimeService';
import { loadCri, MAX_MESSAGE_BYTES } from '../../../src/server/proto';

/** Keys of a grpc-js client that are unary methods taking (request, callback). */
type UnaryKeys<C> = {
  [K in keyof C]: K extends `${string}`
    ? C[K] extends {
        (argument: infer _Req, callback: grpc.requestCallback<infer _Res>): grpc.ClientUnaryCall;
      }
      ? K
      : never
    : never;
}[keyof C];

type ReqOf<F> = F extends { (argument: infer Req, callback: grpc.requestCallback<infer _Res>): grpc.ClientUnaryCall } ? Req : never;
type ResOf<F> = F extends { (argument: infer _Req, callback: grpc.requestCallback<infer Res>): grpc.ClientUnaryCall } ? Res : never;

/** A promise-returning view of a generated grpc-js client: `await c.Version({})`. */
export type Promisified<C> = {
  [K in UnaryKeys<C> & string]: (request: ReqOf<C[K]>, options?: grpc.CallOptions) => Promise<ResOf<C[K]>>;
};

/** A typed CRI client for tests: both services over one unix socket. */
export interface CriClient {
  runtime: Promisified<RuntimeServiceClient>;
  image: Promisified<ImageServiceClient>;
  /** The raw clients, for calls the promise view does not cover. */
  raw: { runtime: RuntimeServiceClient; image: ImageServiceClient };
  close(): void;
}

function promisify<C extends grpc.Client>(client: C): Promisified<C> {
  return new Proxy({} as Promisified<C>, {
    get(_t, name: string) {
      const fn = (client as unknown as Record<string, unknown>)[name];
      if (typeof fn !== 'function') return undefined;
      return (request: unknown, options: grpc.CallOptions = {}) =>
        new Promise((resolve, reject) => {
          (fn as (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v?: unknown) => void) => void).call(
            client,
            request,
            new grpc.Metadata(),
            options,
            (err, value) => (err ? reject(err) : resolve(value)),
          );
        });
    },
  });
}

/**
 * Connects a CRI client to a unix socket.
 * @param socketPath path of peapod-cri's socket
 */
export function connectCri(socketPath: string): CriClient {
  const cri = loadCri();
  const options = { 'grpc.max_receive_message_length': MAX_MESSAGE_BYTES, 'grpc.max_send_message_length': MAX_MESSAGE_BYTES };
  const runtime = new cri.runtime.v1.RuntimeService(`unix:${socketPath}`, grpc.credentials.createInsecure(), options);
  const image = new cri.runtime.v1.ImageService(`unix:${socketPath}`, grpc.credentials.createInsecure(), options);
  return {
    runtime: promisify(runtime),
    image: promisify(image),
    raw: { runtime, image },
    close() {
      runtime.close();
      image.close();
    },
  };
}

/**
 * Waits until a CRI server answers Version, checking every 100 ms.
 * @param client a client connected to the server's socket
 * @param exited true once the server process has ended (stop waiting)
 * @param timeoutMs how long to wait in all
 * @returns 'ready', 'exited' when the process ended first, or 'timeout'.
 */
export async function waitForCri(client: CriClient, exited: () => boolean, timeoutMs: number): Promise<'ready' | 'exited' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited()) return 'exited';
    try {
      await client.runtime.Version({}, { deadline: Date.now() + 1000 });
      return 'ready';
    } catch {
      if (Date.now() > deadline) return 'timeout';
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/**
 * Test teardown: removes every pod sandbox the server knows (RemovePodSandbox
 * stops the pod and its containers first). Errors are ignored: the server
 * may already be gone.
 */
export async function removeAllPods(client: CriClient): Promise<void> {
  const { items } = await client.runtime.ListPodSandbox({}).catch(() => ({ items: [] as Array<{ id: string }> }));
  for (const p of items) await client.runtime.RemovePodSandbox({ pod_sandbox_id: p.id }).catch(() => undefined);
}
