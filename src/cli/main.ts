#!/usr/bin/env node
/**
 * `peapod`: the daemonless CLI in the manner of Podman. Each command is one
 * short process working on the store peapod-cri uses. The command table
 * (names and flags, Podman's) lives in commands.ts; a command's code is
 * loaded only when it runs, so `peapod version` and `peapod images` start
 * fast.
 */
import { runCli } from './commands';

runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`Error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(125);
  },
);
