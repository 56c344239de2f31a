import { expect } from 'chai';
import * as fs from 'node:fs';
import { CRI_PROTO_PATH, loadCri } from '../../src/server/proto';

/**
 * The RPCs of k8s.io/cri-api pkg/apis/runtime/v1/api.proto, as published.
 * If this list and the proto disagree, the proto is wrong: it is the wire
 * contract with the kubelet.
 */
const PUBLISHED_RUNTIME_RPCS = [
  'Version', 'RunPodSandbox', 'StopPodSandbox', 'RemovePodSandbox', 'PodSandboxStatus', 'ListPodSandbox',
  'StreamPodSandboxes', 'CreateContainer', 'StartContainer', 'StopContainer', 'RemoveContainer', 'ListContainers',
  'StreamContainers', 'ContainerStatus', 'UpdateContainerResources', 'ReopenContainerLog', 'ExecSync', 'Exec',
  'Attach', 'PortForward', 'ContainerStats', 'ListContainerStats', 'StreamContainerStats', 'PodSandboxStats',
  'ListPodSandboxStats', 'StreamPodSandboxStats', 'UpdateRuntimeConfig', 'Status', 'CheckpointContainer',
  'CheckpointPod', 'RestorePod', 'GetContainerEvents', 'ListMetricDescriptors', 'ListPodSandboxMetrics',
  'StreamPodSandboxMetrics', 'RuntimeConfig', 'UpdatePodSandboxResources',
];
const PUBLISHED_IMAGE_RPCS = ['ListImages', 'StreamImages', 'ImageStatus', 'PullImage', 'RemoveImage', 'ImageFsInfo'];

describe('CRI v1 proto', () => {
  const cri = loadCri();

  it('declares package runtime.v1', () => {
    expect(fs.readFileSync(CRI_PROTO_PATH, 'utf8')).to.match(/^package runtime\.v1;$/m);
  });

  it('has exactly the published RuntimeService RPCs', () => {
    expect(Object.keys(cri.runtime.v1.RuntimeService.service).sort()).to.deep.equal([...PUBLISHED_RUNTIME_RPCS].sort());
  });

  it('has exactly the published ImageService RPCs', () => {
    expect(Object.keys(cri.runtime.v1.ImageService.service).sort()).to.deep.equal([...PUBLISHED_IMAGE_RPCS].sort());
  });

  it('has 43 RPCs in all', () => {
    expect(PUBLISHED_RUNTIME_RPCS.length + PUBLISHED_IMAGE_RPCS.length).to.equal(43);
  });

  it('keeps int64 nanosecond timestamps exact as decimal strings', () => {
    // Round-trip a value above 2^53 through the same (de)serializers the server uses.
    const method = cri.runtime.v1.RuntimeService.service.ContainerStatus;
    const ns = '1796012167370123456';
    const bytes = method.responseSerialize({ status: { id: 'c', created_at: ns, started_at: '-1' } });
    const back = method.responseDeserialize(bytes);
    expect(back.status?.created_at).to.equal(ns);
    expect(back.status?.started_at).to.equal('-1');
    expect(back.status?.finished_at).to.equal('0');
  });
});
