/**
 * `peapod logs [-f] [--tail N] [-t] CONTAINER...`: what each container
 * printed, from its log file, byte for byte: stdout to stdout and stderr to
 * stderr; `-t` puts each line's RFC 3339 time in front; `--tail N` only the
 * last N lines; `-f` then follows the log until the container exits.
 */
import type { LogChunk } from '../../runtime-service/container/log-reader';
import type { CliContext } from '../context';
import { CliError, EXIT_ENGINE } from '../errors';
import { logFileOf } from '../containers/attach-io';
import { mustFindContainer } from '../containers/lookup';

/** Flags of `logs`. */
export interface LogsOptions {
  follow?: boolean;
  tail?: string;
  timestamps?: boolean;
}

/** Writes records to stdout/stderr, with a time in front of each line when asked. */
class LogWriter {
  private readonly atLineStart = { stdout: true, stderr: true };
  constructor(
    private readonly ctx: CliContext,
    private readonly timestamps: boolean,
  ) {}

  write(c: LogChunk): void | Promise<void> {
    const to = c.stream === 'stdout' ? this.ctx.io.stdout : this.ctx.io.stderr;
    const parts: Buffer[] = [];
    // conmon writes the zone as +00:00; Podman prints Go's RFC 3339 with Z.
    if (this.timestamps && this.atLineStart[c.stream]) parts.push(Buffer.from(`${c.time.replace(/\+00:00$/, 'Z')} `));
    parts.push(c.content);
    if (!c.partial) parts.push(Buffer.from('\n'));
    this.atLineStart[c.stream] = !c.partial;
    if (to.write(Buffer.concat(parts))) return;
    return new Promise((resolve) => to.once('drain', () => resolve()));
  }
}

/** Runs `logs`. */
export async function run(ctx: CliContext, args: string[], o: LogsOptions): Promise<number> {
  const { readLogFrom, tailLog } = require('../../runtime-service/container/log-reader') as typeof import('../../runtime-service/container/log-reader');
  const tail = Number(o.tail ?? '-1');
  if (!Number.isInteger(tail)) throw new CliError(`--tail "${o.tail}": expected a number of lines`, EXIT_ENGINE);
  const store = ctx.containerStore();
  const recs = args.map((ref) => mustFindContainer(store, ref));
  for (const rec of recs) {
    const file = logFileOf(rec);
    const out = new LogWriter(ctx, Boolean(o.timestamps));
    const fs = require('node:fs') as typeof import('node:fs');
    let offset = 0;
    if (tail >= 0) {
      for (const c of tailLog(file, tail)) await out.write(c);
      try {
        offset = fs.statSync(file).size;
      } catch {
        offset = 0;
      }
    } else {
      for (;;) {
        const got = readLogFrom(file, offset);
        for (const c of got.chunks) await out.write(c);
        if (got.offset === offset) break;
        offset = got.offset;
      }
    }
    if (o.follow) {
      const { followLog } = require('../containers/log-follow') as typeof import('../containers/log-follow');
      const { containerDirs } = require('../../runtime-service/container/paths') as typeof import('../../runtime-service/container/paths');
      const { exitFilePath } = require('../../conmon/driver') as typeof import('../../conmon/driver');
      const now = store.find(rec.id);
      if (now && now.state !== 'exited') {
        await followLog({ file, offset, exitFile: exitFilePath(containerDirs(ctx.config.root, ctx.config.runroot).exits, rec.id), write: (c) => out.write(c) });
      }
    }
  }
  return 0;
}
