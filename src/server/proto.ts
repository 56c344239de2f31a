import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../generated/api';
import { attachedEncoding } from './encoded-response';

/**
 * Loader options shared by the server, the test client and the type generator
 * (scripts/gen-proto-types.js passes the same flags):
 * - keepCase: field names exactly as in the proto (`pod_sandbox_id`).
 * - longs: String: int64/uint64 fields (nanosecond timestamps, byte counts)
 *   as decimal strings, so no value above 2^53 loses precision.
 * - enums: String: enum values by name (`CONTAINER_RUNNING`).
 * - defaults/oneofs: absent fields read as their proto3 defaults.
 */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** Absolute path of the CRI v1 proto shipped with peapod. */
export const CRI_PROTO_PATH = path.resolve(__dirname, '..', '..', '..', 'proto', 'api.proto');

let cached: ProtoGrpcType | undefined;

/**
 * Loads the CRI v1 API (package runtime.v1) from proto/api.proto.
 *
 * @returns the typed grpc-js package object: `.runtime.v1.RuntimeService` and
 *   `.runtime.v1.ImageService` are client constructors carrying `.service`
 *   definitions for a server.
 * @throws when the proto file is missing or does not parse.
 */
export function loadCri(): ProtoGrpcType {
  if (!cached) {
    const definition = protoLoader.loadSync(CRI_PROTO_PATH, PROTO_LOADER_OPTIONS);
    cached = grpc.loadPackageDefinition(definition) as unknown as ProtoGrpcType;
  }
  return cached;
}

/**
 * The largest message the server accepts or sends, in bytes. The kubelet's
 * CRI client allows 16 MiB; list responses of a busy node can approach it.
 */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/**
 * A copy of a service definition whose response serializers remember the
 * bytes of the last responses they encoded, by response object (a WeakMap:
 * nothing is kept once the object is dropped). A handler that answers the
 * same, unchanged object again (the list RPCs, cri/response-memo.ts) is
 * then not encoded again. A response that carries its encoding
 * (encoded-response.ts `attachEncoding`: made of parts encoded earlier) is
 * sent as those bytes. Response objects must not be changed once
 * answered; the ones answered again are built from frozen records.
 */
export function memoizeResponseEncoding<D extends grpc.ServiceDefinition>(service: D): D {
  const out: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const [name, def] of Object.entries(service) as [string, grpc.MethodDefinition<unknown, unknown>][]) {
    const encoded = new WeakMap<object, Buffer>();
    const serialize = def.responseSerialize;
    out[name] = {
      ...def,
      responseSerialize: (value: unknown): Buffer => {
        if (value === null || typeof value !== 'object') return serialize(value);
        let bytes = attachedEncoding(value) ?? encoded.get(value);
        if (!bytes) {
          bytes = serialize(value);
          encoded.set(value, bytes);
        }
        return bytes;
      },
    };
  }
  return out as unknown as D;
}
