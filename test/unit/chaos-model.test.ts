import { expect } from 'chai';
import { CtrModel, Listing, PodModel, reconcile, World } from '../chaos/model';

/** The crash test's checker (test/chaos/model.ts) must see each kind of fault. */
describe('crash test model: reconcile', () => {
  const pod = (over: Partial<PodModel> = {}): PodModel => ({ name: 'p', config: {}, id: 'P', exists: 'yes', ready: 'yes', busy: false, ...over });
  const ctr = (p: PodModel, over: Partial<CtrModel> = {}): CtrModel => ({ name: 'c', pod: p, image: 'img', id: 'C', exists: 'yes', state: 'CONTAINER_RUNNING', busy: false, ...over });
  const world = (pods: PodModel[], ctrs: CtrModel[]): World => ({ pods, ctrs, images: [{ ref: 'reg/extra:v1', present: 'no', busy: false }] });
  const listing = (over: Partial<Listing> = {}): Listing => ({
    pods: [{ id: 'P', name: 'p', state: 'SANDBOX_READY' }],
    ctrs: [{ id: 'C', podId: 'P', name: 'c', state: 'CONTAINER_RUNNING' }],
    imageTags: [],
    ...over,
  });

  it('holds when the listing agrees with every fact', () => {
    const p = pod();
    expect(reconcile(world([p], [ctr(p)]), listing())).to.deep.equal([]);
  });

  it('sees an acknowledged container lost, one removed that came back, and one never asked for', () => {
    const p = pod();
    expect(reconcile(world([p], [ctr(p)]), listing({ ctrs: [] }))[0]).to.contain('is lost');
    const q = pod();
    expect(reconcile(world([q], [ctr(q, { exists: 'no' })]), listing())[0]).to.contain('came back');
    expect(reconcile(world([pod()], []), listing())[0]).to.contain('never asked for');
  });

  it('sees a running container that did not survive, and a stopped pod listed READY', () => {
    const p = pod();
    expect(reconcile(world([p], [ctr(p)]), listing({ ctrs: [{ id: 'C', podId: 'P', name: 'c', state: 'CONTAINER_EXITED' }] }))[0]).to.contain('listed CONTAINER_EXITED');
    const q = pod({ ready: 'no' });
    expect(reconcile(world([q], []), listing({ ctrs: [] }))[0]).to.contain('listed READY');
  });

  it('settles a creation cut off by the kill from the listing, adopting it by name', () => {
    const p = pod();
    const c = ctr(p, { id: undefined, exists: 'maybe', state: 'maybe' });
    const w = world([p], [c]);
    expect(reconcile(w, listing())).to.deep.equal([]);
    expect(c).to.deep.include({ id: 'C', exists: 'yes', state: 'CONTAINER_RUNNING' });
    const gone = ctr(p, { id: undefined, exists: 'maybe', state: 'maybe' });
    const w2 = world([p], [gone]);
    expect(reconcile(w2, listing({ ctrs: [] }))).to.deep.equal([]);
    expect(w2.ctrs).to.deep.equal([]);
  });

  it('sees an acknowledged image lost and a removed one back', () => {
    const w = world([], []);
    w.images[0].present = 'yes';
    expect(reconcile(w, listing({ pods: [], ctrs: [] }))[0]).to.contain('image reg/extra:v1 was pulled');
    const w2 = world([], []);
    expect(reconcile(w2, listing({ pods: [], ctrs: [], imageTags: ['reg/extra:v1'] }))[0]).to.contain('came back');
  });
});
