/**
 * `peapod inspect [--type container|image|all] NAME...` and `container
 * inspect CONTAINER...`: a JSON array of Podman-shaped documents (a
 * container's: containers/view.ts inspectJson; an image's: as `image
 * inspect`), or a Go template per object. A name that is no container is
 * looked up as an image (unless --type container). Exit 125 after printing
 * the others when one is unknown.
 */
import * as fs from 'node:fs';
import type { CliContext } from '../context';
import { CliError, EXIT_ENGINE } from '../errors';
import { findContainer } from '../containers/lookup';
import { inspectJson } from '../containers/view';
import { formatTemplate, parseFormat, TemplateError } from '../output/template';
import { renderObject } from '../output/write';
import { quoteInput } from '../../common/bounded-text';

/** Flags of `inspect`. */
export interface InspectOptions {
  format?: string;
  type?: string;
}

/** Runs `inspect` (and `container inspect`, which has no --type). */
export async function run(ctx: CliContext, args: string[], o: InspectOptions): Promise<number> {
  const { readOciSpec } = require('../../runtime-service/container/exec-process') as typeof import('../../runtime-service/container/exec-process');
  const { SandboxStore } = require('../../runtime-service/sandbox/store') as typeof import('../../runtime-service/sandbox/store');
  const { readPid } = require('../../common/host/proc') as typeof import('../../common/host/proc');
  // `container inspect` has no --type: containers only; `inspect` defaults to all.
  const type = o.type ?? 'container';
  const store = ctx.containerStore();
  const sandboxes = new SandboxStore(ctx.stateDb(), ctx.config);
  const docs: unknown[] = [];
  const missing: string[] = [];
  for (const ref of args) {
    const rec = type === 'image' ? undefined : findContainer(store, ref);
    if (rec) {
      const sb = sandboxes.getAny(rec.sandboxId);
      const oci = readOciSpec(rec);
      if (oci && sb) {
        try {
          oci.hostname = fs.readFileSync(sb.hostnamePath, 'utf8').trim();
        } catch {
          /* gone */
        }
      }
      docs.push(inspectJson(rec, sb, oci, rec.state === 'exited' ? undefined : readPid(`${rec.bundle}/conmon.pid`)));
      continue;
    }
    const img = type === 'container' ? undefined : ctx.images.store.resolve(ref);
    if (img) {
      const { inspectView } = require('./image-inspect') as typeof import('./image-inspect');
      docs.push(inspectView(ctx.images.store, img));
      continue;
    }
    missing.push(ref);
  }
  const f = parseFormat(o.format);
  if (f.kind === 'template') {
    try {
      ctx.io.stdout.write(formatTemplate(f.template, docs));
    } catch (err) {
      if (err instanceof TemplateError) throw new CliError(`--format: ${err.message}`);
      throw err;
    }
  } else ctx.io.stdout.write(renderObject(undefined, docs));
  if (missing.length) throw new CliError(`no such object: ${missing.map((m) => quoteInput(m)).join(', ')}`, EXIT_ENGINE);
  return 0;
}
