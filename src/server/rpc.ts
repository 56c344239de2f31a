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
 * unary methods run their `impls` entry; every other method (including the
 * streaming ones peapod does not serve yet) answers UNIMPLEMENTED naming the
 * method. Each call is logged at debug level with method, duration (ms) and
 * status code; failures are logged at error level with the cause.
 *
 * @param service the service definition loaded from the proto
 * @param impls the unary implementations, by method name
 * @param log the logger
 * @param inFlight counts running calls for a graceful shutdown
 * @param observer told of each finished unary call (optional)
 * @returns an object suitable for `grpc.Server.addService`.
 */
export function buildHandlers<D extends grpc.ServiceDefinition>(
  service: D,
  impls: UnaryImpls<D>,
  log: Logger,
  inFlight: InFlight,
  observer?: RpcObserver,
): grpc.UntypedServiceImplementation {
  const handlers: grpc.UntypedServiceImplementation = {};
  for (const [name, def] of Object.entries(service)) {
    const method = def.path;
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
