import { expect } from 'chai';
import type { ListPodSandboxResponse } from '../../src/generated/runtime/v1/ListPodSandboxResponse';
import type { PodSandbox } from '../../src/generated/runtime/v1/PodSandbox';
import type { PodSandboxStatusResponse } from '../../src/generated/runtime/v1/PodSandboxStatusResponse';
import { deepFreeze } from '../../src/common/deep-freeze';
import { EncodedList } from '../../src/runtime-service/cri/encoded-list';
import { podSandboxStatus } from '../../src/runtime-service/cri/pod-sandbox-status';
import type { RuntimeContext } from '../../src/runtime-service/cri/context';
import type { SandboxRecord } from '../../src/runtime-service/sandbox/record';
import { toPodSandbox } from '../../src/runtime-service/cri/pod-sandbox-view';
import { attachEncoding, attachedEncoding, int64Field } from '../../src/server/encoded-response';
import { loadCri, memoizeResponseEncoding } from '../../src/server/proto';

const runtime = loadCri().runtime.v1.RuntimeService.service;

function record(id: string, labels: Record<string, string> = {}): SandboxRecord {
  return deepFreeze({
    version: 2,
    id,
    owner: 'cri',
    metadata: { name: `pod-${id.slice(0, 4)}`, uid: 'u', namespace: 'n', attempt: 0 },
    state: 'ready',
    createdAt: '1796164070183162748',
    runtimeHandler: 'runc',
    labels,
    annotations: { 'a.b/c': 'd' },
    logDirectory: '',
    hostNetwork: false,
    namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' },
    namespaces: {},
    hostnamePath: '',
    hostsPath: '',
    resolvConfPath: '',
    cgroupParent: '/peapod/pod-x',
    sysctls: {},
    ip: '198.18.0.7',
    additionalIps: [],
    config: {},
  } as SandboxRecord);
}

describe('encoded responses (server/encoded-response.ts, cri/encoded-list.ts)', () => {
  it('encodes an int64 field as protobufjs does, 0 as nothing', () => {
    const serialize = runtime.PodSandboxStatus.responseSerialize;
    for (const v of ['1', '127', '128', '16384', '1796164072250605447', '9223372036854775807', '-1', '-9223372036854775808']) {
      expect(int64Field(4, v).equals(serialize({ timestamp: v })), v).to.equal(true);
    }
    expect(int64Field(4, '0').length).to.equal(0);
    expect(() => int64Field(4, '9223372036854775808')).to.throw(RangeError, /outside int64/);
  });

  it('sends the bytes attached to a response instead of encoding it', () => {
    const service = memoizeResponseEncoding(runtime);
    const response = attachEncoding({ version: 'not these bytes' }, Buffer.from([0x0a, 0x01, 0x78]));
    expect(attachedEncoding(response)?.toString('hex')).to.equal('0a0178');
    expect(service.Version.responseSerialize(response).toString('hex')).to.equal('0a0178');
    // Without attached bytes: encoded as before.
    expect(service.Version.responseSerialize({ version: 'x' }).equals(runtime.Version.responseSerialize({ version: 'x' }))).to.equal(true);
  });

  it('makes a list response the same bytes as encoding it whole, each record encoded once', () => {
    let views = 0;
    let encodes = 0;
    const serialize = runtime.ListPodSandbox.responseSerialize;
    const list = new EncodedList<SandboxRecord, PodSandbox, ListPodSandboxResponse>(
      (r) => (views++, toPodSandbox(r)),
      (items) => ({ items }),
      (res) => (encodes++, serialize(res)),
    );
    const recs = [record('a'.repeat(64), { app: 'x' }), record('b'.repeat(64)), record('c'.repeat(64), { k: 'v', l: 'w' })];
    for (const some of [[], recs.slice(0, 1), recs]) {
      const res = list.response(some);
      expect(res.items).to.deep.equal(some.map(toPodSandbox));
      expect(attachedEncoding(res)?.equals(serialize({ items: some.map(toPodSandbox) })), `${some.length} entries`).to.equal(true);
    }
    expect([views, encodes]).to.deep.equal([3, 3]);
    // A changed record is a new object: only it is encoded again.
    const changed = [recs[0], record('b'.repeat(64), { now: 'labelled' }), recs[2]];
    const res = list.response(changed);
    expect([views, encodes]).to.deep.equal([4, 4]);
    expect(runtime.ListPodSandbox.responseDeserialize(attachedEncoding(res)!).items.map((p) => p.labels)).to.deep.equal([{ app: 'x' }, { now: 'labelled' }, { k: 'v', l: 'w' }]);
  });

  it('answers PodSandboxStatus with the bytes of its status, info and new timestamp', async () => {
    const rec = record('d'.repeat(64), { app: 'y' });
    const ctx = { sandboxes: { getShared: () => rec, refresh: (r: SandboxRecord) => r } } as unknown as RuntimeContext;
    const status = podSandboxStatus(ctx);
    const first = await status({ pod_sandbox_id: rec.id, verbose: false });
    const second = await status({ pod_sandbox_id: rec.id, verbose: false });
    expect(second.status).to.equal(first.status);
    for (const res of [first, second]) {
      const bytes = attachedEncoding(res as PodSandboxStatusResponse & object);
      expect(bytes?.equals(runtime.PodSandboxStatus.responseSerialize(res))).to.equal(true);
      const decoded = runtime.PodSandboxStatus.responseDeserialize(bytes!);
      expect(decoded.timestamp).to.equal(res.timestamp);
      expect(decoded.status?.id).to.equal(rec.id);
      expect(decoded.status?.network?.ip).to.equal('198.18.0.7');
    }
  });
});
