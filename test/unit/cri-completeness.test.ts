import { expect } from 'chai';
import { imageServiceImpls, imageServiceStreams } from '../../src/image-service/cri';
import type { ImageContext } from '../../src/image-service/cri/context';
import { runtimeServiceImpls, runtimeServiceStreams } from '../../src/runtime-service/cri';
import type { RuntimeContext } from '../../src/runtime-service/cri/context';
import { loadCri } from '../../src/server/proto';

/**
 * A stand-in context: every property is another stand-in and calling one
 * throws. The impl maps are built from it but never run, so this checks
 * only which methods have an implementation.
 */
function standIn<T>(): T {
  const handler: ProxyHandler<() => void> = {
    get: (_t, key) => (key === 'then' ? undefined : new Proxy(() => undefined, handler)),
    apply: () => {
      throw new Error('a stand-in context is not for running RPCs');
    },
  };
  return new Proxy(() => undefined, handler) as unknown as T;
}

describe('CRI v1 completeness: every RPC of proto/api.proto has an implementation', () => {
  const cri = loadCri();
  const services = [
    {
      name: 'RuntimeService',
      service: cri.runtime.v1.RuntimeService.service,
      unary: Object.keys(runtimeServiceImpls(standIn<RuntimeContext>())),
      streams: Object.keys(runtimeServiceStreams(standIn<RuntimeContext>())),
    },
    {
      name: 'ImageService',
      service: cri.runtime.v1.ImageService.service,
      unary: Object.keys(imageServiceImpls(standIn<ImageContext>())),
      streams: Object.keys(imageServiceStreams(standIn<ImageContext>(), () => 1)),
    },
  ];

  for (const s of services) {
    it(`leaves no ${s.name} method to the UNIMPLEMENTED default`, () => {
      const missing: string[] = [];
      for (const [method, def] of Object.entries(s.service)) {
        const served = def.responseStream ? s.streams.includes(method) : s.unary.includes(method);
        if (!served) missing.push(method);
      }
      expect(missing, `${s.name} methods without an implementation`).to.deep.equal([]);
    });

    it(`implements nothing ${s.name} does not declare, each in the right shape`, () => {
      const declared = s.service as Record<string, { responseStream: boolean }>;
      for (const m of s.unary) expect(declared[m]?.responseStream, `${m} as unary`).to.equal(false);
      for (const m of s.streams) expect(declared[m]?.responseStream, `${m} as a server stream`).to.equal(true);
    });
  }
});
