import { expect } from 'chai';
import { usesSpawnServer } from '../../src/cli/spawn-server';

describe('CLI: which commands start the spawn server (cli/spawn-server.ts)', () => {
  it('the commands that start several host programs do; pod create on no network or the host\'s (one program, the pinner) does not', () => {
    expect(usesSpawnServer(['run'])).to.equal(true);
    expect(usesSpawnServer(['pod', 'rm'])).to.equal(true);
    expect(usesSpawnServer(['pod', 'create'])).to.equal(true, 'the default network is the bridge (CNI plugins)');
    expect(usesSpawnServer(['pod', 'create'], { network: 'bridge' })).to.equal(true);
    expect(usesSpawnServer(['pod', 'create'], { network: 'none' })).to.equal(false);
    expect(usesSpawnServer(['pod', 'create'], { net: 'host' })).to.equal(false);
    expect(usesSpawnServer(['ps'])).to.equal(false);
    expect(usesSpawnServer(['exec'])).to.equal(false);
  });
});
