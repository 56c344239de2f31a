/**
 * `peapod save IMAGE... [-o FILE]`: writes the images as an OCI archive
 * (oci-archive: an OCI image layout in a tar, blobs exactly as stored) to
 * FILE, or to stdout when it is not a terminal. A file is written under a
 * temp name and renamed when complete, so a failed save leaves nothing.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CliContext } from '../context';
import { shownInput } from '../../common/bounded-text';
import { CliError } from '../errors';

/** Flags of `save`. */
export interface SaveOptions {
  output?: string;
  format?: string;
  quiet?: boolean;
}

/** Runs `save`. @throws CliError (125) for an unknown image, a terminal stdout or a damaged store. */
export async function run(ctx: CliContext, args: string[], o: SaveOptions): Promise<number> {
  const { saveOciArchive } = require('../../image-service/archive/save') as typeof import('../../image-service/archive/save');
  const { tagNamedBy } = require('../../image-service/image-names') as typeof import('../../image-service/image-names');
  if ((o.format ?? 'oci-archive') !== 'oci-archive') throw new CliError(`--format ${o.format}: only oci-archive is supported`);
  if (!o.output && ctx.io.stdout.isTTY) throw new CliError('refusing to save to terminal. Use -o flag or redirect');
  const { store } = ctx.images;
  const items = args.map((ref) => {
    const image = store.resolve(ref);
    if (!image) throw new CliError(`${shownInput(ref)}: image not known`);
    return { image, name: tagNamedBy(image, ref) ?? (image.repoTags.length === 1 && !/^(sha256:)?[0-9a-f]{3,64}$/.test(ref) ? image.repoTags[0] : undefined) };
  });
  const onBlob = o.quiet ? undefined : (kind: 'blob' | 'config' | 'manifest', digest: string): void => void ctx.io.stderr.write(kind === 'manifest' ? 'Writing manifest to image destination\n' : `Copying ${kind} ${digest}\n`);
  if (!o.output) {
    await saveOciArchive(store, items, ctx.io.stdout as NodeJS.WritableStream as import('node:stream').Writable, onBlob, false);
    return 0;
  }
  const dest = path.resolve(o.output);
  const tmp = path.join(path.dirname(dest), `.${path.basename(dest)}.${crypto.randomBytes(4).toString('hex')}.tmp`);
  try {
    await saveOciArchive(store, items, fs.createWriteStream(tmp, { mode: 0o644 }), onBlob);
    fs.renameSync(tmp, dest);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw new CliError(`saving to ${dest}: ${(err as Error).message}`);
  }
  return 0;
}
