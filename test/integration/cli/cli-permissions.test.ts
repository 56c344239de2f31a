import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliEnv, makeCliEnv } from './cli-harness';

const modeOf = (p: string): number => fs.statSync(p).mode & 0o7777;

describe('peapod CLI: sets the modes of root and runroot at its start, as peapod-cri does', function () {
  this.timeout(60_000);
  let env: CliEnv;
  before(() => (env = makeCliEnv()));
  after(() => env.cleanup());

  it('makes root 0700, runroot 0710, their directories 0700 and the databases 0600, also where they were 0755 and 0644', async () => {
    for (const d of [env.root, env.runroot, path.join(env.root, 'containers'), path.join(env.runroot, 'containers'), path.join(env.root, 'storage')]) {
      fs.mkdirSync(d, { recursive: true });
      fs.chmodSync(d, 0o755);
    }
    fs.writeFileSync(path.join(env.root, 'state.db'), '');
    fs.chmodSync(path.join(env.root, 'state.db'), 0o644);
    const r = await env.run(['images', '-q']);
    expect(r.code, r.stderr).to.equal(0);
    expect(modeOf(env.root)).to.equal(0o700);
    expect(modeOf(env.runroot)).to.equal(0o710);
    for (const d of ['containers', 'sandboxes', 'storage']) expect(modeOf(path.join(env.root, d)), d).to.equal(0o700);
    expect(modeOf(path.join(env.runroot, 'containers'))).to.equal(0o700);
    for (const f of ['state.db', 'storage/images.db']) expect(modeOf(path.join(env.root, f)), f).to.equal(0o600);
  });
});
