import { status as GrpcStatus } from '@grpc/grpc-js';
import { boundMessage } from '../common/bounded-text';
import { PeapodError, PeapodErrorCode } from '../common/errors';
import { PullError } from '../image-service/puller';
import { RegistriesConfError, RegistryBlockedError } from '../image-service/registries-conf';
import { CniPluginError } from '../runtime-service/cni/plugin-exec';

/**
 * The one place where errors become gRPC status codes for CRI callers.
 *
 * PeapodErrors map by their stable code (CODE_TO_GRPC). A few library
 * errors keep the codes CRI callers have always seen, which their PeapodError
 * code alone would not give:
 * - a CNI plugin failure maps by its CNI error code (CNI spec "Error codes"):
 *   3 → NOT_FOUND, 5 → INTERNAL, 11 → UNAVAILABLE, 1, 2, 4, 6, 7 →
 *   FAILED_PRECONDITION, anything else (plugin-specific 100+ or no error
 *   object) → UNKNOWN; the message says which way the network was going;
 * - an unreadable registries.conf and an image that cannot be used (digest
 *   mismatch, no image for the platform, schema 1) → FAILED_PRECONDITION,
 *   as CRI-O answers;
 * - a registry blocked by registries.conf → PERMISSION_DENIED.
 * Anything else thrown (a bug) is INTERNAL with its message.
 *
 * Every message is bounded here (`boundMessage`, 4 KiB of UTF-8): a status
 * message travels as an HTTP/2 trailer, and one over the peer's header-list
 * limit is never delivered (issue 17; see docs/security.md).
 */

/** gRPC code of each PeapodError code. */
export const CODE_TO_GRPC: Readonly<Record<PeapodErrorCode, GrpcStatus>> = {
  NOT_FOUND: GrpcStatus.NOT_FOUND,
  ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  WRONG_STATE: GrpcStatus.FAILED_PRECONDITION,
  IN_USE: GrpcStatus.FAILED_PRECONDITION,
  UNAVAILABLE: GrpcStatus.UNAVAILABLE,
  PERMISSION_DENIED: GrpcStatus.PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: GrpcStatus.RESOURCE_EXHAUSTED,
  // As containerd answers an ExecSync whose timeout ran out; the kubelet takes it for a timed-out probe.
  TIMED_OUT: GrpcStatus.DEADLINE_EXCEEDED,
  INTERNAL: GrpcStatus.INTERNAL,
};

/** gRPC code for a CNI error code (CNI spec "Error codes"). */
export function grpcCodeOfCni(code: number | undefined): GrpcStatus {
  switch (code) {
    case 3:
      return GrpcStatus.NOT_FOUND; // unknown container or does not exist
    case 5:
      return GrpcStatus.INTERNAL; // I/O failure
    case 11:
      return GrpcStatus.UNAVAILABLE; // try again later
    case 1: // incompatible CNI version
    case 2: // unsupported field in network configuration
    case 4: // invalid necessary environment variables
    case 6: // failed to decode content
    case 7: // invalid network config
      return GrpcStatus.FAILED_PRECONDITION;
    default:
      return GrpcStatus.UNKNOWN; // plugin-specific (100+) or no error object
  }
}

/** A gRPC status: the code and the message sent as the call's details. */
export interface GrpcStatusOf {
  code: GrpcStatus;
  message: string;
}

/**
 * The gRPC status a CRI caller sees for `err` (see the module doc).
 * @param err anything a handler threw
 */
export function toGrpcStatus(err: unknown): GrpcStatusOf {
  const { code, message } = unboundedStatus(err);
  return { code, message: boundMessage(message) };
}

function unboundedStatus(err: unknown): GrpcStatusOf {
  if (err instanceof CniPluginError) {
    const way = err.command === 'DEL' ? 'tearing down' : 'setting up';
    return { code: grpcCodeOfCni(err.cniCode), message: `${way} the pod network: ${err.message}` };
  }
  if (err instanceof RegistryBlockedError) return { code: GrpcStatus.PERMISSION_DENIED, message: err.message };
  if (err instanceof RegistriesConfError || err instanceof PullError) return { code: GrpcStatus.FAILED_PRECONDITION, message: err.message };
  if (err instanceof PeapodError) return { code: CODE_TO_GRPC[err.code], message: err.message };
  return { code: GrpcStatus.INTERNAL, message: err instanceof Error ? err.message : String(err) };
}
