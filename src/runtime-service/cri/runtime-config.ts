import type { RuntimeConfigRequest__Output } from '../../generated/runtime/v1/RuntimeConfigRequest';
import type { RuntimeConfigResponse } from '../../generated/runtime/v1/RuntimeConfigResponse';
import type { RuntimeContext } from './context';

/**
 * CRI `RuntimeConfig`: tells the kubelet which cgroup driver peapod uses
 * (`linux.cgroup_driver`: CGROUPFS by default, SYSTEMD when
 * `runtime.cgroup_driver = "systemd"`); the kubelet must use the same.
 */
export function runtimeConfig(ctx: RuntimeContext) {
  return async (_req: RuntimeConfigRequest__Output): Promise<RuntimeConfigResponse> => ({
    linux: { cgroup_driver: ctx.config.runtime.cgroup_driver === 'systemd' ? 'SYSTEMD' : 'CGROUPFS' },
  });
}
