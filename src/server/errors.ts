import { status as GrpcStatus } from '@grpc/grpc-js';

/**
 * An error that carries the gRPC status code a CRI caller should see.
 *
 * Handlers throw it for every expected failure (bad input, missing object,
 * wrong state); the RPC wrapper in rpc.ts turns it into the call's status and
 * message. Anything else thrown reaches the caller as INTERNAL.
 */
export class CriError extends Error {
  /** The gRPC status code, e.g. `status.NOT_FOUND`. */
  readonly code: GrpcStatus;

  /**
   * @param code the gRPC status code to answer with
   * @param message a message that names the offending field or object
   * @param options.cause the underlying error, logged but not sent
   */
  constructor(code: GrpcStatus, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CriError';
    this.code = code;
  }
}

/** INVALID_ARGUMENT naming the field at fault. */
export function invalidArgument(message: string): CriError {
  return new CriError(GrpcStatus.INVALID_ARGUMENT, message);
}

/** NOT_FOUND naming what was looked for. */
export function notFound(message: string): CriError {
  return new CriError(GrpcStatus.NOT_FOUND, message);
}

/** ALREADY_EXISTS naming the existing object. */
export function alreadyExists(message: string): CriError {
  return new CriError(GrpcStatus.ALREADY_EXISTS, message);
}

/** FAILED_PRECONDITION: the object is in the wrong state for the call. */
export function failedPrecondition(message: string): CriError {
  return new CriError(GrpcStatus.FAILED_PRECONDITION, message);
}
