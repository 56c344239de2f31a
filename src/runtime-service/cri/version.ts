import type { VersionRequest__Output } from '../../generated/runtime/v1/VersionRequest';
import type { VersionResponse } from '../../generated/runtime/v1/VersionResponse';
import type { RuntimeContext } from './context';

/** The CRI API version peapod serves. */
export const CRI_API_VERSION = 'v1';
/** The runtime name reported to the kubelet and crictl. */
export const RUNTIME_NAME = 'peapod';

/**
 * CRI `Version`: names the runtime. `version` is the kubelet-facing API
 * version (0.1.0 as every CRI runtime reports), runtime_version comes from
 * package.json, runtime_api_version is "v1". One frozen response, so it is
 * encoded once (server/proto.ts memoizes encodings by response object).
 */
export function version(ctx: RuntimeContext) {
  const response: VersionResponse = Object.freeze({
    version: '0.1.0',
    runtime_name: RUNTIME_NAME,
    runtime_version: ctx.version,
    runtime_api_version: CRI_API_VERSION,
  });
  return async (_req: VersionRequest__Output): Promise<VersionResponse> => response;
}
