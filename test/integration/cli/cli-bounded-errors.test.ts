import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CliEnv, makeCliEnv } from './cli-harness';

/** 120 KB of one character: longer than any bound. */
const BIG = 'b'.repeat(120_000);
/** An env file with one variable of 140 KB (written in before()). */
let ENV_FILE = '';

/**
 * Issue 17 (second pass): every `Error: …` line of the CLI is one short
 * line that quotes the input with its length, also on the paths that wrote
 * their own lines (rmi, pod rm) and for flags the CRI bounds (names, env,
 * labels, hostname, working directory).
 */
describe('peapod CLI: bounded error lines for huge inputs (issue 17)', function () {
  this.timeout(120_000);
  let env: CliEnv;
  before(() => {
    env = makeCliEnv();
    ENV_FILE = path.join(env.dir, 'big.env');
    fs.writeFileSync(ENV_FILE, `A=${'b'.repeat(140_000)}\n`);
  });
  after(() => env.cleanup());

  const cases: [string, string[], number, RegExp][] = [
    ['rmi', ['rmi', BIG], 1, /^Error: "b+…" \(120000 bytes\): image not known$/],
    ['pod rm', ['pod', 'rm', BIG], 1, /^Error: no pod with name or ID "b+…" \(120000 bytes\) found: no such pod$/],
    ['pod create --name', ['pod', 'create', '--name', BIG], 125, /^Error: --name "b+…" \(120000 bytes\): names are/],
    ['create --name', ['create', '--name', BIG, 'busybox'], 125, /^Error: --name "b+…" \(120000 bytes\): names must match .*at most 253 characters/],
    // (-e itself cannot carry more than the kernel's MAX_ARG_STRLEN, 128 KiB: an env file can.)
    ['create --env-file', ['create', '--env-file', '@ENV_FILE', 'busybox'], 125, /^Error: --env\[0\]: "A=b+…" \(140002 bytes\) is longer than 131072 bytes$/],
    ['create --label', ['create', '--label', `a=${BIG}`, 'busybox'], 125, /^Error: --label\["a"\]: "b+…" \(120000 bytes\) is longer than 1024 bytes$/],
    ['create --hostname', ['create', '--hostname', BIG, 'busybox'], 125, /^Error: --hostname: "b+…" \(120000 bytes\) is longer than 64 bytes$/],
    ['create -w', ['create', '-w', `/${BIG}`, 'busybox'], 125, /^Error: --workdir: "\/b+…" \(120001 bytes\) is longer than 4096 bytes$/],
    ['inspect', ['inspect', BIG], 125, /^Error: no such object: "b+…" \(120000 bytes\)$/],
    ['pod create --hostname', ['pod', 'create', '--hostname', BIG], 125, /\(120000 bytes\) is longer than 64 bytes$/],
    ['tag', ['tag', BIG, 'x'], 125, /^Error: "b+…" \(120000 bytes\): image not known$/],
    ['untag', ['untag', BIG], 125, /^Error: "b+…" \(120000 bytes\): image not known$/],
    ['image inspect', ['image', 'inspect', BIG], 125, /^Error: inspecting object: "b+…" \(120000 bytes\): image not known$/],
    ['pod inspect', ['pod', 'inspect', BIG], 125, /^Error: inspecting object: no such pod "b+…" \(120000 bytes\)$/],
  ];
  for (const [what, args, code, line] of cases) {
    it(`${what}: exit ${code}, one short line quoting the input with its length`, async () => {
      const r = await env.run(args.map((a) => (a === '@ENV_FILE' ? ENV_FILE : a)));
      expect(r.code, r.stderr.slice(0, 300)).to.equal(code);
      const lines = r.stderr.split('\n').filter((l) => l !== '');
      expect(lines, r.stderr.slice(0, 300)).to.have.length(1);
      expect(Buffer.byteLength(lines[0])).to.be.below(1024);
      expect(lines[0]).to.match(line);
    });
  }
});
