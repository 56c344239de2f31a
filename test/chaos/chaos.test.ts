import { expect } from 'chai';
import { runChaos } from './chaos';
import { randomSeed } from './rng';

/**
 * The crash-consistency test in CI: a few rounds (PEAPOD_CHAOS_ROUNDS,
 * default 8) with a fresh seed each run (PEAPOD_CHAOS_SEED to replay one).
 * `npm run chaos -- --rounds N --seed S` runs more.
 */
describe('crash consistency: SIGKILL of peapod-cri during a mixed workload (real runc, conmon, CNI, registry)', function () {
  const rounds = Number(process.env.PEAPOD_CHAOS_ROUNDS ?? 8);
  const seed = process.env.PEAPOD_CHAOS_SEED !== undefined ? Number(process.env.PEAPOD_CHAOS_SEED) : randomSeed();
  this.timeout(rounds * 120_000 + 120_000);

  it(`loses nothing acknowledged, brings nothing removed back, keeps running containers running and leaves nothing behind (${rounds} rounds)`, async () => {
    console.log(`      chaos: seed ${seed} (replay: PEAPOD_CHAOS_SEED=${seed}, or npm run chaos -- --rounds ${rounds} --seed ${seed})`);
    const report = await runChaos({ rounds, seed, drainEvery: 4 });
    console.log(`      chaos: ${report.rounds} rounds, ${report.kills} kills, ${report.drains} drains; calls ${report.calls.acknowledged} answered, ${report.calls.cutOff} cut off, ${report.calls.refused} refused`);
    for (const n of report.notes) console.log(`      chaos note: ${n}`);
    expect(report.rounds).to.equal(rounds);
  });
});
