import { status } from '@grpc/grpc-js';
import { CriError, invalidArgument } from '../server/errors';
import { InvalidReferenceError } from './reference';
import { RegistriesConfError, RegistryBlockedError } from './registries-conf';
import { RegistryError } from './registry-client';
import { PullError } from './puller';

/**
 * Maps an image-library error to the CRI status a caller should see:
 * a bad reference → INVALID_ARGUMENT; registry 401/403 → PERMISSION_DENIED
 * (UNAUTHENTICATED for 401 without credentials is not distinguished);
 * 404 → NOT_FOUND; blocked registry → PERMISSION_DENIED; an unreadable
 * registries.conf → FAILED_PRECONDITION; a bad image
 * (digest mismatch, no platform, schema 1) → FAILED_PRECONDITION; network
 * failures → UNAVAILABLE. Other errors pass through (INTERNAL).
 */
export function toCriError(err: unknown, field: string): unknown {
  if (err instanceof CriError) return err;
  if (err instanceof InvalidReferenceError) return invalidArgument(`${field}: ${err.message}`);
  if (err instanceof RegistryBlockedError) return new CriError(status.PERMISSION_DENIED, err.message);
  if (err instanceof RegistriesConfError) return new CriError(status.FAILED_PRECONDITION, err.message);
  if (err instanceof PullError) return new CriError(status.FAILED_PRECONDITION, err.message);
  if (err instanceof RegistryError) {
    if (err.status === 401 || err.status === 403) return new CriError(status.PERMISSION_DENIED, err.message);
    if (err.status === 404) return new CriError(status.NOT_FOUND, err.message);
    return new CriError(status.UNAVAILABLE, err.message);
  }
  return err;
}
