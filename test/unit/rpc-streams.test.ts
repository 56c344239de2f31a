import { expect } from 'chai';
import { ResponseSink, streamInChunks } from '../../src/server/rpc';

function sink<T>(sent: T[], controller = new AbortController()): ResponseSink<T> {
  return {
    signal: controller.signal,
    async send(r: T) {
      sent.push(r);
    },
  };
}

describe('streamInChunks (a unary list as a chunked stream)', () => {
  const ctx = { method: '/x', deadline: Infinity, cancelled: false };

  it('sends the items in responses of at most the batch size, in order', async () => {
    const sent: { items: number[] }[] = [];
    await streamInChunks(async () => [1, 2, 3, 4, 5], (items: number[]) => ({ items }), 2)({}, sink(sent), ctx);
    expect(sent).to.deep.equal([{ items: [1, 2] }, { items: [3, 4] }, { items: [5] }]);
  });

  it('sends nothing for an empty list and reads a configured batch size at each call', async () => {
    const sent: { items: number[] }[] = [];
    let size = 3;
    const impl = streamInChunks(async () => [1, 2, 3, 4], (items: number[]) => ({ items }), () => size);
    await impl({}, sink(sent), ctx);
    size = 4;
    await impl({}, sink(sent), ctx);
    expect(sent.map((r) => r.items.length)).to.deep.equal([3, 1, 4]);
    const none: unknown[] = [];
    await streamInChunks(async () => [], (items: number[]) => ({ items }))({}, sink(none), ctx);
    expect(none).to.deep.equal([]);
  });

  it('stops once the call ended', async () => {
    const controller = new AbortController();
    controller.abort(new Error('gone'));
    const sent: unknown[] = [];
    const err = await streamInChunks(async () => [1, 2], (items: number[]) => ({ items }), 1)({}, sink(sent, controller), ctx).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).to.equal('gone');
    expect(sent).to.deep.equal([]);
  });
});
