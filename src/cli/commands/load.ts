/**
 * `peapod load [-i FILE]`: loads images from an oci-archive or a
 * docker-archive (optionally gzip/zstd-compressed) read from FILE or stdin,
 * verified as a registry pull is (see image-service/archive/load.ts), and
 * prints `Loaded image: NAME` (or the ID of an unnamed image) for each.
 */
import * as fs from 'node:fs';
import type { Readable } from 'node:stream';
import type { CliContext } from '../context';
import { CliError } from '../errors';

/** Runs `load`. @throws CliError (125) for an unreadable, unsafe or mismatching archive. */
export async function run(ctx: CliContext, _args: string[], o: { input?: string; quiet?: boolean }): Promise<number> {
  const { loadArchive } = require('../../image-service/archive/load') as typeof import('../../image-service/archive/load');
  if (!o.input && ctx.io.stdin.isTTY) throw new CliError('cannot read from terminal, use command-line redirection or the --input flag');
  let input: Readable;
  if (o.input) {
    try {
      fs.accessSync(o.input, fs.constants.R_OK);
    } catch (err) {
      throw new CliError(`${o.input}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    input = fs.createReadStream(o.input);
  } else input = ctx.io.stdin as Readable;
  const { store } = ctx.images;
  const err = ctx.io.stderr;
  try {
    const loaded = await loadArchive(store, input, {
      limits: { idleTimeoutMs: ctx.config.image.idle_timeout * 1000 },
      onProgress: o.quiet
        ? undefined
        : (p) => {
            if (p.kind === 'blob') err.write(`Copying blob ${p.digest}${p.exists ? ' skipped: already exists' : ''}\n`);
            else if (p.kind === 'config') err.write(`Copying config ${p.digest}\n`);
            else err.write('Writing manifest to image destination\n');
          },
    });
    for (const l of loaded) {
      if (l.names.length === 0) ctx.io.stdout.write(`Loaded image: ${l.id}\n`);
      for (const n of l.names) ctx.io.stdout.write(`Loaded image: ${n}\n`);
    }
  } catch (e) {
    throw new CliError(`loading the archive: ${(e as Error).message}`);
  } finally {
    input.destroy();
  }
  return 0;
}
