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

  it('reads KeyValue.value (env values) as bytes, as cri-api does since d3d9c71; a client of the older `string` proto sends the same wire form', () => {
    // CreateContainerRequest{config: ContainerConfig{envs[6]: KeyValue{key[1]: "A", value[2]: "b=c"}}}, by hand:
    // a length-delimited field is the same bytes whether the sender's proto says string or bytes.
    const kv = Buffer.from([0x0a, 0x01, 0x41, 0x12, 0x03, 0x62, 0x3d, 0x63]);
    const config = Buffer.concat([Buffer.from([0x32, kv.length]), kv]);
    const request = Buffer.concat([Buffer.from([0x12, config.length]), config]);
    const method = cri.runtime.v1.RuntimeService.service.CreateContainer;
    const env = method.requestDeserialize(request).config?.envs[0];
    expect(env?.key).to.equal('A');
    expect(Buffer.isBuffer(env?.value) && env.value.toString('utf8')).to.equal('b=c');
    // And a value that is not UTF-8 survives the round trip byte for byte.
    const raw = Buffer.from([0xff, 0x00, 0xfe]);
    const again = method.requestDeserialize(method.requestSerialize({ config: { envs: [{ key: 'B', value: raw }] } })).config?.envs[0];
    expect(again?.value).to.deep.equal(raw);
  });
});
