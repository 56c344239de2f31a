/**
 * `npm run chaos -- --rounds N --seed S [--drain-every K]`: the
 * crash-consistency test (chaos.ts) with more rounds than CI runs. Prints
 * the seed first; exits 1 on the first failing round, naming it.
 */
import { ChaosFailure, runChaos } from './chaos';
import { randomSeed } from './rng';

function flag(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function main(argv: string[]): Promise<number> {
  const rounds = Number(flag(argv, '--rounds') ?? 100);
  const seed = flag(argv, '--seed') !== undefined ? Number(flag(argv, '--seed')) : randomSeed();
  const drainEvery = Number(flag(argv, '--drain-every') ?? 5);
  if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff || !Number.isInteger(drainEvery) || drainEvery < 1) {
    process.stderr.write('usage: npm run chaos -- [--rounds N] [--seed S (0..4294967295)] [--drain-every K]\n');
    return 2;
  }
  const started = Date.now();
  process.stdout.write(`chaos: ${rounds} rounds, seed ${seed}\n`);
  try {
    const report = await runChaos({ rounds, seed, drainEvery, log: (l) => process.stdout.write(`${l}\n`) });
    const secs = ((Date.now() - started) / 1000).toFixed(0);
    process.stdout.write(
      `chaos: passed ${report.rounds} rounds in a row in ${secs} s, seed ${seed}: ${report.kills} kills, ${report.drains} drains; calls ${report.calls.acknowledged} answered, ${report.calls.cutOff} cut off, ${report.calls.refused} refused\n`,
    );
    for (const n of report.notes) process.stdout.write(`note: ${n}\n`);
    return 0;
  } catch (err) {
    process.stdout.write(`chaos: FAILED${err instanceof ChaosFailure ? ` in round ${err.round}` : ''}: ${(err as Error).message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => process.exit(code));
