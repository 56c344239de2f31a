/**
 * `peapod`: the daemonless CLI in the manner of Podman. Each command is one
 * short process working on the store peapod-cri uses. The command table
 * (names and flags, Podman's) lives in commands.ts; a command's code is
 * loaded only when it runs, so `peapod version` and `peapod images` start
 * fast.
 */
import { boundMessage } from '../common/bounded-text';
import { runCli } from './commands';

// process.stdin is a getter that opens a stream on fd 0 (a few ms): only the
// commands that read stdin (run -i, exec -i, load, login) touch it.
const io = {
  stdout: process.stdout,
  stderr: process.stderr,
  get stdin(): NodeJS.ReadStream {
    return process.stdin;
  },
};

runCli(process.argv.slice(2), io).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`Error: ${boundMessage(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
    process.exit(125);
  },
);
