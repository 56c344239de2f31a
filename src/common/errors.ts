/**
 * peapod's error family: every error peapod means to raise is a PeapodError
 * with a stable string `code`, whatever front end reports it. The CRI server
 * turns codes into gRPC status codes in one place (src/server/status.ts);
 * the CLI turns them into exit codes. Messages name domain concepts ("user
 * bob not found in the image's /etc/passwd"), never a front end's field
 * paths; a front end that knows which of its fields a domain field came
 * from adds that path (see `withFieldPath`).
 *
 * The codes (the model is undici's `UND_ERR_*` and containerd's errdefs):
 * - NOT_FOUND: the object named does not exist.
 * - ALREADY_EXISTS: an object with that name or identity exists.
 * - INVALID_ARGUMENT: the request itself is wrong (a bad value, a missing field).
 * - WRONG_STATE: the object, or the host, is not in a state that allows the
 *   call (start of a running container, exec in an exited one, a pod network
 *   that is not configured).
 * - IN_USE: the object is used by another and cannot go (an image a
 *   container runs from).
 * - UNAVAILABLE: something peapod depends on cannot be reached now (a
 *   registry, a plugin that says "try again later").
 * - PERMISSION_DENIED: a registry or a policy refuses.
 * - RESOURCE_EXHAUSTED: a limit was reached (e.g. outstanding streaming URLs).
 * - TIMED_OUT: the call's own time limit ran out and what it started was
 *   stopped (an ExecSync's timeout).
 * - INTERNAL: peapod, a host tool or the runtime failed.
 */

/** The stable codes of the error family. */
export type PeapodErrorCode =
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'INVALID_ARGUMENT'
  | 'WRONG_STATE'
  | 'IN_USE'
  | 'UNAVAILABLE'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'TIMED_OUT'
  | 'INTERNAL';

/** Every code, for tables that must cover them all. */
export const PEAPOD_ERROR_CODES: readonly PeapodErrorCode[] = [
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'INVALID_ARGUMENT',
  'WRONG_STATE',
  'IN_USE',
  'UNAVAILABLE',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'TIMED_OUT',
  'INTERNAL',
];

/** Options of a PeapodError. */
export interface PeapodErrorOptions {
  /** The underlying error (logged, never shown as the message). */
  cause?: unknown;
  /**
   * The domain field at fault, in the terms of the spec that was given, e.g.
   * `hostname`, `mounts[2].hostPath`, `user.name`. A front end maps it to its
   * own field path.
   */
  field?: string;
}

/** The base of peapod's errors: a message, a stable code and, optionally, the field at fault. */
export class PeapodError extends Error {
  /** The stable code (see the module doc). */
  readonly code: PeapodErrorCode;
  /** The domain field at fault, when one is. */
  readonly field?: string;

  /**
   * @param code the stable code
   * @param message what went wrong, in domain terms
   * @param options cause and field
   */
  constructor(code: PeapodErrorCode, message: string, options: PeapodErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PeapodError';
    this.code = code;
    if (options.field !== undefined) this.field = options.field;
  }
}

/** The object named does not exist. */
export class NotFoundError extends PeapodError {
  constructor(message: string, options?: PeapodErrorOptions) {
    super('NOT_FOUND', message, options);
    this.name = 'NotFoundError';
  }
}

/** An object with that name or identity already exists. */
export class AlreadyExistsError extends PeapodError {
  constructor(message: string, options?: PeapodErrorOptions) {
    super('ALREADY_EXISTS', message, options);
    this.name = 'AlreadyExistsError';
  }
}

/** The request is wrong: a bad value or a missing field. */
export class InvalidArgumentError extends PeapodError {
  constructor(message: string, options?: PeapodErrorOptions) {
    super('INVALID_ARGUMENT', message, options);
    this.name = 'InvalidArgumentError';
  }
}

/** The object (or the host) is not in a state that allows the call. */
export class WrongStateError extends PeapodError {
  constructor(message: string, options?: PeapodErrorOptions) {
    super('WRONG_STATE', message, options);
    this.name = 'WrongStateError';
  }
}

/** The object is used by another and cannot be removed. */
export class InUseError extends PeapodError {
  constructor(message: string, options?: PeapodErrorOptions) {
    super('IN_USE', message, options);
    this.name = 'InUseError';
  }
}

/** A dependency cannot be reached now; the call may succeed later. */
export class UnavailableError extends PeapodError {
  constructor(message: string, options?: PeapodErrorOptions) {
    super('UNAVAILABLE', message, options);
    this.name = 'UnavailableError';
  }
}

/** A registry or a policy refuses. */
export class PermissionDeniedError extends PeapodError {
  constructor(message: string, options?: PeapodErrorOptions) {
    super('PERMISSION_DENIED', message, options);
    this.name = 'PermissionDeniedError';
  }
}

/** A limit was reached. */
export class ResourceExhaustedError extends PeapodError {
  constructor(message: string, options?: PeapodErrorOptions) {
    super('RESOURCE_EXHAUSTED', message, options);
    this.name = 'ResourceExhaustedError';
  }
}

/** The call's time limit ran out; what it started was stopped. */
export class TimedOutError extends PeapodError {
  constructor(message: string, options?: PeapodErrorOptions) {
    super('TIMED_OUT', message, options);
    this.name = 'TimedOutError';
  }
}

/** peapod, a host tool or the runtime failed. */
export class InternalError extends PeapodError {
  constructor(message: string, options?: PeapodErrorOptions) {
    super('INTERNAL', message, options);
    this.name = 'InternalError';
  }
}

/** NOT_FOUND naming what was looked for. */
export function notFound(message: string, options?: PeapodErrorOptions): NotFoundError {
  return new NotFoundError(message, options);
}

/** ALREADY_EXISTS naming the existing object. */
export function alreadyExists(message: string, options?: PeapodErrorOptions): AlreadyExistsError {
  return new AlreadyExistsError(message, options);
}

/** INVALID_ARGUMENT naming the value at fault. */
export function invalidArgument(message: string, options?: PeapodErrorOptions): InvalidArgumentError {
  return new InvalidArgumentError(message, options);
}

/** WRONG_STATE: the object is in the wrong state for the call. */
export function wrongState(message: string, options?: PeapodErrorOptions): WrongStateError {
  return new WrongStateError(message, options);
}

/** IN_USE naming the users. */
export function inUse(message: string, options?: PeapodErrorOptions): InUseError {
  return new InUseError(message, options);
}

/** TIMED_OUT naming the limit that ran out. */
export function timedOut(message: string, options?: PeapodErrorOptions): TimedOutError {
  return new TimedOutError(message, options);
}

/** INTERNAL, usually wrapping the failure of a host tool as `cause`. */
export function internal(message: string, options?: PeapodErrorOptions): InternalError {
  return new InternalError(message, options);
}

/**
 * A copy of `err` whose message starts with a front end's field path, e.g.
 * `config.mounts[0].host_path: host path "/x" does not exist`. The copy has
 * the same class and code, no `field` (it is resolved), and `err` as cause.
 * Errors that are not PeapodErrors are returned unchanged.
 *
 * @param err the error thrown by the domain
 * @param path the front end's path of the field, e.g. `config.hostname`
 */
export function withFieldPath<E>(err: E, path: string): E {
  if (!(err instanceof PeapodError)) return err;
  const copy = Object.assign(Object.create(Object.getPrototypeOf(err) as object) as PeapodError, err) as PeapodError;
  delete (copy as { field?: string }).field;
  Object.defineProperties(copy, {
    message: { value: `${path}: ${err.message}`, writable: true, configurable: true },
    cause: { value: err, writable: true, configurable: true },
    stack: { value: err.stack, writable: true, configurable: true },
  });
  return copy as E;
}

/** The message of anything thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
