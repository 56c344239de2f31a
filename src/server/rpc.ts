import * as grpc from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';
import { boundMessage } from '../common/bounded-text';
import type { Logger } from '../common/logger';
import { toGrpcStatus } from './status';

/** What a unary handler may know of its call besides the request. */
export interface CallContext {
  /** The full method path, e.g. `/runtime.v1.RuntimeService/Version`. */
  method: string;
  /** The client's deadline, or Infinity when it set none. */
  deadline: grpc.Deadline;
  /** True once the client has cancelled or its deadline passed. */
  readonly cancelled: boolean;
}

/** A unary RPC implemented as an async function of the decoded request. */
export type UnaryImpl<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;

/**
 * The implementations of a service's unary methods, typed from the service
 * definition generated from the proto: for each method name, a function from
 * the decoded request (`Foo__Output`) to the response (`FooResponse`).
 * Methods left out answer UNIMPLEMENTED.
 */
export type UnaryImpls<D extends grpc.ServiceDefinition> = {
  [K in keyof D as string extends K ? never : K]?: D[K] extends MethodDefinition<infer _Req, infer Res, infer ReqOut, infer _ResOut> ? UnaryImpl<ReqOut, Res> : never;
};

/**
 * Told of every finished unary call (e.g. the Prometheus metrics,
 * src/server/prometheus/): the full method path, the status code sent, and
 * the seconds from the call's arrival to its answer. Must not throw.
 */
export interface RpcObserver {
  rpcFinished(method: string, code: grpc.status, seconds: number): void;
}

/**
 * Where a server-streaming handler sends its responses. `send` respects the
 * transport's backpressure: it resolves at once while grpc-js takes more,
 * and after its 'drain' event once `write()` returned false, so a handler
 * that awaits each `send` never buffers more than the stream's high-water
 * mark (16 messages). Once the call has ended (the client cancelled, the
 * deadline passed, the server shuts down) `send` rejects with
 * CallEndedError and `signal` is aborted.
 */
export interface ResponseSink<Res> {
  /** Writes one response; see above. @throws CallEndedError once the call ended. */
  send(response: Res): Promise<void>;
  /** Aborted when the call ends before the handler finished (cancel, deadline, shutdown). */
  readonly signal: AbortSignal;
}

/** Thrown by ResponseSink.send (and the reason of its signal) once the call ended. */
export class CallEndedError extends Error {
  constructor(readonly code: grpc.status, message: string) {
    super(message);
    this.name = 'CallEndedError';
  }
}

/**
 * A server-streaming RPC: sends its responses through `sink`; the stream
 * ends with OK when the promise resolves, with the error's status
 * (toGrpcStatus) when it rejects.
 */
export type ServerStreamImpl<Req, Res> = (request: Req, sink: ResponseSink<Res>, ctx: CallContext) => Promise<void>;

/**
 * The implementations of a service's server-streaming methods, typed from
 * the generated handlers interface (`FooServiceHandlers`): for each
 * streaming method name, a ServerStreamImpl of its decoded request and its
 * response. Methods left out answer UNIMPLEMENTED.
 */
export type ServerStreamImpls<H extends grpc.UntypedServiceImplementation> = {
  [K in keyof H as string extends K ? never : H[K] extends grpc.handleServerStreamingCall<infer _Req, infer _Res> ? K : never]?: H[K] extends grpc.handleServerStreamingCall<infer Req, infer Res> ? ServerStreamImpl<Req, Res> : never;
};

/** containerd's batch size for the Stream* lists (internal/cri/util/stream.go): half the items the KEP-5825 estimate fits in 16 MiB. */
export const DEFAULT_STREAM_BATCH_SIZE = 5000;

/**
 * A streaming list from a unary one: the items `list` returns, sent in
 * responses of at most `batchSize` items each (`wrap` builds a response of
 * one batch), as containerd's SendInBatches does. An empty list sends no
 * response (the stream ends OK at once). The call's end is checked before
 * each batch.
 * @param list the unary list's work: the items, filtered as the request says
 * @param wrap one response of a batch of items
 * @param batchSize items per response (at least 1); a function is read at each call (configuration)
 */
export function streamInChunks<Req, Item, Res>(
  list: (request: Req, ctx: CallContext) => Promise<readonly Item[]>,
  wrap: (batch: Item[]) => Res,
  batchSize: number | (() => number) = DEFAULT_STREAM_BATCH_SIZE,
): ServerStreamImpl<Req, Res> {
  return async (request, sink, ctx) => {
    const items = await list(request, ctx);
    const size = Math.max(1, Math.floor(typeof batchSize === 'function' ? batchSize() : batchSize));
    for (let i = 0; i < items.length; i += size) {
      if (sink.signal.aborted) throw sink.signal.reason;
      await sink.send(wrap(items.slice(i, i + size)));
    }
  };
}

/** Tracks in-flight calls so shutdown can wait for them. */
export class InFlight {
  private count = 0;
  private waiters: Array<() => void> = [];

  /** Marks a call started. */
  enter(): void {
    this.count++;
  }

  /** Marks a call finished; wakes `idle()` waiters when none is left. */
  leave(): void {
    this.count--;
    if (this.count === 0) for (const w of this.waiters.splice(0)) w();
  }

  /** Number of calls in flight. */
  get size(): number {
    return this.count;
  }

  /** Resolves when no call is in flight. */
  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((r) => this.waiters.push(r));
  }
}

/**
 * Builds grpc-js handlers for every method of `service`: the implemented
 * unary methods run their `impls` entry, the implemented server-streaming
 * ones their `streams` entry (see serverStreamHandler); every other method
 * answers UNIMPLEMENTED naming the method. Each call is counted in
 * `inFlight` and logged at debug level with method, duration (ms) and
 * status code; failures are logged at error level with the cause.
 *
 * @param service the service definition loaded from the proto
 * @param impls the unary implementations, by method name
 * @param log the logger
 * @param inFlight counts running calls for a graceful shutdown
 * @param streams the server-streaming implementations, by method name
 * @param observer told of each finished unary call (optional)
 * @returns an object suitable for `grpc.Server.addService`.
 */
export function buildHandlers<D extends grpc.ServiceDefinition>(
  service: D,
  impls: UnaryImpls<D>,
  log: Logger,
  inFlight: InFlight,
  streams: Partial<Record<string, ServerStreamImpl<never, unknown>>> = {},
  observer?: RpcObserver,
): grpc.UntypedServiceImplementation {
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const [name, def] of Object.entries(service)) {
    const method = def.path;
    const stream = streams[name] as ServerStreamImpl<unknown, unknown> | undefined;
    if (def.responseStream && !def.requestStream && stream) {
      handlers[name] = serverStreamHandler(method, stream, log, inFlight);
      continue;
    }
    const impl = (impls as Record<string, UnaryImpl<unknown, unknown> | undefined>)[name];
    if (def.requestStream || def.responseStream || !impl) {
      handlers[name] = unimplemented(method, def.responseStream && !def.requestStream, log);
      continue;
    }
    handlers[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const started = process.hrtime.bigint();
      inFlight.enter();
      const ctx: CallContext = {
        method,
        deadline: call.getDeadline(),
        get cancelled() {
          return call.cancelled;
        },
      };
      let settled = false;
      const finish = (code: grpc.status, err?: unknown): void => {
        const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
        if (err === undefined) log.debug({ method, durationMs, code: grpc.status[code] }, 'rpc');
        else log.error({ method, durationMs, code: grpc.status[code], err }, 'rpc failed');
        observer?.rpcFinished(method, code, durationMs / 1000);
        inFlight.leave();
      };
      impl(call.request, ctx).then(
        (response) => {
          if (settled) return;
          settled = true;
          callback(null, response);
          finish(grpc.status.OK);
        },
        (err: unknown) => {
          if (settled) return;
          settled = true;
          const { code, message } = toGrpcStatus(err);
          callback({ code, details: message });
          finish(code, err);
        },
      );
    };
  }
  return handlers;
}

/**
 * The grpc-js handler of one server-streaming method: runs `impl` with a
 * ResponseSink over the call (backpressure as ResponseSink says), ends the
 * stream OK when it resolves, or with toGrpcStatus of what it threw. The
 * client's cancel, its deadline (DEADLINE_EXCEEDED) and a server shutdown
 * abort the sink's signal; the call is then logged as CANCELLED or
 * DEADLINE_EXCEEDED, not as a failure. Counted in `inFlight` until the
 * stream ended.
 */
function serverStreamHandler(method: string, impl: ServerStreamImpl<unknown, unknown>, log: Logger, inFlight: InFlight): grpc.handleServerStreamingCall<unknown, unknown> {
  return (call) => {
    const started = process.hrtime.bigint();
    inFlight.enter();
    const abort = new AbortController();
    const end = (code: grpc.status, message: string): void => {
      if (!abort.signal.aborted) abort.abort(new CallEndedError(code, message));
    };
    const onCancelled = (): void => end(grpc.status.CANCELLED, `${method}: the call was cancelled`);
    call.on('cancelled', onCancelled);
    // grpc-js ends a call whose deadline passed on its own; this timer makes the handler see it even where it would not.
    const deadline = call.getDeadline();
    const deadlineMs = deadline instanceof Date ? deadline.getTime() : deadline;
    let timer: NodeJS.Timeout | undefined;
    if (Number.isFinite(deadlineMs)) {
      timer = setTimeout(() => end(grpc.status.DEADLINE_EXCEEDED, `${method}: the deadline passed`), Math.max(0, Math.min(deadlineMs - Date.now(), 2 ** 31 - 1)));
    }
    const sink: ResponseSink<unknown> = {
      signal: abort.signal,
      send(response: unknown): Promise<void> {
        if (abort.signal.aborted) return Promise.reject(abort.signal.reason);
        if (call.write(response)) return Promise.resolve();
        return new Promise<void>((resolve, reject) => {
          const done = (): void => {
            call.off('drain', onDrain);
            abort.signal.removeEventListener('abort', onAbort);
          };
          const onDrain = (): void => {
            done();
            resolve();
          };
          const onAbort = (): void => {
            done();
            reject(abort.signal.reason);
          };
          call.on('drain', onDrain);
          abort.signal.addEventListener('abort', onAbort);
        });
      },
    };
    const ctx: CallContext = {
      method,
      deadline,
      get cancelled() {
        return call.cancelled || abort.signal.aborted;
      },
    };
    const finish = (code: grpc.status, err?: unknown): void => {
      if (timer) clearTimeout(timer);
      call.off('cancelled', onCancelled);
      const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
      if (err === undefined) log.debug({ method, durationMs, code: grpc.status[code] }, 'rpc');
      else log.error({ method, durationMs, code: grpc.status[code], err }, 'rpc failed');
      inFlight.leave();
    };
    Promise.resolve()
      .then(() => impl(call.request, sink, ctx))
      .then(
        () => {
          if (abort.signal.aborted) {
            finish((abort.signal.reason as CallEndedError).code);
            return;
          }
          call.end();
          finish(grpc.status.OK);
        },
        (err: unknown) => {
          if (abort.signal.aborted && (err === abort.signal.reason || call.cancelled)) {
            // The call is over already: nothing can be sent, and it is not the handler's failure.
            const reason = abort.signal.reason as CallEndedError;
            if (reason.code === grpc.status.DEADLINE_EXCEEDED && !call.cancelled) call.emit('error', { code: reason.code, details: reason.message });
            finish(reason.code);
            return;
          }
          const { code, message } = toGrpcStatus(err);
          call.emit('error', { code, details: message });
          finish(code, err);
        },
      );
  };
}

function unimplemented(method: string, serverStream: boolean, log: Logger): grpc.UntypedHandleCall {
  const details = boundMessage(`${method} is not implemented by peapod`);
  if (serverStream) {
    return (call: grpc.ServerWritableStream<unknown, unknown>) => {
      log.debug({ method, code: 'UNIMPLEMENTED' }, 'rpc');
      call.emit('error', { code: grpc.status.UNIMPLEMENTED, details });
    };
  }
  return (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    log.debug({ method, code: 'UNIMPLEMENTED' }, 'rpc');
    callback({ code: grpc.status.UNIMPLEMENTED, details });
  };
}
