import type { ListMetricDescriptorsResponse } from '../../generated/runtime/v1/ListMetricDescriptorsResponse';
import { allMetricDescriptors } from '../metrics/descriptors';

/**
 * CRI `ListMetricDescriptors`: the name, help and label keys of every
 * metric ListPodSandboxMetrics reports (runtime-service/metrics/descriptors.ts).
 * The kubelet reads them once, when its CRI metrics collector starts.
 */
export function listMetricDescriptors() {
  const descriptors = allMetricDescriptors().map((m) => ({ name: m.name, help: m.help, label_keys: [...m.labelKeys] }));
  return async (): Promise<ListMetricDescriptorsResponse> => ({ descriptors });
}
