import { expect } from 'chai';
import { alreadyExists, PeapodError } from '../../src/common/errors';
import { canonicalJson, RetryStore } from '../../src/server/retry-store';

/** A caller whose cancellation the test sets. */
function caller(): { cancelled: boolean } {
  return { cancelled: false };
}

describe('kubelet retry bookkeeping (src/server/retry-store.ts)', () => {
  it('hands a resource finished after its caller left to the retry with the same config, once', async () => {
    const store = new RetryStore();
    let made = 0;
    const create = async (): Promise<string> => `id${++made}`;
    const first = caller();
    expect(await store.run('k', '{"a":1}', first, create, () => true)).to.deep.equal({ id: 'id1', how: 'created' });
    first.cancelled = true; // seen by the server after the call finished
    // Another config falls through to the domain, which refuses the name.
    const taken = async (): Promise<string> => Promise.reject(alreadyExists('name taken'));
    expect(await store.run('k', '{"a":2}', caller(), taken, () => true).then(() => 'ok', (e: PeapodError) => e.code)).to.equal('ALREADY_EXISTS');
    expect(await store.run('k', '{"a":1}', caller(), create, () => true)).to.deep.equal({ id: 'id1', how: 'handed over' });
    expect((await store.run('k', '{"a":1}', caller(), create, () => true)).id).to.equal('id2'); // once: then it is the domain's to refuse
  });

  it('keeps nothing for a caller that got its answer, nor for a resource no longer usable', async () => {
    const store = new RetryStore();
    let made = 0;
    const create = async (): Promise<string> => `id${++made}`;
    await store.run('k', 'c', caller(), create, () => true);
    expect((await store.run('k', 'c', caller(), create, () => true)).how).to.equal('created');
    const gone = caller();
    await store.run('j', 'c', gone, create, () => true);
    gone.cancelled = true;
    expect((await store.run('j', 'c', caller(), create, () => false)).how).to.equal('created'); // removed or started meanwhile
  });

  it('joins a creation in progress with the same config, refuses another config', async () => {
    const store = new RetryStore();
    let finish: (id: string) => void = () => undefined;
    const slow = store.run('k', 'c', caller(), () => new Promise<string>((r) => (finish = r)), () => true);
    const joined = store.run('k', 'c', caller(), async () => 'never', () => true);
    const other = await store.run('k', 'd', caller(), async () => 'never', () => true).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(other).to.be.instanceOf(PeapodError);
    expect((other as PeapodError).code).to.equal('ALREADY_EXISTS');
    finish('id1');
    expect(await slow).to.deep.equal({ id: 'id1', how: 'created' });
    expect(await joined).to.deep.equal({ id: 'id1', how: 'joined' });
    expect(store.size).to.equal(0); // joined: the retry has it
  });

  it('forgets after removal, after its keep time, and beyond its bound', async () => {
    let now = 0;
    const store = new RetryStore({ keepMs: 1000, maxEntries: 2, now: () => now });
    const gone = { cancelled: true };
    for (const k of ['a', 'b', 'c']) await store.run(k, 'c', gone, async () => `id-${k}`, () => true);
    expect(store.size).to.equal(2);
    store.forget('id-b');
    expect(store.size).to.equal(1);
    now = 5000;
    expect((await store.run('c', 'c', caller(), async () => 'new', () => true)).how).to.equal('created');
  });

  it('compares configs regardless of key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 2], c: 'x' } })).to.equal(canonicalJson({ a: { c: 'x', d: [1, 2] }, b: 1 }));
  });
});
