/**
 * `peapod image inspect IMAGE...`: the stored image as JSON with Podman's
 * field names (Id, Digest, RepoTags, RepoDigests, Created, Config,
 * Architecture, Os, Size, GraphDriver, RootFS, Labels, ManifestType, User,
 * History, …), or a Go template applied to each.
 */
import * as path from 'node:path';
import type { ImageRecord, ImageStore } from '../../image-service/store/image-store';
import type { CliContext } from '../context';
import { shownInput } from '../../common/bounded-text';
import { CliError } from '../errors';
import { renderObject } from '../output/write';
import { formatTemplate, parseFormat, TemplateError } from '../output/template';

/** Podman's inspect view of one image. */
export function inspectView(store: ImageStore, img: ImageRecord): Record<string, unknown> {
  const { storedManifest } = require('../../image-service/image-manifest') as typeof import('../../image-service/image-manifest');
  let manifestType = '';
  try {
    manifestType = storedManifest(store, img).manifest.mediaType;
  } catch {
    // a damaged store: leave it empty
  }
  const c = img.config;
  const lower = [...img.chainIds].reverse().map((ch) => path.join(store.layerDir(ch), 'diff'));
  return {
    Id: img.id.replace(/^sha256:/, ''),
    Digest: img.manifestDigest,
    RepoTags: img.repoTags,
    RepoDigests: img.repoDigests,
    Parent: '',
    Comment: '',
    Created: c.created ?? new Date(img.created).toISOString(),
    Config: c.config ?? {},
    Version: '',
    Author: c.author ?? '',
    Architecture: c.architecture ?? '',
    Os: c.os ?? '',
    ...(c.variant ? { Variant: c.variant } : {}),
    Size: img.size,
    VirtualSize: img.size,
    GraphDriver: { Name: 'overlay', Data: { LowerDir: lower.join(':') } },
    RootFS: { Type: c.rootfs?.type ?? 'layers', Layers: c.rootfs?.diff_ids ?? [] },
    Labels: c.config?.Labels ?? null,
    Annotations: {},
    ManifestType: manifestType,
    User: c.config?.User ?? '',
    History: c.history ?? [],
    NamesHistory: img.repoTags,
  };
}

/** Runs `image inspect`: a JSON array, or the template per image. Exit 125 when an image is unknown (after printing the others). */
export async function run(ctx: CliContext, args: string[], o: { format?: string }): Promise<number> {
  const { store } = ctx.images;
  const views: Record<string, unknown>[] = [];
  const missing: string[] = [];
  for (const ref of args) {
    const img = store.resolve(ref);
    if (img) views.push(inspectView(store, img));
    else missing.push(ref);
  }
  const f = parseFormat(o.format);
  if (f.kind === 'template') {
    try {
      ctx.io.stdout.write(formatTemplate(f.template, views));
    } catch (err) {
      if (err instanceof TemplateError) throw new CliError(`--format: ${err.message}`);
      throw err;
    }
  } else ctx.io.stdout.write(renderObject(undefined, views));
  if (missing.length) throw new CliError(`inspecting object: ${missing.map((m) => `${shownInput(m)}: image not known`).join('; ')}`);
  return 0;
}
